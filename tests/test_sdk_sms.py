"""Sign-up-or-in by SMS through the Python SDK, with the real Twilio backend talking to a fake Twilio.

The site's SMS backend is ``magiclink_auth.delivery.sms.TwilioBackend``; its ``API_BASE_URL`` points the
twilio client at a small HTTP server on loopback, which receives the very request Twilio would. The link is
read back out of that request's ``Body`` and verified through the SDK, as a person tapping it would.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from magiclink_auth.models import PendingLink
from tests.conftest import sdk_refused
from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, twilio_delivery

pytest.importorskip("descope", reason="the descope SDK is not installed (the [test] extra installs it)")
from descope import DeliveryMethod

pytestmark = pytest.mark.sdk

SMS = DeliveryMethod.SMS
PHONE = "+14155550123"
URI = "https://app.example.com/welcome"


def link_in(body: str) -> str:
    urls = re.findall(r"https?://\S+", body)
    assert len(urls) == 1, body
    return urls[0]


def token_in(body: str) -> str:
    return parse_qs(urlsplit(link_in(body)).query)["t"][0]


def test_sms_sign_up_or_in_through_twilio_then_verify(descope, fake_twilio, settings, outbox):
    twilio_delivery(settings, fake_twilio)

    masked = descope.magiclink.sign_up_or_in(SMS, PHONE, URI)
    assert masked.endswith("0123") and PHONE not in masked

    [request] = fake_twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert fake_twilio.basic_auth_of(request) == (ACCOUNT_SID, AUTH_TOKEN)
    form = request["form"]
    assert form["To"] == PHONE and form["From"] == FROM_NUMBER
    assert link_in(form["Body"]).startswith(f"{URI}?t=")
    assert outbox == [], "the SMS went through Twilio, not the in-memory backend"

    verified = descope.magiclink.verify(token_in(form["Body"]))
    assert verified["firstSeen"] is True
    assert verified["sessionToken"]["amr"] == ["sms"]
    assert verified["user"]["phone"] == PHONE and verified["user"]["verifiedPhone"] is True
    assert verified["user"]["loginIds"] == [PHONE]
    session = verified["sessionToken"]["jwt"]
    assert descope.validate_session(session)["userId"] == verified["userId"]
    link = PendingLink.objects.get()
    assert link.delivery_status == PendingLink.Delivery.SENT
    assert link.delivery_message_id == "SM" + "1".zfill(32), "Twilio's message sid is kept on the link"

    # The same phone again signs in the same user.
    descope.magiclink.sign_up_or_in(SMS, PHONE, URI)
    again = descope.magiclink.verify(token_in(fake_twilio.requests[-1]["form"]["Body"]))
    assert again["firstSeen"] is False and again["userId"] == verified["userId"]


def test_sms_sign_in_through_a_messaging_service(descope, fake_twilio, settings):
    twilio_delivery(settings, fake_twilio, MESSAGING_SERVICE_SID="MG" + "2" * 32)
    descope.magiclink.sign_up_or_in(SMS, PHONE, URI)
    descope.magiclink.verify(token_in(fake_twilio.requests[-1]["form"]["Body"]))

    assert descope.magiclink.sign_in(SMS, PHONE, URI).endswith("0123")
    form = fake_twilio.requests[-1]["form"]
    assert form["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in form
    assert descope.magiclink.verify(token_in(form["Body"]))["firstSeen"] is False


def test_twilio_refusing_the_message_is_recorded_without_the_link(descope, fake_twilio, settings):
    twilio_delivery(settings, fake_twilio)
    fake_twilio.reply = (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                               "status": 400, "more_info": "https://www.twilio.com/docs/errors/21211"})

    # The start call answered before delivery was attempted; the failure is recorded on the link.
    assert descope.magiclink.sign_up_or_in(SMS, PHONE, URI).endswith("0123")
    [request] = fake_twilio.requests
    token = token_in(request["form"]["Body"])
    link = PendingLink.objects.get()
    assert link.delivery_status == PendingLink.Delivery.FAILED
    assert "400" in link.delivery_error and "21211" in link.delivery_error
    assert token not in link.delivery_error


def test_sms_sign_up_with_a_name_through_twilio(descope, fake_twilio, settings):
    twilio_delivery(settings, fake_twilio)
    # sign_up adds the phone to the user and as a top-level "phone" field, as it does for Descope.
    assert descope.magiclink.sign_up(SMS, PHONE, URI, user={"name": "Ada Lovelace"}).endswith("0123")
    [request] = fake_twilio.requests
    assert request["form"]["To"] == PHONE
    verified = descope.magiclink.verify(token_in(request["form"]["Body"]))
    assert verified["user"]["name"] == "Ada Lovelace" and verified["user"]["phone"] == PHONE


def test_an_invalid_phone_is_refused_before_anything_is_sent(descope, fake_twilio, settings):
    twilio_delivery(settings, fake_twilio)
    with sdk_refused(400, "E062102"):
        descope.magiclink.sign_up_or_in(SMS, "+1 555 not a phone", URI)
    assert fake_twilio.requests == []
