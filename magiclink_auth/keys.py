"""Signing keys: which key signs, which keys verify, and the JWKS that publishes them.

Keys come from ``SIGNING_KEYS`` (PEM strings; the first signs) or, when that is empty, from the
``SigningKey`` table, where one RSA key is generated on first use. The key ring is cached in the process:
validating a session JWT must not query the database. A JWT whose ``kid`` is unknown triggers one reload
(another process may have rotated), at most once per ``RELOAD_INTERVAL``, so forged kids cannot turn every
request into a query.

Rotation (``rotate``, ``manage.py magiclink_keys rotate``) adds a key and retires the others: a new key is
published at once and signs after ``ACTIVATION_DELAY``, so every process knows it before it meets a token it
signed; retired keys verify, and stay published, until every token they signed has expired; ``prune`` then
deletes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone

from .conf import app_settings, on_reload
from .models import SigningKey

__all__ = [
    "Key", "get_signing_key", "get_verification_key", "jwks", "generate_key", "clear_cache",
    "rotate", "prune", "published_until", "from_settings",
]

RELOAD_INTERVAL = 5.0
# A process picks up a key rotated by another process within this many seconds.
SIGNING_KEY_TTL = 60.0
# How long a rotated-in key is published before it signs.
ACTIVATION_DELAY = timedelta(seconds=2 * RELOAD_INTERVAL)
# Clock skew allowed when verifying (jwts.LEEWAY_SECONDS), rounded up.
VERIFY_LEEWAY = timedelta(seconds=10)


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    private_key: Any

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "alg": self.algorithm,
            "kid": self.kid,
            "use": "sig",
            "n": _b64uint(numbers.n),
            "e": _b64uint(numbers.e),
        }


def _b64uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _thumbprint_kid(private_key: Any) -> str:
    """RFC 7638 thumbprint: a kid that is stable for a key wherever it is configured."""
    numbers = private_key.public_key().public_numbers()
    canonical = json.dumps({"e": _b64uint(numbers.e), "kty": "RSA", "n": _b64uint(numbers.n)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _load_pem(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def generate_key() -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=app_settings.RSA_KEY_SIZE)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey.objects.create(
        kid=_thumbprint_kid(private_key), algorithm=app_settings.SIGNING_ALGORITHM, private_key_pem=pem
    )


class _KeyRing:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self._signing: Key | None = None
        self._published: dict[str, Key] = {}
        self._loaded_at = 0.0

    def _load(self) -> None:
        configured = app_settings.SIGNING_KEYS
        if configured:
            keys = [
                Key(_thumbprint_kid(pk), app_settings.SIGNING_ALGORITHM, pk) for pk in map(_load_pem, configured)
            ]
        else:
            keys = self._load_from_database()
        self._signing = keys[0]
        self._published = {key.kid: key for key in keys}
        self._loaded_at = time.monotonic()

    def _load_from_database(self) -> list[Key]:
        rows = list(SigningKey.objects.exclude(retired_at__lt=_retirement_horizon()))
        if not any(row.retired_at is None for row in rows):
            with transaction.atomic():
                rows.insert(0, generate_key())
        active = [row for row in rows if row.retired_at is None]
        retired = sorted((row for row in rows if row.retired_at is not None), key=lambda r: r.retired_at,
                         reverse=True)
        # A freshly rotated key signs only once every process can have loaded it (they reload on an unknown
        # kid at most every RELOAD_INTERVAL); until then the key it replaced, still published, keeps signing.
        settled = timezone.now() - ACTIVATION_DELAY
        just_retired = [row for row in retired[:1] if row.retired_at > settled]
        candidates = [row for row in active if row.created_at <= settled] or just_retired or active
        signing = candidates[0]
        ordered = [signing, *(row for row in active + retired if row is not signing)]
        return [Key(row.kid, row.algorithm, _load_pem(row.private_key_pem)) for row in ordered]

    def signing_key(self) -> Key:
        with self._lock:
            if self._signing is None or time.monotonic() - self._loaded_at > SIGNING_KEY_TTL:
                self._load()
            assert self._signing is not None
            return self._signing

    def verification_key(self, kid: str) -> Key | None:
        with self._lock:
            if not self._published:
                self._load()
            key = self._published.get(kid)
            if key is None and time.monotonic() - self._loaded_at > RELOAD_INTERVAL:
                self._load()
                key = self._published.get(kid)
            return key

    def published(self) -> list[Key]:
        with self._lock:
            self._load()
            return list(self._published.values())


_ring = _KeyRing()


def get_signing_key() -> Key:
    return _ring.signing_key()


def get_verification_key(kid: str) -> Key | None:
    return _ring.verification_key(kid)


def jwks() -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.jwk() for key in _ring.published()]}


@on_reload
def clear_cache() -> None:
    _ring.clear()


# Rotation ------------------------------------------------------------------------------------------------

def _publication_window() -> timedelta:
    """How long a key retired now may still have live tokens: the longest token lifetime (refresh), plus
    the time it keeps signing while its successor activates and while processes keep it cached, plus
    verification leeway."""
    longest = max(app_settings.REFRESH_LIFETIME, app_settings.SESSION_LIFETIME)
    return longest + ACTIVATION_DELAY + timedelta(seconds=SIGNING_KEY_TTL) + VERIFY_LEEWAY


def _retirement_horizon() -> datetime:
    """Keys retired before this instant signed nothing that is still valid."""
    return timezone.now() - _publication_window()


def published_until(key: SigningKey) -> datetime | None:
    """When a retired key stops being published (None: active, published indefinitely)."""
    return None if key.retired_at is None else key.retired_at + _publication_window()


def from_settings() -> bool:
    return bool(app_settings.SIGNING_KEYS)


def rotate() -> SigningKey:
    """Add a new active key and retire the others. Retired keys keep verifying (and stay in the JWKS)
    until every token they signed has expired, so nobody is logged out."""
    with transaction.atomic():
        now = timezone.now()
        # Lock the active rows so two concurrent rotations cannot both leave their own key active.
        active = list(
            SigningKey.objects.select_for_update().filter(retired_at=None).values_list("pk", flat=True)
        )
        key = generate_key()
        SigningKey.objects.filter(pk__in=active).update(retired_at=now)
    clear_cache()
    return key


def prune() -> list[str]:
    """Delete retired keys whose every token has expired. Returns their kids."""
    with transaction.atomic():
        expired = SigningKey.objects.filter(retired_at__lt=_retirement_horizon())
        kids = list(expired.values_list("kid", flat=True))
        expired.delete()
    clear_cache()
    return kids
