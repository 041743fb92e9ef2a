"""The session API through the official Node SDK: history, myTenants, selectTenant, try-refresh."""

from __future__ import annotations

from tests.conftest import token_of
from tests.node_rpc import needs_node, node_sdk  # noqa: F401 - node_sdk is a fixture
from tests.test_sdk_session_api import URI, claims_of, with_tenants  # noqa: F401 - with_tenants too

pytestmark = needs_node


def test_node_sdk_history_tenants_select_and_try_refresh(node_sdk, outbox, with_tenants):  # noqa: F811
    sdk = node_sdk()
    assert sdk("magicLink.signUpOrIn.email", "ada@example.com", URI)["ok"]
    verified = sdk("magicLink.verify", token_of(outbox[-1]))
    refresh = verified["data"]["refreshJwt"]

    history = sdk("history", refresh)
    assert history["ok"] and len(history["data"]) == 1
    assert history["data"][0]["userId"] == verified["data"]["user"]["userId"]

    tenants = sdk("myTenants", ["acme"], refresh)
    assert tenants["ok"] and tenants["data"]["tenants"][0]["name"] == "Acme Inc."

    selected = sdk("selectTenant", "acme", refresh)
    assert selected["ok"]
    assert claims_of(selected["data"]["sessionJwt"])["dct"] == "acme"
    assert sdk("validateSession", selected["data"]["sessionJwt"])["value"]["token"]["dct"] == "acme"
    refused = sdk("selectTenant", "initech", selected["data"]["refreshJwt"])
    assert refused["ok"] is False and refused["error"]["errorCode"] == "E011320"

    # The node SDK's refresh() never asks for try-refresh; its HTTP client reaches it as the core SDK does.
    tried = sdk("httpClient.post", "/v1/auth/try-refresh", {}, {"token": selected["data"]["refreshJwt"]})
    assert tried["status"] == 200 and claims_of(tried["body"]["sessionJwt"])["dct"] == "acme"
    assert sdk("httpClient.post", "/v1/auth/try-refresh", {}, {}) == {"status": 200, "body": {}}
    sdk.close()
