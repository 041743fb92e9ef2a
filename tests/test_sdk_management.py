"""The management API through the official Python SDK (sync and async): keys, users, test users, links
generated for tests and embedding, and the refusals."""

from __future__ import annotations

import asyncio
import io
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from descope import AuthException, DeliveryMethod, DescopeClient
from django.core.management import call_command

from magiclink_auth.models import ManagementKey, Profile
from magiclink_auth.tokens import hash_token
from tests.conftest import PROJECT_ID, error_code, sdk_refused

pytestmark = pytest.mark.sdk

URI = "https://app.example.com/welcome"


def make_key(name: str = "ci") -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("magiclink_management_keys", "create", name, stdout=out, stderr=err)
    assert "shown only this once" in err.getvalue()
    return out.getvalue().strip()


@pytest.fixture
def management_key(transactional_db) -> str:
    return make_key()


@pytest.fixture
def mgmt(live_server, management_key, caplog):
    with caplog.at_level(logging.WARNING):
        client = DescopeClient(project_id=PROJECT_ID, base_url=live_server.url, management_key=management_key)
    assert [r for r in caplog.records if r.name.startswith("descope")] == [], "the handshake logged a warning"
    return client


def token_in(link: str) -> str:
    return parse_qs(urlsplit(link).query)["t"][0]


def test_key_is_stored_hashed_and_shown_only_by_the_command(management_key):
    key = ManagementKey.objects.get()
    assert key.key_hash == hash_token(management_key) and management_key not in key.key_hash
    assert key.hint == management_key[-4:]
    listed = io.StringIO()
    call_command("magiclink_management_keys", "list", stdout=listed)
    assert management_key not in listed.getvalue() and "active" in listed.getvalue()


def test_test_user_magic_link_login_then_delete_all_test_users(mgmt):
    created = mgmt.mgmt.user.create_test_user("tess@example.com", email="tess@example.com", display_name="Tess")
    assert created["user"]["test"] is True and created["user"]["loginIds"] == ["tess@example.com"]
    loaded = mgmt.mgmt.user.load("tess@example.com")["user"]
    assert loaded["userId"] == created["user"]["userId"] and loaded["name"] == "Tess"

    generated = mgmt.mgmt.user.generate_magic_link_for_test_user(DeliveryMethod.EMAIL, "tess@example.com", URI)
    assert generated["loginId"] == "tess@example.com" and generated["link"].startswith(URI + "?t=")
    session = mgmt.magiclink.verify(token_in(generated["link"]))
    assert session["userId"] == created["user"]["userId"]
    assert mgmt.validate_session(session["sessionToken"]["jwt"])["userId"] == created["user"]["userId"]

    mgmt.mgmt.user.create("real@example.com", email="real@example.com")
    mgmt.mgmt.user.delete_all_test_users()
    with sdk_refused(404, "E062108"):
        mgmt.mgmt.user.load("tess@example.com")
    assert mgmt.mgmt.user.load("real@example.com")["user"]["test"] is False


def test_links_are_generated_only_for_test_users(mgmt, outbox):
    mgmt.mgmt.user.create("real@example.com", email="real@example.com", verified_email=True)
    with sdk_refused(400, "E011313"):
        mgmt.mgmt.user.generate_magic_link_for_test_user(DeliveryMethod.EMAIL, "real@example.com", URI)
    assert outbox == []


def test_generated_link_is_not_sent(mgmt, outbox):
    mgmt.mgmt.user.create_test_user("+14155552671", phone="+14155552671")
    link = mgmt.mgmt.user.generate_magic_link_for_test_user(DeliveryMethod.SMS, "+14155552671", URI)["link"]
    assert outbox == [] and mgmt.magiclink.verify(token_in(link))["user"]["phone"] == "+14155552671"


def test_create_load_by_id_and_delete_a_user(mgmt):
    created = mgmt.mgmt.user.create("ada@example.com", email="ada@example.com", display_name="Ada",
                                     verified_email=True, custom_attributes={"team": "core"})["user"]
    assert created["verifiedEmail"] is True and created["customAttributes"] == {"team": "core"}
    assert mgmt.mgmt.user.load_by_user_id(created["userId"])["user"]["email"] == "ada@example.com"
    with sdk_refused(409, "E062107"):
        mgmt.mgmt.user.create("ada@example.com")
    mgmt.mgmt.user.delete("ada@example.com")
    with sdk_refused(404, "E062108"):
        mgmt.mgmt.user.load_by_user_id(created["userId"])
    mgmt.mgmt.user.delete("ada@example.com")  # deleting nobody succeeds


def test_embedded_links_sign_in_and_sign_up(mgmt):
    mgmt.mgmt.user.create("ada@example.com", email="ada@example.com")
    token = mgmt.mgmt.user.generate_embedded_link("ada@example.com", custom_claims={"plan": "gold"})
    verified = mgmt.magiclink.verify(token)
    assert verified["user"]["email"] == "ada@example.com" and verified["sessionToken"]["plan"] == "gold"

    from descope.management.user import CreateUserObj

    signup = mgmt.mgmt.user.generate_sign_up_embedded_link("new@example.com", CreateUserObj(name="Newt"))
    new = mgmt.magiclink.verify(signup)
    assert new["firstSeen"] is True and new["user"]["name"] == "Newt"


def test_wrong_and_revoked_keys_are_refused(live_server, management_key):
    wrong = DescopeClient(project_id=PROJECT_ID, base_url=live_server.url, management_key="mk_" + "x" * 43)
    with sdk_refused(401, "E011311"):
        wrong.mgmt.user.create_test_user("tess@example.com")

    call_command("magiclink_management_keys", "revoke", str(ManagementKey.objects.get().pk), stdout=io.StringIO())
    revoked = DescopeClient(project_id=PROJECT_ID, base_url=live_server.url, management_key=management_key)
    with sdk_refused(401, "E011311"):
        revoked.mgmt.user.load("tess@example.com")
    assert not Profile.objects.exists()


def test_management_calls_need_a_key(api, db):
    response = api.post("/v1/mgmt/user/create/test", {"loginId": "tess@example.com"})
    assert response.status_code == 401 and response.json()["errorCode"] == "E011310"


def test_other_management_calls_answer_the_error_json(mgmt, api):
    with pytest.raises(AuthException) as refused:
        mgmt.mgmt.tenant.create("Acme")
    assert refused.value.status_code == 404 and error_code(refused.value) == "E011312"
    response = api.client.get("/v2/mgmt/user/search/anything")
    assert response.status_code == 404 and response.json()["errorCode"] == "E011312"


def test_the_async_client_runs_the_test_user_life_cycle(live_server, management_key):
    from descope import DescopeClientAsync

    async def calls():
        async with DescopeClientAsync(project_id=PROJECT_ID, base_url=live_server.url,
                                      management_key=management_key) as client:
            await client.mgmt.user.create_test_user("tess@example.com", email="tess@example.com")
            link = (await client.mgmt.user.generate_magic_link_for_test_user(
                DeliveryMethod.EMAIL, "tess@example.com", URI))["link"]
            assert (await client.magiclink.verify(token_in(link)))["user"]["email"] == "tess@example.com"
            await client.mgmt.user.delete_all_test_users()
            with sdk_refused(404, "E062108"):
                await client.mgmt.user.load("tess@example.com")

    asyncio.run(calls())
