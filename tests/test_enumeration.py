"""Enumeration-safe mode: whether a login ID has an account cannot be read from the API's answers."""


import pytest

from magiclink_auth.adapter import DefaultAdapter
from magiclink_auth.conf import DEFAULTS
from magiclink_auth.delivery.base import render
from magiclink_auth.models import PendingLink, Profile

from .conftest import token_of

pytestmark = pytest.mark.django_db

SIGNIN = "/v1/auth/magiclink/signin/{}"
SIGNUP = "/v1/auth/magiclink/signup/{}"


@pytest.fixture
def safe(limits):
    limits(ENUMERATION_SAFE=True)


def seen(response, masked: str):
    """All a caller sees of a response, with the masked address taken out."""
    body = response.content
    assert masked.encode() in body
    headers = sorted((name, value) for name, value in response.items())
    return response.status_code, headers, body.replace(masked.encode(), b"<masked>")


def test_safe_mode_is_the_default():
    assert DEFAULTS["ENUMERATION_SAFE"] is True


def test_sign_in_of_unknown_login_id_answers_as_success(api, safe, signed_up, outbox):
    signed_up("ada@example.com")
    known = api.post(SIGNIN.format("email"), {"loginId": "ada@example.com"})
    unknown = api.post(SIGNIN.format("email"), {"loginId": "eve@example.com"})
    assert known.json() == {"maskedEmail": "a***@example.com"}
    assert unknown.json() == {"maskedEmail": "e***@example.com"}
    assert seen(unknown, "e***@example.com") == seen(known, "a***@example.com")


def test_unknown_login_id_is_told_there_is_no_account_and_sent_a_sign_up_link(api, safe, outbox):
    api.post(SIGNIN.format("email"), {"loginId": "Eve@Example.com", "URI": "https://app.example.com/x"})
    [message] = outbox
    assert message.recipient == "eve@example.com"
    assert message.context["notice"] == "no_account"
    assert message.url.startswith("https://app.example.com/x?t=")
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(message)}).json()
    assert verified["firstSeen"] is True and verified["user"]["loginIds"] == ["eve@example.com"]


def test_no_account_email_says_what_happened(api, safe, real_mail):
    api.post(SIGNIN.format("email"), {"loginId": "eve@example.com"})
    [mail] = real_mail
    assert mail.to == ["eve@example.com"]
    assert mail.subject == "No account uses this address"
    assert "no account uses it" in mail.body
    assert "To create an account with it, open this link:\n\nhttps://app.example.com/welcome?t=" in mail.body


def test_with_sign_up_closed_the_notice_carries_no_link(api, safe, limits, outbox):
    limits(ADAPTER="tests.test_enumeration.ClosedAdapter")
    response = api.post(SIGNIN.format("sms"), {"loginId": "+14155550123"})
    assert response.json() == {"maskedPhone": "+*******0123"}
    assert render(outbox[-1], "body.txt") == "No account uses this number."
    assert not PendingLink.objects.exists()


class ClosedAdapter(DefaultAdapter):
    def is_open_for_signup(self, request):
        return False


def test_sign_up_of_known_login_id_answers_as_success(api, safe, signed_up, outbox):
    signed_up("ada@example.com")
    known = api.post(SIGNUP.format("email"), {"loginId": "ada@example.com", "user": {"name": "Mallory"}})
    new = api.post(SIGNUP.format("email"), {"loginId": "eve@example.com", "user": {"name": "Eve"}})
    assert seen(known, "a***@example.com") == seen(new, "e***@example.com")


def test_known_login_id_gets_a_sign_in_link_saying_it_has_an_account(api, safe, signed_up, outbox):
    user_id = signed_up("ada@example.com", name="Ada")["user"]["userId"]
    api.post(SIGNUP.format("email"), {"loginId": "ADA@example.com", "user": {"name": "Mallory"}})
    message = outbox[-1]
    assert message.recipient == "ada@example.com"
    assert message.context["notice"] == "account_exists" and message.context["name"] == "Ada"
    assert "you already have one" in render(message, "body.txt")
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(message)}).json()
    assert verified["user"]["userId"] == user_id and verified["firstSeen"] is False
    assert verified["user"]["name"] == "Ada"


