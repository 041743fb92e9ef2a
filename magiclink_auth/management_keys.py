"""Management keys: made and revoked in the admin or with ``manage.py magiclink_management_keys``.

A key is 256 random bits shown once; only its SHA-256 is stored, so a database leak yields no usable key.
Lookup is an indexed equality on the hash (no comparison timing to protect, as for link tokens).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from .errors import ErrorKey, MagicLinkError
from .models import ManagementKey
from .tokens import hash_token

__all__ = ["PREFIX", "create_key", "revoke", "authenticate"]

PREFIX = "mk_"
# last_used_at is written at most this often per key: a busy test suite need not write on every call.
USE_RESOLUTION = timedelta(minutes=1)


def create_key(name: str) -> tuple[ManagementKey, str]:
    """Store a new key and return it with the key itself, which exists nowhere else from here on."""
    raw = PREFIX + secrets.token_urlsafe(32)
    return ManagementKey.objects.create(name=name[:100], key_hash=hash_token(raw), hint=raw[-4:]), raw


def revoke(key: ManagementKey) -> None:
    ManagementKey.objects.filter(pk=key.pk, revoked_at=None).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])


def authenticate(raw: str | None) -> ManagementKey:
    """The live key ``raw`` is, or E011310 (none given) / E011311 (unknown or revoked)."""
    if not raw:
        raise MagicLinkError(ErrorKey.MANAGEMENT_KEY_MISSING)
    if len(raw) > 128:
        raise MagicLinkError(ErrorKey.MANAGEMENT_KEY_INVALID)
    key = ManagementKey.objects.filter(key_hash=hash_token(raw), revoked_at=None).first()
    if key is None:
        raise MagicLinkError(ErrorKey.MANAGEMENT_KEY_INVALID)
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > USE_RESOLUTION:
        ManagementKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
