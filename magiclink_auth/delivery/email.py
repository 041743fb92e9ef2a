"""Email through Django's mail API, so every django-anymail ESP works by setting ``EMAIL_BACKEND``."""

from __future__ import annotations

import smtplib

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core.mail import EmailMultiAlternatives, get_connection

from ..errors import DeliveryError
from ..text import clean
from .base import BaseBackend, DeliveryResult, LinkMessage, render

__all__ = ["EmailBackend"]


class EmailBackend(BaseBackend):
    """Options: ``FROM_EMAIL`` (default ``DEFAULT_FROM_EMAIL``), ``TAGS`` and ``METADATA`` for anymail,
    and ``CONNECTION`` (keyword arguments for ``get_connection``)."""

    provider = "django-mail"

    def build(self, message: LinkMessage) -> EmailMultiAlternatives:
        email = EmailMultiAlternatives(
            subject=clean(render(message, "subject.txt")),
            body=render(message, "body.txt"),
            from_email=self.options.get("FROM_EMAIL"),
            to=[message.recipient],
            connection=self.connection(),
        )
        email.attach_alternative(render(message, "body.html"), "text/html")
        # Read by anymail's backends and ignored by Django's own.
        email.tags = [*self.options.get("TAGS", []), f"magiclink-{message.purpose}"]
        email.metadata = {**self.options.get("METADATA", {}), "link_id": message.link_id}
        email.track_clicks = False
        return email

    def connection(self):
        # None lets Django pick the site's mailer (EMAIL_BACKEND, or MAILERS["default"] from Django 6.1);
        # get_connection() is only for a site that gives this backend connection options of its own.
        if "CONNECTION" not in self.options:
            return None
        return get_connection(**self.options["CONNECTION"])

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        email = self.build(message)
        try:
            email.send()
        except Exception as exc:
            raise DeliveryError(
                f"{type(exc).__name__} from the mail backend{_status_note(exc)}",
                provider=self.provider, retryable=_retryable(exc),
            ) from exc
        status = getattr(email, "anymail_status", None)
        message_id = getattr(status, "message_id", None)
        message_id = "" if message_id is None else str(message_id)
        return DeliveryResult(status="sent", message_id=message_id, provider=self.provider)


def _retryable(exc: Exception) -> bool:
    """An ESP's refusal of the recipient, or a 4xx other than 408/429, fails the same way every time;
    an outage, a 5xx, a timeout or a dropped SMTP connection may not."""
    if isinstance(exc, AnymailRecipientsRefused):
        return False
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        return status is None or status >= 500 or status in (408, 429)
    return True


def _status_note(exc: Exception) -> str:
    """The provider's reason, where it cannot carry the message or an address: an HTTP status, an SMTP
    reply code, or the operating system's words for a connection that failed."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f" (HTTP {status})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f" (SMTP {exc.smtp_code})"
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException) and exc.strerror:
        return f" ({exc.strerror})"
    return ""
