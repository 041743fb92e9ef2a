"""The client's address, as every limit and record of the app sees it."""

from __future__ import annotations

import ipaddress

from .conf import app_settings

__all__ = ["client_ip"]


def client_ip(request) -> str | None:
    """The caller's address: ``REMOTE_ADDR``, or the entry ``NUM_PROXIES`` from the right of X-Forwarded-For.

    As DRF's ``NUM_PROXIES``, except that unset means 0: trusting the whole header would let any client
    pick its own address, and with it a fresh rate-limit bucket per request.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = app_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    candidate = addresses[-min(proxies, len(addresses))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
