"""SMS through Twilio's own client (Programmable Messaging); needs ``pip install 'magiclink-auth[twilio]'``."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..errors import DeliveryError, MissingExtra

try:
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client
except ImportError as exc:
    raise MissingExtra("twilio", "twilio", "magiclink_auth.delivery.sms.TwilioBackend") from exc
from .base import BaseBackend, DeliveryResult, LinkMessage, render

__all__ = ["TwilioBackend"]


class _RebasedHttpClient(TwilioHttpClient):
    """Sends Twilio's requests to another origin: a regional proxy, or a local fake in tests."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base = urlsplit(base_url)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)._replace(scheme=self.base.scheme, netloc=self.base.netloc)
        return super().request(method, urlunsplit(parts), *args, **kwargs)


class TwilioBackend(BaseBackend):
    """Options: ``ACCOUNT_SID``, ``AUTH_TOKEN``, and ``FROM_NUMBER`` or ``MESSAGING_SERVICE_SID``;
    ``API_BASE_URL`` to send the API calls elsewhere; ``TIMEOUT`` in seconds (default 10)."""

    provider = "twilio"

    def client(self) -> Client:
        http_client = (
            _RebasedHttpClient(self.options["API_BASE_URL"], timeout=self.options.get("TIMEOUT", 10))
            if self.options.get("API_BASE_URL")
            else TwilioHttpClient(timeout=self.options.get("TIMEOUT", 10))
        )
        return Client(self.options.get("ACCOUNT_SID"), self.options.get("AUTH_TOKEN"), http_client=http_client)

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        sender = (
            {"messaging_service_sid": self.options["MESSAGING_SERVICE_SID"]}
            if self.options.get("MESSAGING_SERVICE_SID")
            else {"from_": self.options.get("FROM_NUMBER")}
        )
        try:
            sent = self.client().messages.create(to=message.recipient, body=render(message, "body.txt"), **sender)
        except TwilioRestException as exc:
            # 4xx other than 429 will fail the same way again (bad number, blocked destination).
            retryable = exc.status == 429 or exc.status >= 500
            raise DeliveryError(
                f"Twilio answered {exc.status} (code {exc.code})", provider=self.provider, retryable=retryable
            ) from exc
        except (TwilioException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__} talking to Twilio", provider=self.provider) from exc
        return DeliveryResult(status="sent", message_id=sent.sid or "", provider=self.provider)
