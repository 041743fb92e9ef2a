"""Signing keys: which key signs, which keys verify, and the JWKS that publishes them.

Keys come from ``SIGNING_KEYS`` (PEM strings; the first signs) or, when that is empty, from the
``SigningKey`` table, where one key of ``SIGNING_ALGORITHM`` is generated on first use. Three kinds of key
sign: RSA (RS256), EC P-256 (ES256) and Ed25519 (EdDSA). A key's algorithm is read from the key itself,
never from a setting, so a ring may mix them: that is how a site moves from one algorithm to another
(set ``SIGNING_ALGORITHM``, rotate; the old key keeps verifying what it signed).

The key ring is cached in the process: validating a session JWT must not query the database. Each
process reloads it at least every ``KEY_REFRESH_INTERVAL`` (a key deleted from the database, or removed
from the settings of another process, is refused everywhere within it), and at once on a JWT whose
``kid`` it does not know (another process may have rotated), at most once per ``RELOAD_INTERVAL``, so
forged kids cannot turn every request into a query.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .conf import app_settings, on_reload
from .models import SigningKey

__all__ = [
    "ALGORITHMS", "Key", "algorithm_of", "get_signing_key", "get_verification_key", "jwks", "generate_key",
    "clear_cache", "rotate", "prune", "published_until", "from_settings", "load_pem", "clock",
]

# The algorithms a key can sign with, and the members of its JWK that its RFC 7638 thumbprint covers.
ALGORITHMS = ("ES256", "EdDSA", "RS256")
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
MIN_RSA_KEY_SIZE = 2048

RELOAD_INTERVAL = 5.0
# How long a rotated-in key is published before it signs.
ACTIVATION_DELAY = timedelta(seconds=2 * RELOAD_INTERVAL)
# Clock skew allowed when verifying (jwts.LEEWAY_SECONDS), rounded up.
VERIFY_LEEWAY = timedelta(seconds=10)

# The key ring's clock (seconds, only differences count). Tests replace it to step over the refresh interval.
clock: Callable[[], float] = time.monotonic


def algorithm_of(private_key: Any) -> str | None:
    """The JWS algorithm this key signs with, or None for a key we do not sign with (P-384, RSA-1024...)."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return "ES256" if isinstance(private_key.curve, ec.SECP256R1) else None
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256" if private_key.key_size >= MIN_RSA_KEY_SIZE else None
    return None


def _signing_algorithm(private_key: Any) -> str:
    algorithm = algorithm_of(private_key)
    if algorithm is None:
        raise ImproperlyConfigured(
            f"A {type(private_key).__name__} cannot sign JWTs here: use RSA ({MIN_RSA_KEY_SIZE} bits or more), "
            "EC P-256 or Ed25519."
        )
    return algorithm


def _public_jwk(public_key: Any) -> dict[str, str]:
    """The members that identify a public key (``kty`` and its numbers), as its RFC 7638 thumbprint takes them."""
    for family in (RSAAlgorithm, ECAlgorithm, OKPAlgorithm):
        try:
            jwk = family.to_jwk(public_key, as_dict=True)
        except Exception:
            continue
        return {member: jwk[member] for member in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    raise ValueError(f"unsupported key type {type(public_key).__name__}")


def thumbprint(public_key: Any) -> str:
    """RFC 7638 thumbprint: a kid that is stable for a key wherever it is configured."""
    canonical = json.dumps(_public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    private_key: Any

    @classmethod
    def of(cls, private_key: Any) -> Key:
        return cls(thumbprint(private_key.public_key()), _signing_algorithm(private_key), private_key)

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        return {**_public_jwk(self.public_key), "alg": self.algorithm, "kid": self.kid, "use": "sig"}


def load_pem(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _new_private_key(algorithm: str) -> Any:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=app_settings.RSA_KEY_SIZE)
    raise ImproperlyConfigured(f"SIGNING_ALGORITHM {algorithm!r} is not one of {', '.join(ALGORITHMS)}.")


def generate_key() -> SigningKey:
    """A new key of ``SIGNING_ALGORITHM``, stored (its kid is its thumbprint)."""
    key = Key.of(_new_private_key(app_settings.SIGNING_ALGORITHM))
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey.objects.create(kid=key.kid, algorithm=key.algorithm, private_key_pem=pem)


class _KeyRing:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self._signing: Key | None = None
        self._published: dict[str, Key] = {}
        self._loaded_at = self._stale_at = 0.0

    def _load(self) -> None:
        configured = app_settings.SIGNING_KEYS
        keys = [Key.of(load_pem(pem)) for pem in configured] if configured else self._load_from_database()
        self._signing = keys[0]
        self._published = {key.kid: key for key in keys}
        self._loaded_at = clock()
        self._stale_at = self._loaded_at + app_settings.KEY_REFRESH_INTERVAL.total_seconds()

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
        # The kid is the row's (a thumbprint when generated here); the algorithm is always the key's own.
        return [Key(row.kid, _signing_algorithm(pk), pk) for pk, row in
                ((load_pem(row.private_key_pem), row) for row in ordered)]

    def _fresh(self) -> None:
        """Reload when nothing is loaded yet or the ring is older than KEY_REFRESH_INTERVAL. Lock held."""
        if self._signing is None or clock() > self._stale_at:
            self._load()

    def signing_key(self) -> Key:
        with self._lock:
            self._fresh()
            assert self._signing is not None
            return self._signing

    def verification_key(self, kid: str) -> Key | None:
        with self._lock:
            self._fresh()
            key = self._published.get(kid)
            if key is None and clock() - self._loaded_at > RELOAD_INTERVAL:
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
    return longest + ACTIVATION_DELAY + app_settings.KEY_REFRESH_INTERVAL + VERIFY_LEEWAY


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
