"""Update email and update phone with the official Node SDK, which calls ``/update/phone/sms``."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import PROJECT_ID, token_of
from tests.node_rpc import NODE, NODE_DIR, needs_node

pytestmark = [pytest.mark.django_db(transaction=True), *needs_node]


def node_update(live_server, kind: str, login_id: str, address: str, refresh: str, *extra: str) -> dict:
    done = subprocess.run(
        [NODE, "update_contact.js", live_server.url, PROJECT_ID, kind, login_id, address, refresh, *extra],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=30, check=False,
    )
    return json.loads(done.stdout)


def test_node_sdk_updates_phone_and_email(live_server, api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    result = node_update(live_server, "sms", "ada@example.com", "+14155552671", refresh)
    # The Node SDK hands back the whole answer, with the number to show (`code`); the update link is
    # verified by the session that asked or with that number.
    code = result["data"]["code"]
    assert result["ok"] is True and result["data"] == {"maskedPhone": "+*******2671", "code": code}
    assert outbox[-1].purpose == "update_phone" and outbox[-1].recipient == "+14155552671"
    user = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1]), "code": code}).json()["user"]
    assert user["phone"] == "+14155552671" and "+14155552671" in user["loginIds"]

    result = node_update(live_server, "email", "+14155552671", "ada.new@example.com", refresh)
    assert result["ok"] is True and result["data"]["maskedEmail"] == "a***@example.com"
    user = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}, refresh=refresh).json()["user"]
    assert user["email"] == "ada.new@example.com" and "ada.new@example.com" in user["loginIds"]


def test_node_sdk_sees_the_refusal_code(live_server, outbox, signed_up):
    signed_up("bob@example.com")
    refresh = signed_up()["refreshJwt"]
    result = node_update(live_server, "email", "ada@example.com", "bob@example.com", refresh)
    assert result["ok"] is False and result["code"] == 409, result
    assert result["error"]["errorCode"] == "E062110"
