"""Cross-device completion: the tab that asked for a link gets the session once it is confirmed anywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from magiclink_auth.models import PendingLink

from .web_helpers import ask_for_link, claims, confirm, link_path, token_in

pytestmark = pytest.mark.django_db

START = "/v1/auth/magiclink/signup-in/email"
PENDING = "/v1/auth/magiclink/pending-session"
VERIFY = "/v1/auth/magiclink/verify"


def start_cross_device(api) -> str:
    response = api.post(START, {"loginId": "ada@example.com", "loginOptions": {"crossDevice": True}})
    assert response.status_code == 200, response.content
    assert response.json()["maskedEmail"] == "a***@example.com"
    return response.json()["pendingRef"]


def test_a_start_call_without_cross_device_answers_no_pending_ref(api, outbox):
    response = api.post(START, {"loginId": "ada@example.com"})
    assert "pendingRef" not in response.json()


def test_pending_session_waits_then_answers_the_session_once(api, outbox):
    ref = start_cross_device(api)
    waiting = api.post(PENDING, {"pendingRef": ref})
    assert waiting.status_code == 401 and waiting.json()["errorCode"] == "E062503"
    verified = api.post(VERIFY, {"token": token_in(outbox[-1])})
    collected = api.post(PENDING, {"pendingRef": ref})
    assert collected.status_code == 200, collected.content
    body = collected.json()
    assert body["user"]["email"] == "ada@example.com" and body["firstSeen"] is True
    assert claims(body["refreshJwt"])["sid"] == claims(verified.json()["refreshJwt"])["sid"]
    assert collected.cookies["DS"]["httponly"] and collected.cookies["DSR"].value == body["refreshJwt"]
    again = api.post(PENDING, {"pendingRef": ref})
    assert again.status_code == 401 and again.json()["errorCode"] == "E062522"


@pytest.mark.parametrize("ref", ["unknown", "x" * 128])
def test_an_unknown_pending_ref_is_refused(api, ref):
    response = api.post(PENDING, {"pendingRef": ref})
    assert response.status_code == 401 and response.json()["errorCode"] == "E062521"


def test_a_pending_ref_expires_with_its_link(api, outbox):
    ref = start_cross_device(api)
    api.post(VERIFY, {"token": token_in(outbox[-1])})
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.post(PENDING, {"pendingRef": ref}).json()["errorCode"] == "E062521"


@pytest.mark.parametrize("body", [{}, {"pendingRef": ""}, {"pendingRef": {"a": 1}}, ["x"]])
def test_a_malformed_pending_session_body_gets_the_error_json(api, body):
    response = api.post(PENDING, body)
    assert response.status_code == 400 and response.json()["errorCode"].startswith("E0110")


def test_pending_session_needs_the_project_id(api):
    response = api.post(PENDING, {"pendingRef": "x"}, project_id="P2other")
    assert response.status_code == 401 and response.json()["errorCode"] == "E011102"


def test_link_opened_on_another_device_signs_in_the_device_that_asked(client, outbox):
    ask_for_link(client)
    phone = Client()
    page = phone.get(link_path(outbox[-1]))
    assert b"another device" in page.content and b"form.submit()" not in page.content
    confirmed = confirm(phone, token_in(outbox[-1]))
    assert confirmed.status_code == 200
    assert b"You are signed in on your other device" in confirmed.content
    assert "DS" not in confirmed.cookies and phone.get("/auth/account/").status_code == 302
    # The asking browser, without script, continues from the check page.
    signed_in = client.post("/auth/check/", {"action": "continue"})
    assert signed_in.status_code == 303 and signed_in["Location"] == "/auth/account/"
    assert b"ada@example.com" in client.get("/auth/account/").content


def test_the_check_page_polls_its_status_url_and_keeps_the_pending_ref_in_the_session(client, outbox):
    ask_for_link(client)
    page = client.get("/auth/check/")
    assert page.status_code == 200
    assert b"/auth/check/status/" in page.content
    assert client.session["magiclink_pending"]["pendingRef"].encode() not in page.content
