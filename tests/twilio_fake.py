"""A fake of Twilio's Messages API on loopback, for the real ``TwilioBackend`` (``API_BASE_URL`` points the
twilio client at it): it receives the very requests Twilio would and answers as Twilio does."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM_NUMBER = "+15005550006"


@dataclass
class FakeTwilio:
    url: str
    requests: list[dict] = field(default_factory=list)
    # What requests are answered with: (HTTP status, JSON body), or a function returning that or None;
    # None: Twilio's 201 with a message sid.
    reply: tuple[int, dict] | Callable[[], tuple[int, dict] | None] | None = None

    @property
    def delivered(self) -> list[dict]:
        """The forms of the messages Twilio accepted (answered 2xx)."""
        return [request["form"] for request in self.requests if 200 <= request["status"] < 300]

    def basic_auth_of(self, request: dict) -> tuple[str, str]:
        scheme, _, encoded = request["headers"]["Authorization"].partition(" ")
        assert scheme == "Basic"
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password


@pytest.fixture
def fake_twilio():
    """An HTTP server on loopback answering Twilio's Messages API like Twilio does."""
    fake: FakeTwilio

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            reply = fake.reply() if callable(fake.reply) else fake.reply
            status, payload = reply or (201, {
                "sid": f"SM{len(fake.requests) + 1:032d}", "status": "queued", "to": form.get("To"),
                "from": form.get("From"), "body": form.get("Body"), "account_sid": ACCOUNT_SID,
                "messaging_service_sid": form.get("MessagingServiceSid"),
            })
            fake.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers),
                                  "form": form, "status": status})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeTwilio(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def twilio_delivery(settings, fake: FakeTwilio, **sender) -> None:
    options = {"ACCOUNT_SID": ACCOUNT_SID, "AUTH_TOKEN": AUTH_TOKEN, "API_BASE_URL": fake.url, "TIMEOUT": 5,
               **(sender or {"FROM_NUMBER": FROM_NUMBER})}
    settings.MAGICLINK_AUTH = {
        **settings.MAGICLINK_AUTH,
        "DELIVERY": {**settings.MAGICLINK_AUTH["DELIVERY"],
                     "sms": {"BACKEND": "magiclink_auth.delivery.sms.TwilioBackend", "OPTIONS": options}},
    }
