"""Cross-device completion: the tab that asked for a link gets the session once it is confirmed, in the
browser that asked or, anywhere else, by someone who types the number that tab shows (number matching).

The red team's attack (issue finding 1): knowing only the victim's address, an attacker asks for a
cross-device sign-in and keeps the ``pendingRef``; the victim opens the genuine mail and clicks. Every path
the victim can take (the API's verify, the landing page, a browser) must leave the attacker's poll empty.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from magiclink_auth.models import PendingLink

from .web_helpers import (
    ask_for_link,
    claims,
    confirm,
    confirm_with_number,
    link_path,
    number_shown,
    token_in,
)

pytestmark = pytest.mark.django_db

START = "/v1/auth/magiclink/signup-in/email"
PENDING = "/v1/auth/magiclink/pending-session"
VERIFY = "/v1/auth/magiclink/verify"
LANDING_URI = "https://app.example.com/auth/link/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def start_cross_device(api, login_id: str = "ada@example.com", **extra) -> dict:
    response = api.post(START, {"loginId": login_id, "URI": LANDING_URI, "loginOptions": {"crossDevice": True}},
                        **extra)
    assert response.status_code == 200, response.content
    assert response.json()["maskedEmail"] == "a***@example.com"
    return response.json()


def waiting(api, ref: str) -> str:
    return api.post(PENDING, {"pendingRef": ref}).json().get("errorCode", "")


def test_a_start_call_without_cross_device_answers_no_pending_ref_and_no_code(api, outbox):
    body = api.post(START, {"loginId": "ada@example.com"}).json()
    assert "pendingRef" not in body and "code" not in body


def test_a_cross_device_start_answers_a_pending_ref_and_a_short_number(api, outbox):
    body = start_cross_device(api)
    assert len(body["pendingRef"]) >= 43
    assert body["code"].isdigit() and len(body["code"]) == 3


def test_the_attackers_poll_gets_nothing_when_the_victim_verifies_without_the_number(api, outbox):
    """Finding 1 through the API: the victim's verify (as a site's own landing page makes it) is refused."""
    attacker = start_cross_device(api)
    victim = api.post(VERIFY, {"token": token_in(outbox[-1])})
    assert victim.status_code == 403 and victim.json()["errorCode"] == "E062901"
    assert waiting(api, attacker["pendingRef"]) == "E062503"
    assert PendingLink.objects.get().consumed_at is None


def test_the_attackers_poll_gets_nothing_when_the_victim_clicks_on_the_landing_page(api, outbox):
    """Finding 1 on the landing page: the victim is asked for a number they do not have, and told why."""
    attacker = start_cross_device(api, HTTP_USER_AGENT=FIREFOX)
    victim = Client()
    page = victim.get(link_path(outbox[-1]))
    assert b"form.submit()" not in page.content
    assert b"another device" in page.content and b"that device" in page.content
    assert b"Firefox on Linux" in page.content and b'name="number"' in page.content
    clicked = confirm(victim, token_in(outbox[-1]))
    assert clicked.status_code == 403 and b'id="number-error"' in clicked.content
    assert "DS" not in clicked.cookies
    assert waiting(api, attacker["pendingRef"]) == "E062503"


def test_wrong_numbers_kill_the_link_and_the_pending_ref(api, outbox):
    attacker = start_cross_device(api)
    wrong = "1" if attacker["code"] != "1" * 3 else "2"
    victim = Client()
    for left in (2, 1):
        page = confirm_with_number(victim, token_in(outbox[-1]), wrong * 3)
        assert page.status_code == 403 and f"{left} tr".encode() in page.content
    killed = confirm_with_number(victim, token_in(outbox[-1]), wrong * 3)
    assert killed.status_code == 410 and b"no longer works" in killed.content
    assert waiting(api, attacker["pendingRef"]) == "E062521"
    late = api.post(VERIFY, {"token": token_in(outbox[-1]), "code": attacker["code"]})
    assert late.status_code == 401 and late.json()["errorCode"] == "E062505"


def test_wrong_numbers_through_the_api_count_too(api, outbox):
    attacker = start_cross_device(api)
    wrong = str(int(attacker["code"]) % 900 + 100)
    codes = [api.post(VERIFY, {"token": token_in(outbox[-1]), "code": wrong}).json()["errorCode"]
             for _ in range(3)]
    assert codes == ["E062902", "E062902", "E062903"]
    assert waiting(api, attacker["pendingRef"]) == "E062521"


def test_pending_session_answers_the_session_once_after_a_verify_with_the_number(api, outbox):
    ref = start_cross_device(api)
    assert waiting(api, ref["pendingRef"]) == "E062503"
    verified = api.post(VERIFY, {"token": token_in(outbox[-1]), "code": f" {ref['code']} "})
    assert verified.status_code == 200, verified.content
    collected = api.post(PENDING, {"pendingRef": ref["pendingRef"]})
    assert collected.status_code == 200, collected.content
    body = collected.json()
    assert body["user"]["email"] == "ada@example.com" and body["firstSeen"] is True
    assert claims(body["refreshJwt"])["sid"] == claims(verified.json()["refreshJwt"])["sid"]
    assert collected.cookies["DS"]["httponly"] and collected.cookies["DSR"].value == body["refreshJwt"]
    assert waiting(api, ref["pendingRef"]) == "E062522"


@pytest.mark.parametrize("ref", ["unknown", "x" * 128])
def test_an_unknown_pending_ref_is_refused(api, ref):
    response = api.post(PENDING, {"pendingRef": ref})
    assert response.status_code == 401 and response.json()["errorCode"] == "E062521"


def test_a_pending_ref_expires_with_its_link(api, outbox):
    ref = start_cross_device(api)
    api.post(VERIFY, {"token": token_in(outbox[-1]), "code": ref["code"]})
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert waiting(api, ref["pendingRef"]) == "E062521"


@pytest.mark.parametrize("body", [{}, {"pendingRef": ""}, {"pendingRef": {"a": 1}}, ["x"]])
def test_a_malformed_pending_session_body_gets_the_error_json(api, body):
    response = api.post(PENDING, body)
    assert response.status_code == 400 and response.json()["errorCode"].startswith("E0110")


def test_pending_session_needs_the_project_id(api):
    response = api.post(PENDING, {"pendingRef": "x"}, project_id="P2other")
    assert response.status_code == 401 and response.json()["errorCode"] == "E011102"


def test_the_check_page_shows_the_number_and_polls_its_status_url(client, outbox):
    ask_for_link(client)
    page = client.get("/auth/check/")
    assert page.status_code == 200
    assert b"/auth/check/status/" in page.content
    assert number_shown(client).isdigit()


def test_link_opened_on_another_device_signs_in_the_device_that_asked_once_the_number_is_typed(client, outbox):
    ask_for_link(client)
    phone = Client()
    page = phone.get(link_path(outbox[-1]))
    assert b"another device" in page.content and b"form.submit()" not in page.content
    confirmed = confirm_with_number(phone, token_in(outbox[-1]), number_shown(client))
    assert confirmed.status_code == 200
    assert b"You are signed in on your other device" in confirmed.content
    assert "DS" not in confirmed.cookies and phone.get("/auth/account/").status_code == 302
    # The asking browser, without script, continues from the check page.
    signed_in = client.post("/auth/check/", {"action": "continue"})
    assert signed_in.status_code == 303 and signed_in["Location"] == "/auth/account/"
    assert b"ada@example.com" in client.get("/auth/account/").content


def test_the_browser_that_asked_needs_no_number(client, outbox):
    ask_for_link(client)
    page = client.get(link_path(outbox[-1]))
    assert b"form.submit()" in page.content and b'name="number"' not in page.content
    assert confirm(client, token_in(outbox[-1])).status_code == 303


def test_the_mail_says_what_was_asked_and_from_where(api, outbox):
    start_cross_device(api, HTTP_USER_AGENT=FIREFOX)
    asked = outbox[-1].context["asked"]
    assert asked == {"browser": "Firefox", "system": "Linux", "at": asked["at"], "cross_device": True}
    assert asked["at"].endswith(" UTC")


def test_the_number_is_stored_only_as_a_keyed_hash(api, outbox):
    from magiclink_auth.models import BrowserLogin

    body = start_cross_device(api)
    stored = BrowserLogin.objects.values().get()
    assert body["code"] not in {str(value) for value in stored.values()}
    # Not a plain hash either: 900 candidates would reverse it.
    assert stored["number_hash"] != hashlib.sha256(body["code"].encode()).hexdigest()
    assert len(stored["number_hash"]) == 64


@pytest.mark.parametrize("locale, expected", [
    ("en", "Asked from Firefox on Linux at"),
    ("fr", "Demandé depuis Firefox sur Linux le"),
])
def test_the_mail_text_says_it_signs_in_the_device_that_asked(api, outbox, locale, expected):
    from magiclink_auth.delivery.base import render

    api.post(START, {"loginId": "ada@example.com", "loginOptions": {"crossDevice": True, "locale": locale}},
             HTTP_USER_AGENT=FIREFOX)
    for part in ("body.txt", "body.html"):
        text = render(outbox[-1], part)
        assert expected in text
        assert ("Never type a number" if locale == "en" else "Ne saisissez jamais un nombre") in text
def test_the_check_page_polls_its_status_url_and_keeps_the_pending_ref_in_the_session(client, outbox):
    ask_for_link(client)
    page = client.get("/auth/check/")
    assert page.status_code == 200
    assert b"/auth/check/status/" in page.content
    assert client.session["magiclink_pending"]["pendingRef"].encode() not in page.content
