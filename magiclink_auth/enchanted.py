"""Enchanted links: one message, several links each labelled with a number; the start call's answer
(``linkId``) tells the waiting side which number to pick.

Picking the link whose number the waiting side shows is the number-matching confirmation: it completes the
session for that side's ``pendingRef`` (the same pending references as the cross-device hand-over). Picking
any other kills the whole set, the right link included, so a person who did not ask, or an attacker's
guess, has one try at 1 in ``CHOICES`` and no second one. Opening a link by GET or HEAD (mail scanners,
previews) does nothing: only a verify, which is a POST, acts.

Only the right link's token is stored (sealed) for delivery; the other links' tokens are derived from it at
delivery time (HMAC-SHA256 keyed by the right token), and only their hashes are kept, in ``EnchantedDecoy``.
Knowing a decoy token tells nothing of the right one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import transaction
from django.utils import timezone

from . import signals
from .errors import ErrorKey, MagicLinkError
from .models import BrowserLogin, EnchantedDecoy, PendingLink
from .redirects import add_token
from .tokens import hash_token

__all__ = ["CHOICES", "OPTION", "new_numbers", "add_decoys", "link_number", "message_choices", "pick",
           "is_killed", "number_of", "killed_ref"]

CHOICES = 3
# Where a link's numbers live in its stored login options: {"numbers": [..], "number": <the right one>}.
OPTION = "enchanted"


def new_numbers() -> dict[str, Any]:
    """``CHOICES`` distinct two-digit numbers, shown in ascending order, one of them (at random) right."""
    rng = secrets.SystemRandom()
    numbers = sorted(rng.sample(range(10, 100), CHOICES))
    return {"numbers": numbers, "number": rng.choice(numbers)}


def _decoy_token(token: str, number: int) -> str:
    digest = hmac.new(token.encode(), f"magiclink_auth.enchanted:{number}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def add_decoys(link: PendingLink, token: str) -> None:
    choice = link.login_options[OPTION]
    EnchantedDecoy.objects.bulk_create([
        EnchantedDecoy(link=link, token_hash=hash_token(_decoy_token(token, number)), number=number)
        for number in choice["numbers"] if number != choice["number"]
    ])


def link_number(link: PendingLink | None) -> str:
    """The number the waiting side shows (the start call's ``linkId``)."""
    return str(link.login_options[OPTION]["number"]) if link is not None else str(new_numbers()["number"])


def _token_of(url: str) -> str:
    parts = urlsplit(url)
    return (parse_qs(parts.query).get("t") or parse_qs(parts.fragment).get("t") or [""])[0]


def message_choices(link: PendingLink, url: str) -> list[dict[str, Any]]:
    """Every link of the message, ``{"number", "url"}`` in the order shown: the right link's URL is ``url``
    (unsealed for delivery), the others are derived from its token."""
    choice = link.login_options[OPTION]
    token = _token_of(url)
    return [{"number": number,
             "url": url if number == choice["number"] else add_token(link.redirect_uri, _decoy_token(token, number))}
            for number in choice["numbers"]]


def pick(token: str, request=None) -> None:
    """Before a verify: if ``token`` is a link other than the right one, kill the set and refuse."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return
    decoy = EnchantedDecoy.objects.select_related("link").filter(token_hash=hash_token(token)).first()
    if decoy is None:
        return
    now = timezone.now()
    with transaction.atomic():
        EnchantedDecoy.objects.filter(pk=decoy.pk, picked_at=None).update(picked_at=now)
        PendingLink.objects.filter(pk=decoy.link_id, consumed_at=None, voided_at=None).update(voided_at=now)
    transaction.on_commit(lambda: signals.verify_refused.send(
        sender=PendingLink, reason=ErrorKey.ENCHANTED_WRONG_LINK, link=decoy.link, request=request))
    raise MagicLinkError(ErrorKey.ENCHANTED_WRONG_LINK)


def is_killed(link: PendingLink | None) -> bool:
    """True when a wrong pick voided this link's set."""
    return link is not None and EnchantedDecoy.objects.filter(link=link, picked_at__isnull=False).exists()


def number_of(token: str) -> str | None:
    """The number a link of a live set is labelled with (what the person picked), or None."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    token_hash = hash_token(token)
    now = timezone.now()
    live = {"consumed_at": None, "voided_at": None, "expires_at__gt": now}
    decoy = EnchantedDecoy.objects.filter(token_hash=token_hash, **{f"link__{k}": v for k, v in live.items()}).first()
    if decoy is not None:
        return str(decoy.number)
    link = PendingLink.objects.filter(token_hash=token_hash, **live).first()
    return link_number(link) if link is not None and OPTION in link.login_options else None


def killed_ref(pending_ref: str) -> bool:
    """True when the pending reference waits on a set a wrong pick killed."""
    row = BrowserLogin.objects.select_related("link").filter(pending_ref_hash=hash_token(pending_ref)).first()
    return row is not None and is_killed(row.link)
