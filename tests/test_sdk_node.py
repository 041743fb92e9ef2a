"""The official Node SDK (``@descope/node-sdk``, pinned in tests/node/package.json) against the live site.

``tests/node/login_flow.js`` does signUpOrIn.email -> verify -> validateSession -> refreshSession -> logout,
printing one JSON line per step; this test hands it the link's token from the outbox through its stdin.
Set up once with ``npm ci --prefix tests/node``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading

import jwt as pyjwt
import pytest

from magiclink_auth.models import RefreshSession
from tests.conftest import PROJECT_ID, token_of
from tests.node_rpc import NODE, NODE_DIR, needs_node

pytestmark = needs_node

STEP_TIMEOUT = 30


class NodeFlow:
    """login_flow.js as a child process: JSON lines out, the token in."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [NODE, "login_flow.js", *args], cwd=NODE_DIR, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def step(self, name: str) -> dict:
        line = self.lines.get(timeout=STEP_TIMEOUT)
        if line is None:
            self.process.wait(STEP_TIMEOUT)
            raise AssertionError(f"login_flow.js ended before {name}: {self.process.stderr.read()}")
        result = json.loads(line)
        assert result["step"] == name, result
        assert result["ok"] or name == "refreshAfterLogout", result
        return result

    def send(self, text: str) -> None:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def finish(self) -> int:
        status = self.process.wait(STEP_TIMEOUT)
        self.reader.join(STEP_TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_node_sdk_sign_up_or_in_verify_validate_refresh_logout(live_server, transactional_db, outbox):
    email = "node@example.com"
    flow = NodeFlow(live_server.url, PROJECT_ID, email, "https://app.example.com/welcome")
    try:
        started = flow.step("signUpOrIn")
        assert started["data"] == {"maskedEmail": "n***@example.com"}
        [message] = outbox
        assert message.recipient == email
        flow.send(token_of(message))

        verified = flow.step("verify")["data"]
        assert verified["firstSeen"] is True
        assert verified["user"]["loginIds"] == [email] and verified["user"]["verifiedEmail"] is True
        user_id = verified["user"]["userId"]

        session = flow.step("validateSession")["token"]
        assert session["sub"] == user_id and session["iss"] == PROJECT_ID and session["drn"] == "DS"
        assert session["amr"] == ["email"]

        refreshed = flow.step("refreshSession")
        assert refreshed["token"]["sub"] == user_id and refreshed["rotated"] is True

        flow.step("logout")
        refused = flow.step("refreshAfterLogout")
        assert refused["ok"] is False and refused["code"] == 401
        assert refused["error"]["errorCode"] == "E061303"
        assert refused["thrown"] and "refresh token validation failed" in refused["thrown"]
        assert flow.finish() == 0
    finally:
        flow.kill()
    assert not RefreshSession.objects.filter(revoked_at__isnull=True).exists()


def test_node_sdk_reports_our_error_json(live_server, transactional_db, outbox):
    """Errors reach the Node SDK as parsed JSON: a URI outside the allow-list stops the flow at the start."""
    flow = NodeFlow(live_server.url, PROJECT_ID, "node@example.com", "https://evil.example.net/")
    try:
        line = flow.lines.get(timeout=STEP_TIMEOUT)
        result = json.loads(line)
        assert result["step"] == "signUpOrIn" and result["ok"] is False and result["code"] == 400
        assert result["error"]["errorCode"] == "E062202"
        assert flow.finish() == 1
    finally:
        flow.kill()
    assert outbox == []


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_node_sdk_validates_and_refreshes_sessions_signed_with_each_algorithm(
    algorithm, live_server, transactional_db, outbox, settings
):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "SIGNING_ALGORITHM": algorithm}
    email = f"node-{algorithm.lower()}@example.com"
    flow = NodeFlow(live_server.url, PROJECT_ID, email, "https://app.example.com/welcome")
    try:
        flow.step("signUpOrIn")
        [message] = outbox
        flow.send(token_of(message))
        session_jwt = flow.step("verify")["data"]["sessionJwt"]
        assert pyjwt.get_unverified_header(session_jwt)["alg"] == algorithm

        # validateSession checks the signature with the JWK the SDK fetched from /v2/keys (jose's importJWK).
        session = flow.step("validateSession")["token"]
        assert session["drn"] == "DS" and session["iss"] == PROJECT_ID
        assert flow.step("refreshSession")["token"]["sub"] == session["sub"]
        flow.step("logout")
        flow.step("refreshAfterLogout")
        assert flow.finish() == 0
    finally:
        flow.kill()
