"""Verified session JWTs are remembered (bench/session_validation.py): the memory must never widen what is
accepted. A remembered token still expires, still dies with its key, and never vouches for other bytes."""

import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from magiclink_auth import jwts, keys
from magiclink_auth.models import SigningKey

pytestmark = pytest.mark.django_db


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_a_session_jwt_accepted_before_is_refused_once_expired():
    keys.get_signing_key()  # generating the key takes a while; not on the token's clock
    # Valid for two more seconds, leeway included.
    issued_at = timezone.now() - timedelta(minutes=10)
    lifetime = timedelta(minutes=10, seconds=2 - jwts.LEEWAY_SECONDS)
    session_jwt = jwts.encode(jwts.SESSION, {"sub": "1"}, issued_at=issued_at, lifetime=lifetime)
    assert jwts.decode(session_jwt, jwts.SESSION)["sub"] == "1"
    assert jwts.decode(session_jwt, jwts.SESSION)["sub"] == "1"

    time.sleep(2.5)
    with pytest.raises(jwts.InvalidJWT):
        jwts.decode(session_jwt, jwts.SESSION)


def test_a_session_jwt_accepted_before_is_refused_once_its_key_is_removed(signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "SIGNING_KEYS": [_pem()]}
    session_jwt = signed_up()["sessionJwt"]
    jwts.decode(session_jwt, jwts.SESSION)

    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "SIGNING_KEYS": [_pem()]}
    with pytest.raises(jwts.InvalidJWT):
        jwts.decode(session_jwt, jwts.SESSION)


def test_a_remembered_session_jwt_vouches_for_nothing_else(signed_up):
    session_jwt = signed_up()["sessionJwt"]
    jwts.decode(session_jwt, jwts.SESSION)
    header, payload, signature = session_jwt.split(".")
    with pytest.raises(jwts.InvalidJWT):
        jwts.decode(f"{header}.{payload}x.{signature}", jwts.SESSION)
    with pytest.raises(jwts.InvalidJWT):
        jwts.decode(session_jwt, jwts.REFRESH)


def test_callers_cannot_change_what_is_remembered(signed_up):
    session_jwt = signed_up()["sessionJwt"]
    jwts.decode(session_jwt, jwts.SESSION)["sub"] = "someone-else"
    assert jwts.decode(session_jwt, jwts.SESSION)["sub"] != "someone-else"


def test_a_remembered_session_jwt_dies_with_its_key_in_the_database(signed_up):
    session_jwt = signed_up()["sessionJwt"]
    jwts.decode(session_jwt, jwts.SESSION)

    SigningKey.objects.all().delete()
    keys.clear_cache()  # what another process sees once its key ring reloads
    with pytest.raises(jwts.InvalidJWT):
        jwts.decode(session_jwt, jwts.SESSION)
