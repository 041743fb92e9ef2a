"""The abuse limits when requests arrive at once (issue: 60 start calls from one IP all passed a limit of 30;
one burst for one address sent 16-20 messages and left 15 links live; the SMS budget let 133 through 100;
PostgreSQL deadlocked in link creation; two sign-up links verified at once raised an IntegrityError).

Real threads, each with its own database connection, released together. PostgreSQL (with Redis when
REDIS_URL is set): SQLite runs the same bursts against a live site in test_live_limits.py.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model

from magiclink_auth.models import LoginId, PendingLink
from tests.conftest import token_of
from tests.test_concurrency import all_at_once, post, pytestmark  # noqa: F401 - PostgreSQL only, as there

SIGNUP_IN = "/v1/auth/magiclink/signup-in/{}"
VERIFY = "/v1/auth/magiclink/verify"


def live_links(login_id: str) -> int:
    return PendingLink.objects.filter(login_id=login_id, consumed_at=None, voided_at=None).count()


def no_server_errors(results) -> None:
    assert all(status < 500 for status, _ in results), results
    assert all(isinstance(body, dict) and ("errorCode" in body or status == 200) for status, body in results)


def test_thirty_calls_for_one_address_send_one_message_and_leave_one_live_link(outbox, limits):
    limits(RESEND_COOLDOWN=60)

    results = all_at_once(30, lambda: post(SIGNUP_IN.format("email"), {"loginId": "ada@example.com"}))

    no_server_errors(results)
    assert sorted(status for status, _ in results) == [200] + [429] * 29
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062702"}
    assert len(outbox) == 1 and live_links("ada@example.com") == 1


def test_without_a_cooldown_a_burst_still_leaves_one_live_link_and_never_deadlocks(outbox, limits):
    """The red team's deadlock: simultaneous start calls for one address voided each other's links."""
    limits(RESEND_COOLDOWN=0, START_RATE_PER_LOGIN_ID="10/hour")

    results = all_at_once(30, lambda: post(SIGNUP_IN.format("email"), {"loginId": "ada@example.com"}))

    no_server_errors(results)
    accepted = [body for status, body in results if status == 200]
    assert len(accepted) == 10  # the hourly cap, exactly
    assert 1 <= len(outbox) <= 10  # a link voided before its delivery ran is not sent
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062703"}
    assert live_links("ada@example.com") == 1
    (live,) = PendingLink.objects.filter(consumed_at=None, voided_at=None)
    assert live.pk == PendingLink.objects.order_by("-created_at", "-pk").first().pk  # the newest


def test_sixty_start_calls_from_one_ip_pass_a_limit_of_thirty_at_most_thirty_times(outbox, limits):
    limits(START_RATE_PER_IP="30/hour")

    results = all_at_once(60, lambda: post(SIGNUP_IN.format("email"), {"loginId": f"{os.urandom(4).hex()}@x.io"}))

    no_server_errors(results)
    assert sum(status == 200 for status, _ in results) == 30
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062701"}
    assert len(outbox) == 30


def test_the_sms_budget_holds_against_a_burst(outbox, limits):
    limits(SMS_RATE_SITEWIDE="10/hour", START_RATE_PER_IP=None)
    # Forty numbers in forty prefixes: only the site-wide budget stands in the way.
    prefixes = iter(f"+1{n:03d}5550100" for n in range(200, 240))

    results = all_at_once(40, lambda: post(SIGNUP_IN.format("sms"), {"loginId": next(prefixes)}))

    no_server_errors(results)
    assert sum(status == 200 for status, _ in results) == 10
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062709"}
    assert len([m for m in outbox if m.channel == "sms"]) == 10


def test_two_live_sign_up_links_for_one_address_verified_at_once_make_one_account(outbox, limits, api):
    """Two sign-up links live at once for one address: the owner's (from a browser that signed in to it
    before the account was deleted) and a stranger's, which cannot void the owner's. Both verified
    together: one account, the other verify refused, no IntegrityError."""
    api.post(SIGNUP_IN.format("email"), {"loginId": "ada@example.com"}, REMOTE_ADDR="10.0.0.1")
    assert api.post(VERIFY, {"token": token_of(outbox[-1])}, REMOTE_ADDR="10.0.0.1").status_code == 200
    get_user_model().objects.all().delete()
    api.post(SIGNUP_IN.format("email"), {"loginId": "ada@example.com"}, REMOTE_ADDR="10.0.0.1")
    owners = token_of(outbox[-1])
    api.post(SIGNUP_IN.format("email"), {"loginId": "ada@example.com"}, REMOTE_ADDR="10.6.6.6")
    strangers = token_of(outbox[-1])
    assert live_links("ada@example.com") == 2
    tokens = iter([owners, strangers])
    pairs = [next(tokens), next(tokens)]

    results = all_at_once(2, lambda: post(VERIFY, {"token": pairs.pop()}))

    no_server_errors(results)
    assert 200 in {status for status, _ in results}
    assert get_user_model().objects.count() == 1 and LoginId.objects.filter(value="ada@example.com").count() == 1
    user_ids = {body["user"]["userId"] for status, body in results if status == 200}
    assert len(user_ids) == 1
