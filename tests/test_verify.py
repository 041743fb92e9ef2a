"""Verify: the JWT response, its cookies and claims, firstSeen, and who may not sign in."""

import jwt as pyjwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from magiclink_auth.models import LoginId, Profile
from tests.conftest import PROJECT_ID, token_of

pytestmark = pytest.mark.django_db

VERIFY = "/v1/auth/magiclink/verify"


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def sign_in_link(api, outbox, email="ada@example.com"):
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": email})
    assert response.status_code == 200, response.content
    return token_of(outbox[-1])


def test_jwt_response_shape(signed_up):
    body = signed_up("ada@example.com", name="Ada Lovelace", givenName="Ada", familyName="Lovelace")
    assert set(body) == {"sessionJwt", "refreshJwt", "cookieDomain", "cookiePath", "cookieMaxAge",
                         "cookieExpiration", "user", "firstSeen"}
    assert body["cookiePath"] == "/" and body["cookieMaxAge"] == 4 * 7 * 24 * 3600
    user = body["user"]
    assert user["loginIds"] == ["ada@example.com"]
    assert (user["name"], user["givenName"], user["familyName"]) == ("Ada Lovelace", "Ada", "Lovelace")
    assert user["email"] == "ada@example.com" and user["verifiedEmail"] is True
    assert user["status"] == "enabled" and user["roleNames"] == [] and user["customAttributes"] == {}
    assert isinstance(user["createdTime"], int)


def test_session_and_refresh_claims(signed_up):
    body = signed_up()
    session, refresh = claims_of(body["sessionJwt"]), claims_of(body["refreshJwt"])
    assert session["iss"] == PROJECT_ID and session["sub"] == body["user"]["userId"]
    assert session["drn"] == "DS" and refresh["drn"] == "DSR"
    assert session["amr"] == ["email"]
    assert session["exp"] - session["iat"] == 600
    assert refresh["exp"] - refresh["iat"] == 4 * 7 * 24 * 3600
    assert (session["roles"], session["permissions"], session["tenants"]) == ([], [], {})
    header = pyjwt.get_unverified_header(body["sessionJwt"])
    assert header["alg"] == "ES256" and header["kid"]


def test_first_seen_only_on_first_verify_of_a_new_user(api, outbox, signed_up):
    assert signed_up()["firstSeen"] is True
    second = api.post(VERIFY, {"token": sign_in_link(api, outbox)})
    assert second.json()["firstSeen"] is False


def test_cookies_are_set_http_only_and_strict(api, outbox, signed_up):
    signed_up()
    response = api.post(VERIFY, {"token": sign_in_link(api, outbox)})
    ds, dsr = response.cookies["DS"], response.cookies["DSR"]
    assert ds.value == response.json()["sessionJwt"] and dsr.value == response.json()["refreshJwt"]
    for cookie in (ds, dsr):
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
        assert not cookie["secure"]  # the test request came over plain http
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


def test_cookies_are_secure_over_https(api, outbox, signed_up):
    signed_up()
    response = api.post(VERIFY, {"token": sign_in_link(api, outbox)}, secure=True)
    assert response.cookies["DS"]["secure"] and response.cookies["DSR"]["secure"]


def test_sign_up_of_existing_login_id_is_refused(api, outbox, signed_up):
    signed_up()
    response = api.post("/v1/auth/magiclink/signup/email", {"loginId": "ada@example.com"})
    assert response.status_code == 409 and response.json()["errorCode"] == "E062107"
    assert len(outbox) == 1


def test_sign_in_of_unknown_login_id_is_refused(api, outbox):
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "nobody@example.com"})
    assert response.status_code == 404 and response.json()["errorCode"] == "E062108"
    assert outbox == []


def test_sign_up_or_in_signs_up_then_signs_in(api, outbox):
    for expected_first_seen in (True, False):
        api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "ada@example.com"})
        body = api.post(VERIFY, {"token": token_of(outbox[-1])}).json()
        assert body["firstSeen"] is expected_first_seen
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("disable", ["is_active", "status"])
def test_disabled_user_is_sent_nothing(api, outbox, signed_up, disable):
    signed_up()
    user = get_user_model().objects.get()
    if disable == "is_active":
        user.is_active = False
        user.save()
    else:
        Profile.objects.update(status=Profile.Status.DISABLED)
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    assert response.status_code == 403 and response.json()["errorCode"] == "E062109"
    assert len(outbox) == 1


def test_user_disabled_after_the_link_was_sent_cannot_verify(api, outbox, signed_up):
    signed_up()
    token = sign_in_link(api, outbox)
    Profile.objects.update(status=Profile.Status.DISABLED)
    response = api.post(VERIFY, {"token": token})
    assert response.status_code == 403 and response.json()["errorCode"] == "E062109"


def test_custom_claims_reach_the_session_jwt(api, outbox):
    api.post("/v1/auth/magiclink/signup-in/email",
             {"loginId": "ada@example.com", "loginOptions": {"customClaims": {"plan": "pro", "seats": 3}}})
    body = api.post(VERIFY, {"token": token_of(outbox[-1])}).json()
    claims = claims_of(body["sessionJwt"])
    assert claims["nsec"] == {"plan": "pro", "seats": 3} and "plan" not in claims


def test_keys_endpoint_publishes_the_signing_key(api, signed_up):
    body = signed_up()
    keys = api.get(f"/v2/keys/{PROJECT_ID}").json()["keys"]
    kid = pyjwt.get_unverified_header(body["sessionJwt"])["kid"]
    (key,) = [k for k in keys if k["kid"] == kid]
    assert {k: key[k] for k in ("kty", "alg", "use")} == {"kty": "EC", "alg": "ES256", "use": "sig"}
    assert "d" not in key and "p" not in key
    public = pyjwt.PyJWK(key).key
    assert public.curve.name == "secp256r1"
    pyjwt.decode(body["sessionJwt"], public, algorithms=["ES256"])


@pytest.mark.parametrize("audit_log", [False, True])
def test_a_returning_users_verify_stays_within_its_query_budget(api, outbox, signed_up, settings, audit_log):
    """At most 6 statements, transaction control aside (bench/verify_scaling.py's target is 8): the link with
    its user and profile, consume, the login IDs (marked verified, listed in the user JSON), the session,
    roles, the user's own permissions (no group, so no group-permission query). The audit log (on by
    default) adds exactly one, the INSERT of the link_verified event."""
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "AUDIT_LOG": audit_log}
    signed_up("ada@example.com")
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])})
    assert response.status_code == 200
    assert response.json()["user"]["verifiedEmail"] is True
    control = ("BEGIN", "SAVEPOINT", "RELEASE")
    statements = [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(control)]
    audit = [sql for sql in statements if "magiclink_auth_auditevent" in sql]
    assert len(audit) == (1 if audit_log else 0) and all(sql.startswith("INSERT") for sql in audit)
    assert len(statements) - len(audit) <= 6, "\n".join(statements)


def test_roles_reach_both_the_session_jwt_and_the_user_json(api, outbox, signed_up):
    signed_up("ada@example.com")
    user = LoginId.objects.get(value="ada@example.com").user
    user.groups.add(Group.objects.create(name="editors"))
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    body = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert claims_of(body["sessionJwt"])["roles"] == ["editors"]
    assert body["user"]["roleNames"] == ["editors"]
