"""Enchanted links through the official Node SDK: signIn, verify, waitForSession; the wrong number; update."""

from __future__ import annotations

from tests.conftest import token_of
from tests.enchanted_helpers import right_and_wrong
from tests.node_rpc import needs_node, node_sdk  # noqa: F401 - node_sdk is a fixture

pytestmark = needs_node

URI = "https://app.example.com/welcome"
WAIT = {"pollingIntervalMs": 1000, "timeoutMs": 15000}


def signed_up(sdk, outbox) -> dict:
    assert sdk("magicLink.signUp.email", "ada@example.com", URI, {"name": "Ada"})["ok"]
    return sdk("magicLink.verify", token_of(outbox[-1]))["data"]


def test_node_enchanted_sign_in_waits_for_the_session(node_sdk, outbox):  # noqa: F811
    sdk = node_sdk()
    user_id = signed_up(sdk, outbox)["user"]["userId"]
    started = sdk("enchantedLink.signIn", "ada@example.com", URI)
    # The node SDK adds the response's cookies (none here) to every answer of a call it wraps.
    assert started["ok"] and {"linkId", "pendingRef", "maskedEmail"} <= set(started["data"])
    right, _ = right_and_wrong(outbox[-1], started["data"]["linkId"])
    verified = sdk("enchantedLink.verify", right)
    assert verified["ok"] and verified["data"] == {}
    waited = sdk("enchantedLink.waitForSession", started["data"]["pendingRef"], WAIT)
    assert waited["ok"] and waited["data"]["user"]["userId"] == user_id
    assert sdk("validateSession", waited["data"]["sessionJwt"])["value"]["token"]["sub"] == user_id
    again = sdk("httpClient.post", "/v1/auth/enchantedlink/pending-session",
                {"pendingRef": started["data"]["pendingRef"]}, {})
    assert again["status"] == 401 and again["body"]["errorCode"] == "E062522", "collected once"


def test_node_wrong_number_kills_the_set_then_a_fresh_start_works(node_sdk, outbox):  # noqa: F811
    sdk = node_sdk()
    user_id = signed_up(sdk, outbox)["user"]["userId"]
    started = sdk("enchantedLink.signIn", "ada@example.com", URI)
    right, wrong = right_and_wrong(outbox[-1], started["data"]["linkId"])
    refused = sdk("enchantedLink.verify", wrong[0])
    assert refused["ok"] is False and refused["error"]["errorCode"] == "E062530"
    refused = sdk("enchantedLink.verify", right)
    assert refused["ok"] is False and refused["error"]["errorCode"] == "E062531"
    timed_out = sdk("enchantedLink.waitForSession", started["data"]["pendingRef"],
                    {"pollingIntervalMs": 1000, "timeoutMs": 2500})
    assert timed_out["ok"] is False

    fresh = sdk("enchantedLink.signIn", "ada@example.com", URI)
    assert sdk("enchantedLink.verify", right_and_wrong(outbox[-1], fresh["data"]["linkId"])[0])["ok"]
    waited = sdk("enchantedLink.waitForSession", fresh["data"]["pendingRef"], WAIT)
    assert waited["ok"] and waited["data"]["user"]["userId"] == user_id


def test_node_update_email_by_enchanted_link(node_sdk, outbox):  # noqa: F811
    sdk = node_sdk()
    refresh = signed_up(sdk, outbox)["refreshJwt"]
    started = sdk("enchantedLink.update.email", "ada@example.com", "ada.new@example.com", URI, refresh,
                  {"addToLoginIDs": True})
    assert started["ok"] and started["data"]["maskedEmail"] == "a***@example.com"
    assert sdk("enchantedLink.verify", right_and_wrong(outbox[-1], started["data"]["linkId"])[0])["ok"]
    waited = sdk("enchantedLink.waitForSession", started["data"]["pendingRef"], WAIT)
    assert waited["ok"] and waited["data"]["user"]["email"] == "ada.new@example.com"
