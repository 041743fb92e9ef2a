"""Audit events: each signal is sent by the flow it names and recorded, masked, with no secret."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from magiclink_auth import signals
from magiclink_auth.audit import redact
from magiclink_auth.delivery import dev
from magiclink_auth.models import AuditEvent, PendingLink, RefreshSession
from tests.conftest import token_of
from tests.web_helpers import ask_for_link, confirm, token_in

pytestmark = pytest.mark.django_db

SIGNUP = "/v1/auth/magiclink/signup/email"
UPDATE_EMAIL = "/v1/auth/magiclink/update/email"
UPDATE_PHONE = "/v1/auth/magiclink/update/phone/sms"
VERIFY = "/v1/auth/magiclink/verify"


@pytest.fixture
def caught():
    """Every signal sent during the test, with its keyword arguments."""
    seen: list[tuple[str, dict]] = []
    receivers = []
    for signal, name in signals.ALL_SIGNALS.items():

        def receiver(sender, name=name, **kwargs):
            seen.append((name, kwargs))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield seen
    for signal, receiver in receivers:
        signal.disconnect(receiver)


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=name).order_by("pk"))


def test_start_records_link_requested_and_link_sent(api, outbox, caught):
    api.post(SIGNUP, {"loginId": "ada@example.com"}, REMOTE_ADDR="203.0.113.5")
    link = PendingLink.objects.get()
    (requested,) = events("link_requested")
    assert (requested.link_id, requested.method, requested.target, requested.reason, requested.ip) == (
        link.pk,
        "email",
        "a***@example.com",
        "signup",
        "203.0.113.5",
    )
    (sent,) = events("link_sent")
    assert sent.link_id == link.pk and sent.reason == "sent" and sent.data == {"provider": "memory"}
    assert [name for name, _ in caught] == ["link_requested", "link_sent"]
    assert caught[0][1]["link"] == link


def test_delivery_failure_is_recorded(api, outbox):
    dev.MemoryBackend.fail_with = ConnectionError("provider down")
    api.post(SIGNUP, {"loginId": "bo@example.com"})
    (failed,) = events("delivery_failed")
    assert failed.target == "b***@example.com" and "simulated outage" in failed.reason
    assert not events("link_sent")


def test_verify_records_link_verified_with_user_and_session(api, outbox, caught):
    api.post(SIGNUP, {"loginId": "cy@example.com"})
    api.post(VERIFY, {"token": token_of(outbox[-1])})
    (verified,) = events("link_verified")
    session = RefreshSession.objects.get()
    assert verified.user == session.user and verified.session_id == session.pk
    assert verified.data == {"first_seen": True}
    kwargs = dict(caught)["link_verified"]
    assert kwargs["first_seen"] is True and kwargs["session"] == session


@pytest.mark.parametrize("case, reason", [("unknown", "link_invalid"), ("reused", "link_used")])
def test_verify_refused_records_the_reason(api, outbox, case, reason):
    api.post(SIGNUP, {"loginId": "di@example.com"})
    token = token_of(outbox[-1])
    if case == "reused":
        api.post(VERIFY, {"token": token})
    else:
        token = "x" * 43
    assert api.post(VERIFY, {"token": token}, REMOTE_ADDR="192.0.2.44").status_code == 401
    (refused,) = events("verify_refused")
    assert refused.reason == reason and refused.ip == "192.0.2.44"
    if case == "reused":  # the link is known: the event says which, and to where (masked)
        assert (refused.link_id, refused.target) == (PendingLink.objects.get().pk, "d***@example.com")


def test_refused_sign_in_link_names_its_user(api, signed_up, outbox):
    signed_up("dan@example.com")
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "dan@example.com"})
    link = PendingLink.objects.get(purpose="signin")
    PendingLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.post(VERIFY, {"token": token_of(outbox[-1])}).status_code == 401
    (refused,) = events("verify_refused")
    assert (refused.reason, refused.link_id, refused.user_id) == ("link_expired", link.pk, link.user_id)


def test_refresh_and_reuse_are_recorded(api, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REFRESH_REUSE_GRACE": 0}
    first = signed_up("ed@example.com")["refreshJwt"]
    api.post("/v1/auth/refresh", {}, refresh=first)
    (refreshed,) = events("session_refreshed")
    session = RefreshSession.objects.get()
    assert refreshed.session_id == session.pk and refreshed.user == session.user
    assert api.post("/v1/auth/refresh", {}, refresh=first).status_code == 401
    (reuse,) = events("refresh_reuse_detected")
    assert reuse.session_id == session.pk
    assert events("session_revoked")[0].reason == "reuse"


def test_logout_is_recorded(api, signed_up):
    refresh = signed_up("flo@example.com")["refreshJwt"]
    api.post("/v1/auth/logout", {}, refresh=refresh, REMOTE_ADDR="198.51.100.9")
    (logout,) = events("logout")
    assert logout.session_id == RefreshSession.objects.get().pk and logout.ip == "198.51.100.9"
    assert events("session_revoked")[0].reason == "logout"


def test_logout_all_is_recorded_with_the_count(api, signed_up, outbox):
    refresh = signed_up("gil@example.com")["refreshJwt"]
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "gil@example.com"})
    api.post(VERIFY, {"token": token_of(outbox[-1])})
    api.post("/v1/auth/logoutall", {}, refresh=refresh)
    (logout_all,) = events("logout_all")
    assert logout_all.data == {"count": 2}
    assert events("sessions_revoked_all")[0].data == {"count": 2}


def test_email_and_phone_changes_are_recorded_masked(api, outbox, signed_up):
    refresh = signed_up("hal@example.com")["refreshJwt"]
    api.post(UPDATE_EMAIL, {"loginId": "hal@example.com", "email": "hal@new.example"}, refresh=refresh)
    api.post(VERIFY, {"token": token_of(outbox[-1])}, refresh=refresh)
    api.post(UPDATE_PHONE, {"loginId": "hal@example.com", "phone": "+14155552671"}, refresh=refresh)
    api.post(VERIFY, {"token": token_of(outbox[-1])}, refresh=refresh)
    user = get_user_model().objects.get()
    (email,) = events("email_changed")
    assert (email.user, email.target, email.data) == (user, "h***@new.example", {"old": "h***@example.com"})
    (phone,) = events("phone_changed")
    assert (phone.user, phone.target, phone.data) == (user, "+*******2671", {"old": ""})


def test_account_merge_is_recorded(api, outbox, signed_up):
    bob = signed_up("bob@example.com")
    ada = signed_up("ada@example.com")
    body = {"loginId": "ada@example.com", "email": "bob@example.com", "onMergeUseExisting": True}
    code = api.post(UPDATE_EMAIL, body, refresh=ada["refreshJwt"]).json()["code"]
    api.post(VERIFY, {"token": token_of(outbox[-1]), "code": code}, refresh=bob["refreshJwt"])
    (merged,) = events("accounts_merged")
    assert str(merged.user_id) == bob["user"]["userId"]
    assert merged.target == "b***@example.com" and merged.link_id == PendingLink.objects.latest("pk").pk
    assert merged.data == {"merged_user_id": ada["user"]["userId"], "moved_login_ids": ["a***@example.com"]}
    revoked = events("sessions_revoked_all")
    assert [(str(e.user_id), e.reason) for e in revoked] == [(ada["user"]["userId"], "merged")]


def test_a_scanner_opening_the_landing_page_is_recorded_and_the_link_still_works(api, outbox, client):
    api.post(SIGNUP, {"loginId": "lee@example.com"})
    token = token_of(outbox[-1])
    scanner_ua = "Mozilla/5.0 (compatible; SafeLinks scanner)"
    page = client.get(f"/auth/link/?t={token}", HTTP_USER_AGENT=scanner_ua, REMOTE_ADDR="192.0.2.80")
    assert page.status_code == 200
    (opened,) = events("scanner_open_seen")
    assert opened.link_id == PendingLink.objects.get().pk and opened.ip == "192.0.2.80"
    assert opened.data == {"user_agent": scanner_ua} and opened.target == "l***@example.com"
    assert api.post(VERIFY, {"token": token}).status_code == 200


def test_audit_log_can_be_turned_off(api, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "AUDIT_LOG": False}
    signed_up("ivy@example.com")
    assert not AuditEvent.objects.exists()


def test_no_audit_event_holds_a_secret(api, signed_up, outbox):
    session = signed_up("jo@example.com")
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "jo@example.com"})
    token = token_of(outbox[-1])
    api.post("/v1/auth/refresh", {}, refresh=session["refreshJwt"])
    api.post("/v1/auth/logout", {}, refresh=session["refreshJwt"])
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert AuditEvent.objects.count() >= 6
    for secret in (
        token,
        token_of(outbox[0]),
        session["sessionJwt"],
        session["refreshJwt"],
        outbox[-1].url,
        "jo@example.com",
    ):
        assert secret not in stored


def test_redact_drops_secret_keys_and_jwt_or_link_shaped_values():
    data = {
        "token": "abc",
        "refreshJwt": "x",
        "note": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
        "next": "https://x.example/?t=abc",
        "host": "mail.example.com",
        "nested": [{"password": "p", "ok": 1}],
        "count": 3,
    }
    assert redact(data) == {
        "note": "[redacted]",
        "next": "[redacted]",
        "host": "mail.example.com",
        "nested": [{"ok": 1}],
        "count": 3,
    }


def test_signing_out_of_the_web_pages_is_recorded_as_a_logout(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    client.post("/auth/logout/", REMOTE_ADDR="198.51.100.7")
    (logout,) = events("logout")
    assert logout.session_id == RefreshSession.objects.get().pk and logout.ip == "198.51.100.7"
    assert events("session_revoked")[0].reason == "logout"
