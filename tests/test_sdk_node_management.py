"""The management API through the official Node SDK built with a management key."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.node_rpc import needs_node, node_sdk  # noqa: F401 - node_sdk is a fixture
from tests.test_sdk_management import URI, make_key

pytestmark = needs_node


def test_node_test_user_magic_link_login_and_delete_all(node_sdk, outbox):  # noqa: F811
    sdk = node_sdk(make_key())
    created = sdk("management.user.createTestUser", "tess@example.com", {"email": "tess@example.com"})
    assert created["ok"], created
    assert created["data"]["test"] is True

    generated = sdk("management.user.generateMagicLinkForTestUser", "email", "tess@example.com", URI)
    assert generated["ok"] and outbox == []
    token = parse_qs(urlsplit(generated["data"]["link"]).query)["t"][0]
    verified = sdk("magicLink.verify", token)
    assert verified["ok"] and verified["data"]["user"]["userId"] == created["data"]["userId"]

    assert sdk("management.user.deleteAllTestUsers")["ok"]
    gone = sdk("management.user.load", "tess@example.com")
    assert gone["ok"] is False and gone["error"]["errorCode"] == "E062108"
    assert sdk.close() == "", "the SDK logged something"


def test_node_wrong_key_is_refused(node_sdk):  # noqa: F811
    make_key()
    sdk = node_sdk("mk_" + "y" * 43)
    refused = sdk("management.user.createTestUser", "tess@example.com", {"email": "tess@example.com"})
    assert refused["ok"] is False and refused["code"] == 401 and refused["error"]["errorCode"] == "E011311"
