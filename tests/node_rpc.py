"""The Node SDK as a child process answering one call per line (tests/node/sdk_rpc.js)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ID

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
CALL_TIMEOUT = 30

needs_node = [
    pytest.mark.node,
    pytest.mark.sdk,
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "@descope" / "node-sdk").is_dir(),
        reason="the Node SDK is not installed: run `npm ci --prefix tests/node`",
    ),
]


def node_test(function):
    """``needs_node`` for one test, in a module whose other tests need no Node."""
    for mark in needs_node:
        function = mark(function)
    return function


class NodeSDK:
    def __init__(self, base_url: str, management_key: str = ""):
        args = [NODE, "sdk_rpc.js", base_url, PROJECT_ID, *([management_key] if management_key else [])]
        self.process = subprocess.Popen(args, cwd=NODE_DIR, text=True, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __call__(self, call: str, *args) -> dict:
        self.process.stdin.write(json.dumps({"call": call, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"sdk_rpc.js ended: {self.process.stderr.read()}")
        return json.loads(line)

    def close(self) -> str:
        """End the process; returns what it wrote to stderr (the SDK's own log lines)."""
        self.process.stdin.close()
        self.process.wait(CALL_TIMEOUT)
        errors = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return errors


@pytest.fixture
def node_sdk(live_server, transactional_db):
    """``node_sdk()`` starts a Node client on the live site (``management_key=`` for a management one)."""
    started = []

    def start(management_key: str = "") -> NodeSDK:
        started.append(NodeSDK(live_server.url, management_key))
        return started[-1]

    yield start
    for sdk in started:
        if sdk.process.poll() is None:
            sdk.process.kill()
            sdk.process.wait()