def test_sms_sign_in_of_unknown_number_answers_as_success(api, safe, outbox):
    api.post(SIGNUP.format("sms"), {"loginId": "+14155550101"})
    api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])})
    known = api.post(SIGNIN.format("sms"), {"loginId": "+14155550101"})
    unknown = api.post(SIGNIN.format("sms"), {"loginId": "+14155550102"})
    assert seen(known, "+*******0101") == seen(unknown, "+*******0102")
    assert outbox[-1].recipient == "+14155550102" and outbox[-1].context["notice"] == "no_account"


def test_disabled_user_is_sent_nothing_and_the_answer_does_not_say_so(api, safe, signed_up, outbox):
    user_id = signed_up("ada@example.com")["user"]["userId"]
    Profile.objects.filter(user_id=user_id).update(status=Profile.Status.DISABLED)
    sent = len(outbox)
    disabled = api.post(SIGNIN.format("email"), {"loginId": "ada@example.com"})
    unknown = api.post(SIGNIN.format("email"), {"loginId": "eve@example.com"})
    assert seen(disabled, "a***@example.com") == seen(unknown, "e***@example.com")
    assert [m.recipient for m in outbox[sent:]] == ["eve@example.com"]


def test_a_refused_uri_is_refused_alike_for_known_and_unknown(api, safe, signed_up):
    signed_up("ada@example.com")
    evil = {"URI": "https://evil.net/"}
    known = api.post(SIGNIN.format("email"), {"loginId": "ada@example.com", **evil})
    unknown = api.post(SIGNIN.format("email"), {"loginId": "eve@example.com", **evil})
    assert known.status_code == unknown.status_code == 400
    assert known.content == unknown.content


def test_rate_limits_count_notices_as_messages(api, safe, limits):
    limits(RESEND_COOLDOWN=60)
    api.post(SIGNIN.format("email"), {"loginId": "eve@example.com"})
    assert api.post(SIGNIN.format("email"), {"loginId": "eve@example.com"}).json()["errorCode"] == "E062702"


def test_off_the_documented_errors_are_kept(api, limits, signed_up):
    limits(ENUMERATION_SAFE=False)
    signed_up("ada@example.com")
    assert api.post(SIGNIN.format("email"), {"loginId": "eve@example.com"}).json()["errorCode"] == "E062108"
    assert api.post(SIGNUP.format("email"), {"loginId": "ada@example.com"}).json()["errorCode"] == "E062107"


@pytest.mark.sdk
@pytest.mark.django_db(transaction=True)
def test_python_sdk_sees_success_for_unknown_and_known_alike(live_server, safe, outbox):
    sdk = pytest.importorskip("descope", reason="the descope SDK is not installed")
    DeliveryMethod, DescopeClient = sdk.DeliveryMethod, sdk.DescopeClient
    from .conftest import PROJECT_ID

    client = DescopeClient(project_id=PROJECT_ID, base_url=live_server.url)
    uri = "https://app.example.com/verify"
    assert client.magiclink.sign_up(DeliveryMethod.EMAIL, "ada@example.com", uri) == "a***@example.com"
    client.magiclink.verify(token_of(outbox[-1]))
    assert client.magiclink.sign_up(DeliveryMethod.EMAIL, "ada@example.com", uri) == "a***@example.com"
    assert client.magiclink.sign_in(DeliveryMethod.EMAIL, "nobody@example.com", uri) == "n***@example.com"
    assert [m.context.get("notice") for m in outbox] == [None, "account_exists", "no_account"]


def test_cross_device_answers_and_polling_do_not_tell_a_disabled_user_apart(api, safe, signed_up, outbox):
    for email in ("ada@example.com", "bob@example.com"):
        signed_up(email)
    Profile.objects.filter(user__login_ids__value="bob@example.com").update(status=Profile.Status.DISABLED)
    answers = {}
    for email in ("ada@example.com", "bob@example.com"):
        response = api.post(SIGNIN.format("email"), {"loginId": email, "loginOptions": {"crossDevice": True}})
        ref = response.json().pop("pendingRef")
        polled = api.post("/v1/auth/magiclink/pending-session", {"pendingRef": ref})
        answers[email] = (response.status_code, sorted(response.json()), len(ref), polled.status_code,
                          polled.json()["errorCode"])
    expected = (200, ["code", "maskedEmail"], 43, 401, "E062503")
    assert answers["ada@example.com"] == answers["bob@example.com"] == expected
