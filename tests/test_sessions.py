"""Refresh rotation with reuse detection, logout, logout-all, me; JWTs that must be refused."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.utils import timezone

from magiclink_auth.models import Profile, RefreshSession
from tests.conftest import PROJECT_ID, token_of

pytestmark = pytest.mark.django_db

REFRESH = "/v1/auth/refresh"


def refresh(api, token):
    return api.post(REFRESH, {}, refresh=token)


def test_refresh_rotates_and_the_old_token_stops_working(api, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REFRESH_REUSE_GRACE": 0}
    first = signed_up()["refreshJwt"]
    response = refresh(api, first)
    assert response.status_code == 200
    second = response.json()["refreshJwt"]
    assert second != first and response.cookies["DSR"].value == second
    again = refresh(api, first)
    assert again.status_code == 401 and again.json()["errorCode"] == "E061304"


def test_reuse_of_a_rotated_token_revokes_the_whole_family(api, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REFRESH_REUSE_GRACE": 0}
    first = signed_up()["refreshJwt"]
    second = refresh(api, first).json()["refreshJwt"]
    third = refresh(api, second).json()["refreshJwt"]
    assert refresh(api, first).json()["errorCode"] == "E061304"
    response = refresh(api, third)
    assert response.status_code == 401 and response.json()["errorCode"] == "E061303"
    assert RefreshSession.objects.get().revoked_reason == "reuse"


def test_benign_double_refresh_within_the_grace_is_tolerated(api, signed_up):
    first = signed_up()["refreshJwt"]
    a = refresh(api, first)
    b = refresh(api, first)  # a second tab refreshing with the same token a moment later
    assert a.status_code == b.status_code == 200
    assert refresh(api, b.json()["refreshJwt"]).status_code == 200
    assert RefreshSession.objects.get().revoked_at is None


def test_double_refresh_after_the_grace_is_reuse(api, signed_up):
    first = signed_up()["refreshJwt"]
    refresh(api, first)
    RefreshSession.objects.update(rotated_at=timezone.now() - timedelta(seconds=11))
    assert refresh(api, first).json()["errorCode"] == "E061304"


def test_logout_revokes_the_session(api, signed_up):
    token = signed_up()["refreshJwt"]
    response = api.post("/v1/auth/logout", {}, refresh=token)
    assert response.status_code == 200 and response.json() == {}
    assert response.cookies["DS"].value == "" and response.cookies["DSR"].value == ""
    assert refresh(api, token).json()["errorCode"] == "E061303"


def test_logout_all_revokes_every_session_of_the_user(api, outbox, signed_up):
    one = signed_up()["refreshJwt"]
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    two = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()["refreshJwt"]
    other = signed_up("bob@example.com")["refreshJwt"]
    assert api.post("/v1/auth/logoutall", {}, refresh=one).json() == {}
    assert refresh(api, two).json()["errorCode"] == "E061303"
    assert refresh(api, other).status_code == 200


@pytest.mark.parametrize("disable", ["is_active", "status"])
def test_a_user_disabled_after_signing_in_cannot_refresh(api, signed_up, django_user_model, disable):
    token = signed_up()["refreshJwt"]
    user = django_user_model.objects.get()
    if disable == "is_active":
        user.is_active = False
        user.save()
    else:
        user.magiclink_profile.status = Profile.Status.DISABLED
        user.magiclink_profile.save()
    response = refresh(api, token)
    assert response.status_code == 403 and response.json()["errorCode"] == "E062109"


def test_me_returns_the_user(api, signed_up):
    body = signed_up(name="Ada")
    me = api.get("/v1/auth/me", refresh=body["refreshJwt"])
    assert me.status_code == 200 and me.json() == body["user"]


def test_session_jwt_is_not_accepted_as_a_refresh_jwt(api, signed_up):
    body = signed_up()
    assert refresh(api, body["sessionJwt"]).json()["errorCode"] == "E061302"
    assert api.get("/v1/auth/me", refresh=body["sessionJwt"]).status_code == 401


def _forge(claims: dict, header: dict, signature: bytes = b"") -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_alg_none_is_refused(api, signed_up):
    real = signed_up()["refreshJwt"]
    claims = pyjwt.decode(real, options={"verify_signature": False})
    kid = pyjwt.get_unverified_header(real)["kid"]
    forged = _forge(claims, {"alg": "none", "kid": kid, "typ": "JWT"})
    assert refresh(api, forged).json()["errorCode"] == "E061302"


def test_hs256_signed_with_the_public_key_is_refused(api, signed_up):
    real = signed_up()["refreshJwt"]
    claims = pyjwt.decode(real, options={"verify_signature": False})
    kid = pyjwt.get_unverified_header(real)["kid"]
    jwk = next(k for k in api.get(f"/v2/keys/{PROJECT_ID}").json()["keys"] if k["kid"] == kid)
    public_pem = pyjwt.PyJWK(jwk).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": kid, "typ": "JWT"}
    unsigned = _forge(claims, header).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    forged = unsigned + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert refresh(api, forged).json()["errorCode"] == "E061302"


def test_tampered_claims_are_refused(api, signed_up):
    real = signed_up()["refreshJwt"]
    header, _, signature = real.split(".")
    claims = pyjwt.decode(real, options={"verify_signature": False})
    claims["sub"] = "999"
    forged_claims = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert refresh(api, f"{header}.{forged_claims}.{signature}").json()["errorCode"] == "E061302"


def test_expired_refresh_token_is_refused(api, signed_up):
    body = signed_up()
    RefreshSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refresh(api, body["refreshJwt"]).json()["errorCode"] == "E061303"
