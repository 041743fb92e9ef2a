"""The cross-device attack (issue 12, finding 1) with the official Node SDK, which passes
``loginOptions.crossDevice`` through: the victim's verify, made by a site's page with the SDK, is refused,
and the attacker's poll stays empty."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ID, token_of

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.sdk,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "@descope" / "node-sdk").is_dir(),
        reason="the Node SDK is not installed: run `npm ci --prefix tests/node`",
    ),
]


def node(live_server, *args: str) -> dict:
    done = subprocess.run([NODE, "cross_device.js", live_server.url, PROJECT_ID, *args], cwd=NODE_DIR,
                          capture_output=True, text=True, timeout=30, check=False)
    return json.loads(done.stdout)


def test_the_victims_sdk_verify_of_an_attackers_cross_device_link_is_refused(live_server, api, outbox,
                                                                              signed_up):
    signed_up("victim@example.com")
    attacker = node(live_server, "start", "victim@example.com", "http://localhost/done")
    assert attacker["ok"] is True and set(attacker["data"]) == {"maskedEmail", "pendingRef", "code"}
    victim = node(live_server, "verify", token_of(outbox[-1]))
    assert victim["ok"] is False and victim["code"] == 403 and victim["error"]["errorCode"] == "E062901"
    polled = api.post("/v1/auth/magiclink/pending-session", {"pendingRef": attacker["data"]["pendingRef"]})
    assert polled.status_code == 401 and polled.json()["errorCode"] == "E062503"
