"""Delivery through the pluggable backends: Django mail (so any anymail ESP), file, console, templates."""

import io
import json
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command

from magiclink_auth.adapter import DefaultAdapter
from magiclink_auth.delivery.dev import MemoryBackend
from magiclink_auth.errors import DeliveryCancelled
from magiclink_auth.models import PendingLink
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

START = "/v1/auth/magiclink/signup-in/email"


@pytest.fixture
def email_delivery(settings):
    settings.MAGICLINK_AUTH = {
        **settings.MAGICLINK_AUTH,
        "DELIVERY": {**settings.MAGICLINK_AUTH["DELIVERY"], "email": {
            "BACKEND": "magiclink_auth.delivery.email.EmailBackend",
            "OPTIONS": {"FROM_EMAIL": "Login <login@example.com>", "TAGS": ["auth"], "METADATA": {"site": "t"}},
        }},
    }


def test_email_through_django_mail(api, mail_backend, email_delivery):
    mail_backend("django.core.mail.backends.locmem.EmailBackend")
    api.post(START, {"loginId": "ada@example.com", "URI": "https://app.example.com/in?a=1"})
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"] and message.from_email == "Login <login@example.com>"
    assert message.subject == "Finish signing up"
    link = next(word for word in message.body.split() if word.startswith("https://"))
    assert link.startswith("https://app.example.com/in?a=1&t=")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and link.replace("&", "&amp;") in html
    assert api.post("/v1/auth/magiclink/verify", {"token": link.rsplit("t=", 1)[1]}).status_code == 200


def test_anymail_esp_gets_tags_metadata_and_reports_its_message_id(api, mail_backend, email_delivery):
    mail_backend("anymail.backends.test.EmailBackend")
    api.post(START, {"loginId": "ada@example.com"})
    (message,) = mail.outbox
    params = message.anymail_test_params
    assert params["tags"] == ["auth", "magiclink-signup"]
    assert params["metadata"] == {"site": "t", "link_id": PendingLink.objects.get().pk}
    assert params["track_clicks"] is False  # ESP click tracking would rewrite (and pre-open) the link
    link = PendingLink.objects.get()
    assert link.delivery_status == "sent" and link.delivery_message_id == str(message.anymail_status.message_id)


class RefusingMailBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_mail_server_failure_is_recorded_on_the_link_without_the_link(api, mail_backend, email_delivery):
    mail_backend(f"{__name__}.RefusingMailBackend")
    response = api.post(START, {"loginId": "ada@example.com"})
    assert response.status_code == 200 and response.json() == {"maskedEmail": "a***@example.com"}
    link = PendingLink.objects.get()
    assert link.delivery_status == "failed"
    assert link.delivery_error == "SMTPServerDisconnected from the mail backend"


def test_template_id_and_options_choose_and_fill_the_template(api, mail_backend, email_delivery):
    mail_backend("django.core.mail.backends.locmem.EmailBackend")
    body = {"loginId": "ada@example.com",
            "loginOptions": {"templateId": "promo", "templateOptions": {"product": "Acme\r\nBcc: x"}}}
    api.post(START, body)
    (message,) = mail.outbox
    assert message.subject == "Welcome to Acme Bcc: x"
    assert message.body.startswith("Acme Bcc: x says hi. https://app.example.com/")


def test_file_backend_writes_one_json_line_per_message(api, settings, tmp_path):
    path = tmp_path / "sms.jsonl"
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY": {
        **settings.MAGICLINK_AUTH["DELIVERY"],
        "sms": {"BACKEND": "magiclink_auth.delivery.dev.FileBackend", "OPTIONS": {"PATH": str(path)}},
    }}
    api.post("/v1/auth/magiclink/signup-in/sms", {"loginId": "+14155550123"})
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["to"] == "+14155550123" and record["channel"] == "sms"
    assert record["url"] in record["body"]


def test_console_backend_prints_the_message(api, settings, capsys):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY": {
        **settings.MAGICLINK_AUTH["DELIVERY"],
        "email": {"BACKEND": "magiclink_auth.delivery.dev.ConsoleBackend", "OPTIONS": {}},
    }}
    api.post(START, {"loginId": "ada@example.com"})
    printed = capsys.readouterr().out
    assert "To: ada@example.com" in printed and "https://app.example.com/welcome?t=" in printed


def test_sms_body_carries_the_link(api, outbox):
    api.post("/v1/auth/magiclink/signup-in/sms", {"loginId": "+14155550123"})
    from magiclink_auth.delivery.base import render

    body = render(outbox[-1], "body.txt")
    assert body == f"Your sign-in link: {outbox[-1].url}"
    assert token_of(outbox[-1]) in body


class SuppressingBackend(MemoryBackend):
    """Cancels messages to addresses on a suppression list, as a site's backend subclass would."""

    def pre_send(self, message):
        if message.recipient.startswith("bounced@"):
            raise DeliveryCancelled("address on the suppression list")


class ClosedSignUp(DefaultAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False


@pytest.fixture
def suppressing(settings):
    backend = {"BACKEND": f"{__name__}.SuppressingBackend", "OPTIONS": {}}
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY": {"email": backend, "sms": backend}}


def test_a_cancelled_message_is_recorded_and_never_retried(api, outbox, suppressing, clock):
    response = api.post(START, {"loginId": "bounced@example.com"})
    assert response.status_code == 200 and response.json() == {"maskedEmail": "b***@example.com"}
    assert outbox == []
    link = PendingLink.objects.get()
    assert (link.delivery_status, link.delivery_attempts) == ("cancelled", 1)
    assert link.delivery_error == "Cancelled: address on the suppression list"
    assert link.delivery_next_attempt_at is None and link.delivery_sealed_url == ""
    clock.shift(timedelta(minutes=5))  # past any backoff: a failure would be due again by now
    out = io.StringIO()
    call_command("magiclink_retry_deliveries", stdout=out)
    assert out.getvalue().startswith("nothing due")
    assert outbox == [] and PendingLink.objects.get().delivery_attempts == 1


def test_cancelling_one_message_leaves_the_others_alone(api, outbox, suppressing):
    api.post(START, {"loginId": "bounced@example.com"})
    api.post(START, {"loginId": "ada@example.com"})
    assert [message.recipient for message in outbox] == ["ada@example.com"]
    assert PendingLink.objects.get(login_id="ada@example.com").delivery_status == "sent"


def test_a_cancelled_notice_is_not_sent(api, outbox, suppressing, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "ADAPTER": f"{__name__}.ClosedSignUp",
                               "ENUMERATION_SAFE": True}
    for address in ("bounced@example.com", "eve@example.com"):  # no account: each is sent a notice
        assert api.post("/v1/auth/magiclink/signin/email", {"loginId": address}).status_code == 200
    assert [(message.recipient, message.context["notice"]) for message in outbox] == [
        ("eve@example.com", "no_account")]
