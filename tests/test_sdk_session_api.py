"""The rest of the session API through the official SDKs: history, tenants, tenant selection, try-refresh."""

from __future__ import annotations

import asyncio

import jwt
import pytest
from descope import DeliveryMethod

from tests.conftest import PROJECT_ID, sdk_refused, token_of

pytestmark = pytest.mark.sdk

EMAIL = DeliveryMethod.EMAIL
URI = "https://app.example.com/welcome"
TENANTS = {
    "acme": {"roles": ["admin"], "name": "Acme Inc.", "customAttributes": {"plan": "gold"}},
    "globex": {"roles": []},
}


def tenants_of(user):
    """The TENANTS_PROVIDER of these tests: every user belongs to acme and globex."""
    return TENANTS


@pytest.fixture
def with_tenants(limits):
    limits(TENANTS_PROVIDER="tests.test_sdk_session_api.tenants_of")


def sign_in(descope, outbox, email="ada@example.com") -> dict:
    descope.magiclink.sign_up_or_in(EMAIL, email, URI)
    return descope.magiclink.verify(token_of(outbox[-1]))


def claims_of(session_jwt: str) -> dict:
    return jwt.decode(session_jwt, options={"verify_signature": False})


def test_history_lists_each_sign_in_newest_first(descope, outbox):
    first = sign_in(descope, outbox)
    second = sign_in(descope, outbox)
    history = descope.history(second["refreshSessionToken"]["jwt"])
    assert len(history) == 2
    assert [entry["userId"] for entry in history] == [first["userId"]] * 2
    assert history[0]["loginTime"] >= history[1]["loginTime"] > 0
    assert history[0]["ip"] == "127.0.0.1" and set(history[0]) == {"userId", "loginTime", "city", "country", "ip"}


def test_history_is_only_the_callers_own(descope, outbox):
    sign_in(descope, outbox, "bob@example.com")
    ada = sign_in(descope, outbox)
    assert len(descope.history(ada["refreshSessionToken"]["jwt"])) == 1


def test_my_tenants_by_ids_and_the_selected_one(descope, outbox, with_tenants):
    refresh = sign_in(descope, outbox)["refreshSessionToken"]["jwt"]
    found = descope.my_tenants(refresh, ids=["acme", "initech"])
    assert found == {"tenants": [{"id": "acme", "name": "Acme Inc.", "customAttributes": {"plan": "gold"}}]}
    assert descope.my_tenants(refresh, dct=True) == {"tenants": []}

    selected = descope.select_tenant("globex", refresh)
    new_refresh = selected["refreshSessionToken"]["jwt"]
    assert descope.my_tenants(new_refresh, dct=True)["tenants"][0]["id"] == "globex"


def test_select_tenant_puts_dct_in_the_new_session_jwt_and_keeps_it_on_refresh(descope, outbox, with_tenants):
    signed_in = sign_in(descope, outbox)
    assert "dct" not in claims_of(signed_in["sessionToken"]["jwt"])
    refresh = signed_in["refreshSessionToken"]["jwt"]

    selected = descope.select_tenant("acme", refresh)
    session = selected["sessionToken"]["jwt"]
    assert descope.validate_session(session)["sessionToken"]["dct"] == "acme"
    assert selected["refreshSessionToken"]["jwt"] != refresh, "select rotates the session like refresh"
    refreshed = descope.refresh_session(selected["refreshSessionToken"]["jwt"])
    assert claims_of(refreshed["sessionToken"]["jwt"])["dct"] == "acme"


def test_select_tenant_refuses_a_tenant_the_user_is_not_in(descope, outbox, with_tenants):
    refresh = sign_in(descope, outbox)["refreshSessionToken"]["jwt"]
    with sdk_refused(403, "E011320"):
        descope.select_tenant("initech", refresh)


def test_dct_cannot_be_set_by_custom_claims(api, db):
    response = api.post("/v1/auth/magiclink/signin/email", {
        "loginId": "ada@example.com", "loginOptions": {"customClaims": {"dct": "acme"}},
    })
    assert response.status_code == 400 and response.json()["errorCode"] == "E062601"


def test_try_refresh_refreshes_a_live_session_and_answers_empty_otherwise(descope, outbox):
    refresh = sign_in(descope, outbox)["refreshSessionToken"]["jwt"]
    http = descope._auth.http_client
    refreshed = http.post("/v1/auth/try-refresh", body={}, pswd=refresh).json()
    assert refreshed["refreshJwt"] != refresh and descope.validate_session(refreshed["sessionJwt"])
    assert http.post("/v1/auth/try-refresh", body={}).json() == {}
    descope.logout(refreshed["refreshJwt"])
    nothing = http.post("/v1/auth/try-refresh", body={}, pswd=refreshed["refreshJwt"])
    assert nothing.status_code == 200 and nothing.json() == {}


def test_the_async_client_reads_history_tenants_and_selects(live_server, transactional_db, outbox, with_tenants):
    from descope import DescopeClientAsync

    async def calls():
        async with DescopeClientAsync(project_id=PROJECT_ID, base_url=live_server.url) as client:
            await client.magiclink.sign_up_or_in(EMAIL, "ada@example.com", URI)
            verified = await client.magiclink.verify(token_of(outbox[-1]))
            refresh = verified["refreshSessionToken"]["jwt"]
            assert len(await client.history(refresh)) == 1
            assert [t["id"] for t in (await client.my_tenants(refresh, ids=["globex"]))["tenants"]] == ["globex"]
            selected = await client.select_tenant("acme", refresh)
            assert (await client.validate_session(selected["sessionToken"]["jwt"]))["sessionToken"]["dct"] == "acme"

    asyncio.run(calls())
