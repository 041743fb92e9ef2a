"""Encrypts a link for the trip through the task queue.

A queued delivery must carry the link, token included, to the worker; the task backend stores its arguments
(the ORM backend in a table). Sealing them with AES-GCM under a key derived from ``SECRET_KEY`` keeps the
promise that the database holds no usable token, only its hash.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["seal", "unseal"]

_INFO = b"magiclink_auth.sealing"


def _keys() -> list[bytes]:
    return _derive((settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])))


@lru_cache(maxsize=8)
def _derive(secrets: tuple) -> list[bytes]:
    """One HKDF per secret per process, not per link; keyed by the secrets, so a changed setting is seen."""
    return [HKDF(hashes.SHA256(), length=32, salt=None, info=_INFO).derive(str(s).encode()) for s in secrets]


def seal(text: str) -> str:
    nonce = os.urandom(12)
    box = AESGCM(_keys()[0]).encrypt(nonce, text.encode(), _INFO)
    return base64.urlsafe_b64encode(nonce + box).decode()


def unseal(sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    for key in _keys():
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], _INFO).decode()
        except Exception:  # InvalidTag: try the next fallback key
            continue
    raise ValueError("sealed value does not open with SECRET_KEY or its fallbacks")
