"""A management-key client generates an enchanted link for a test user and completes the login with it
(Python SDK sync and async, Node SDK)."""

from __future__ import annotations

import asyncio

from tests.conftest import PROJECT_ID, sdk_refused
from tests.node_rpc import node_sdk, node_test  # noqa: F401 - node_sdk is a fixture
from tests.test_sdk_management import URI, make_key, management_key, mgmt, token_in  # noqa: F401 - fixtures


def test_generated_enchanted_link_completes_the_waiting_session(mgmt, outbox):  # noqa: F811
    user = mgmt.mgmt.user.create_test_user("tess@example.com", email="tess@example.com")["user"]
    generated = mgmt.mgmt.user.generate_enchanted_link_for_test_user("tess@example.com", URI)
    assert set(generated) == {"link", "loginId", "pendingRef"} and outbox == []
    with sdk_refused(401, "E062503"):
        mgmt.enchantedlink.get_session(generated["pendingRef"])
    mgmt.enchantedlink.verify(token_in(generated["link"]))
    assert mgmt.enchantedlink.get_session(generated["pendingRef"])["userId"] == user["userId"]
    mgmt.mgmt.user.delete_all_test_users()
    with sdk_refused(404, "E062108"):
        mgmt.mgmt.user.load("tess@example.com")


def test_enchanted_links_are_generated_only_for_test_users(mgmt):  # noqa: F811
    mgmt.mgmt.user.create("real@example.com", email="real@example.com")
    with sdk_refused(400, "E011313"):
        mgmt.mgmt.user.generate_enchanted_link_for_test_user("real@example.com", URI)


def test_the_async_client_generates_an_enchanted_link(live_server, management_key):  # noqa: F811
    from descope import DescopeClientAsync

    async def calls():
        async with DescopeClientAsync(project_id=PROJECT_ID, base_url=live_server.url,
                                      management_key=management_key) as client:
            await client.mgmt.user.create_test_user("tess@example.com", email="tess@example.com")
            generated = await client.mgmt.user.generate_enchanted_link_for_test_user("tess@example.com", URI)
            await client.enchantedlink.verify(token_in(generated["link"]))
            session = await client.enchantedlink.get_session(generated["pendingRef"])
            assert session["user"]["email"] == "tess@example.com"

    asyncio.run(calls())


@node_test
def test_node_generated_links_for_a_test_user(node_sdk, outbox):  # noqa: F811
    sdk = node_sdk(make_key())
    assert sdk("management.user.createTestUser", "tess@example.com", {"email": "tess@example.com"})["ok"]
    generated = sdk("management.user.generateEnchantedLinkForTestUser", "tess@example.com", URI)
    assert generated["ok"] and {"link", "loginId", "pendingRef"} <= set(generated["data"])
    assert sdk("enchantedLink.verify", token_in(generated["data"]["link"]))["ok"]
    waited = sdk("enchantedLink.waitForSession", generated["data"]["pendingRef"],
                 {"pollingIntervalMs": 1000, "timeoutMs": 15000})
    assert waited["ok"] and waited["data"]["user"]["email"] == "tess@example.com"
    assert sdk("management.user.deleteAllTestUsers")["ok"]
