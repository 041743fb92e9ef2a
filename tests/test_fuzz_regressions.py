"""Inputs that answered 500 on PostgreSQL (found probing beside tests/fuzz/run_schemathesis.sh), now refused.

U+0000 cannot be stored in PostgreSQL's jsonb: inside customClaims or a templateOptions name it reached
the database and failed there. Each is now a 400 with the protocol's error JSON, on every database.
"""

import pytest

pytestmark = pytest.mark.django_db

START = "/v1/auth/magiclink/signup-in/email"


@pytest.mark.parametrize("options", [
    {"customClaims": {"a": "x\u0000y"}},
    {"customClaims": {"a\u0000": 1}},
    {"customClaims": {"a": [{"b": "\u0000"}]}},
    {"templateOptions": {"a\u0000": "b"}},
])
def test_nul_characters_in_json_options_are_refused(api, outbox, options):
    response = api.post(START, {"loginId": "ada@example.com", "loginOptions": options})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E011004"
    assert outbox == []


@pytest.mark.parametrize("body", [
    {"loginId": "ada@example.com", "URI": "http://localhost/\u0000"},
    {"loginId": "ada\u0000@example.com"},
])
def test_nul_characters_in_strings_are_refused(api, body):
    response = api.post("/v1/auth/magiclink/signup/email", body)
    assert response.status_code == 400 and response.json()["errorCode"].startswith("E0")


def test_nul_characters_in_a_name_are_refused(api):
    """A name reaches mail headers: the strict JSON parser refuses NUL anywhere in the body."""
    from magiclink_auth.models import PendingLink

    body = {"loginId": "ada@example.com", "user": {"name": "Ada\u0000Lovelace"}}
    assert api.post("/v1/auth/magiclink/signup/email", body).status_code == 400
    assert not PendingLink.objects.exists()


def test_huge_integers_in_custom_claims_do_not_break_the_jwt(api, outbox):
    body = {"loginId": "ada@example.com", "loginOptions": {"customClaims": {"big": 10**30}}}
    assert api.post(START, body).status_code == 200
    from tests.conftest import token_of

    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])})
    assert verified.status_code == 200
