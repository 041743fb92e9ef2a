"""Session (``drn: DS``) and refresh (``drn: DSR``) JWTs: signing and verification.

The algorithm is the server key's, never the token's: the ``alg`` header is only compared with it, so
``none`` and HS* tokens (signed with the public key as an HMAC secret) are refused (RFC 8725). A session
JWT is never accepted where a refresh JWT is expected, or the reverse: ``drn`` is checked on every decode.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from functools import lru_cache
from typing import Any

import jwt

from .conf import app_settings, on_reload
from .keys import get_signing_key, get_verification_key

__all__ = ["SESSION", "REFRESH", "RESERVED_CLAIMS", "encode", "decode", "InvalidJWT"]

SESSION = "DS"
REFRESH = "DSR"
# Claims the server sets: a custom claim may not override them (roles, permissions and tenants come from
# the adapter, so a login request cannot grant itself a role).
RESERVED_CLAIMS = frozenset({
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "drn", "amr", "su", "sid",
    "roles", "permissions", "tenants", "dct",
})
LEEWAY_SECONDS = 5


class InvalidJWT(Exception):
    """The token is malformed, badly signed, expired, or of the other kind. Callers map it to an error code."""


def encode(kind: str, claims: dict[str, Any], *, issued_at: datetime, lifetime) -> str:
    key = get_signing_key()
    payload = {
        **claims,
        "iss": app_settings.PROJECT_ID,
        "drn": kind,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + lifetime).timestamp()),
    }
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


def decode(token: str, kind: str) -> dict[str, Any]:
    """The claims of a valid token of ``kind``; raises ``InvalidJWT`` otherwise.

    A session JWT is presented on every request of its session, and checking its RSA signature costs
    more than the rest of a small request, so the claims of session JWTs already verified are kept,
    keyed by the exact token. For the same bytes only time and the key ring can change the answer, so
    the expiry and the key are checked again on every call; tokens that fail are never kept, and the
    memory is emptied when the settings change (``on_reload``). Each caller gets claims of its own, down to
    the lists and dicts inside (``roles``, ``tenants``): a view that edits them changes nothing for the next
    request with the same token.
    """
    if kind == SESSION and isinstance(token, str):
        kid, claims, containers = _verified_session(token)
        if claims["exp"] + LEEWAY_SECONDS <= time.time():
            raise InvalidJWT("ExpiredSignatureError")
        if get_verification_key(kid) is None:
            raise InvalidJWT("unknown key or algorithm")
        # A copy down to the lists and dicts, sharing only what cannot change (strings, numbers).
        mine = dict(claims)
        for name in containers:
            mine[name] = _copy(claims[name])
        return mine
    return _decode(token, kind)


@lru_cache(maxsize=4096)
def _verified_session(token: str) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """The kid and claims of a valid session JWT, and the names of its claims that hold a list or dict."""
    claims = _decode(token, SESSION)
    containers = tuple(name for name, value in claims.items() if isinstance(value, list | dict))
    return str(jwt.get_unverified_header(token).get("kid", "")), claims, containers


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


@on_reload
def clear_cache() -> None:
    _verified_session.cache_clear()


def _decode(token: str, kind: str) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16 * 1024:
        raise InvalidJWT("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidJWT("malformed header") from exc
    key = get_verification_key(str(header.get("kid", "")))
    if key is None or header.get("alg") != key.algorithm:
        raise InvalidJWT("unknown key or algorithm")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[key.algorithm],
            issuer=app_settings.PROJECT_ID,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "iss"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidJWT(type(exc).__name__) from exc
    if claims.get("drn") != kind:
        raise InvalidJWT("wrong token kind")
    if "aud" in claims and claims["aud"] != app_settings.PROJECT_ID:
        raise InvalidJWT("wrong audience")
    return claims


def new_jti() -> str:
    return secrets.token_urlsafe(16)
