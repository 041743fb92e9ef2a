"""Verified session JWTs are remembered (bench/session_validation.py): the memory must never widen what is
accepted. A remembered token still expires, still dies with its key, and never vouches for other bytes."""

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.utils import timezone

from magiclink_auth import jwts, keys
from magiclink_auth.middleware import MagicLinkSessionMiddleware
from magiclink_auth.models import SigningKey

pytestmark = pytest.mark.django_db


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_a_session_jwt_accepted_before_is_refused_once_expired(clock):
    keys.get_signing_key()  # generating the key takes a while; not on the token's clock
    # Valid for two more seconds, leeway included.
    issued_at = timezone.now() - timedelta(minutes=10)
    lifetime = timedelta(minutes=10, seconds=2 - jwts.LEEWAY_SECONDS)
    session_jwt = jwts.encode(jwts.SESSION, {"sub": "1"}, issued_at=issued_at, lifetime=lifetime)
    assert jwts.decode(session_jwt, jwts.SESSION)["sub"] == "1"
    assert jwts.decode(session_jwt, jwts.SESSION)["sub"] == "1"

    clock.shift(2.5)
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


class Clock:
    """The key ring's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ring_clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(keys, "clock", clock)
    keys.clear_cache()
    return clock


def test_a_deleted_key_is_refused_everywhere_within_the_refresh_interval(signed_up, ring_clock, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "KEY_REFRESH_INTERVAL": timedelta(seconds=30)}
    session_jwt = signed_up()["sessionJwt"]
    assert jwts.decode(session_jwt, jwts.SESSION)

    # Another process (an admin, a script) deletes the key outright instead of retiring it. This process
    # is not told: its ring is only as old as the interval allows.
    SigningKey.objects.all().delete()
    ring_clock.now += 29
    assert jwts.decode(session_jwt, jwts.SESSION)
    ring_clock.now += 2
    with pytest.raises(jwts.InvalidJWT):
        jwts.decode(session_jwt, jwts.SESSION)


def test_the_middleware_and_drf_refuse_a_deleted_keys_session_after_the_interval(
    client, signed_up, ring_clock, settings
):
    session_jwt = signed_up()["sessionJwt"]
    client.cookies.clear()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {session_jwt}"}
    with override_settings(ROOT_URLCONF="tests.drf_urls"):
        assert client.get("/api/whoami", **bearer).status_code == 200
        SigningKey.objects.all().delete()
        ring_clock.now += keys.app_settings.KEY_REFRESH_INTERVAL.total_seconds() + 1
        response = client.get("/api/whoami", **bearer)
    assert response.status_code == 401


def test_a_view_editing_the_claims_changes_nothing_for_the_next_request(signed_up):
    user_id = signed_up()["user"]["userId"]
    session_jwt = jwts.encode(
        jwts.SESSION, {"sub": user_id, "roles": ["editors"], "tenants": {"t1": {"roles": ["viewer"]}}},
        issued_at=timezone.now(), lifetime=timedelta(minutes=5),
    )
    seen = []

    def greedy_view(request):
        claims = request.magiclink_claims
        seen.append((list(claims["roles"]), list(claims["tenants"]["t1"]["roles"])))
        claims["roles"].append("admin")
        claims["tenants"]["t1"]["roles"].append("owner")
        claims["tenants"]["t2"] = {"roles": ["owner"]}
        return HttpResponse()

    for _ in range(2):
        MagicLinkSessionMiddleware(greedy_view)(RequestFactory().get("/", HTTP_COOKIE=f"DS={session_jwt}"))
    assert seen == [(["editors"], ["viewer"]), (["editors"], ["viewer"])]
    assert jwts.decode(session_jwt, jwts.SESSION)["tenants"] == {"t1": {"roles": ["viewer"]}}
