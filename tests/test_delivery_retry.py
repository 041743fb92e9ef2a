"""Background delivery that loses nothing: a provider outage, then recovery, and every link goes out once.

The email provider is an anymail-style backend raising ``AnymailAPIError`` (HTTP 503) while it is down; the
SMS provider is Twilio's own client talking to the fake of Twilio's REST API (tests/twilio_fake.py), answering
503 while down.
Retries run through ``manage.py magiclink_retry_deliveries`` on the immediate task backend, and through
django-tasks-db's ``DatabaseBackend`` with its worker (``db_worker``) run in-process.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import django
import pytest
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.utils import timezone

from magiclink_auth.delivery import BaseBackend
from magiclink_auth.models import PendingLink
from magiclink_auth.tasks import retry_delay
from tests.twilio_fake import twilio_delivery

pytestmark = pytest.mark.django_db

# The dummy backend keeps tasks and never runs them: a worker that is down, or a queue that lost them.
TASKS_PACKAGE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
DUMMY_BACKEND = f"{TASKS_PACKAGE}.backends.dummy.DummyBackend"

EMAILS = [f"user{i}@example.com" for i in range(6)]
PHONES = ["+14155550101", "+14155550102", "+14155550103"]


class Provider:
    """The state of both fake providers: down or up, and what each accepted."""

    down = False
    refuse_recipients = False
    fail_next = 0  # fail this many attempts, then recover by itself
    twilio = None  # the fake Twilio (tests/twilio_fake.py)


def _should_fail() -> bool:
    if Provider.fail_next > 0:
        Provider.fail_next -= 1
        return True
    return Provider.down


class OutageMailBackend(LocmemBackend):
    """Django's locmem outbox behind an ESP that can be down (anymail raises AnymailAPIError then)."""

    def send_messages(self, messages):
        if Provider.refuse_recipients:
            raise AnymailRecipientsRefused("Invalid recipient")
        if _should_fail():
            raise AnymailAPIError("ESP API response 503: Service Unavailable", status_code=503)
        return super().send_messages(messages)


def twilio_reply() -> tuple[int, dict] | None:
    if Provider.refuse_recipients:
        return 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
    if _should_fail():
        return 503, {"code": 20500, "message": "Service unavailable", "status": 503}
    return None  # accepted


@pytest.fixture
def providers(settings, mail_backend, fake_twilio):
    Provider.down, Provider.refuse_recipients, Provider.fail_next = False, False, 0
    Provider.twilio = fake_twilio
    fake_twilio.reply = twilio_reply
    mail_backend(f"{__name__}.OutageMailBackend")
    twilio_delivery(settings, fake_twilio)
    settings.MAGICLINK_AUTH = {
        **settings.MAGICLINK_AUTH,
        "DELIVERY": {**settings.MAGICLINK_AUTH["DELIVERY"], "email": {
            "BACKEND": "magiclink_auth.delivery.email.EmailBackend", "OPTIONS": {}}},
        "DELIVERY_RETRY_BACKOFF": 0.2,
        "DELIVERY_RETRY_MAX_BACKOFF": 1,
    }
    return Provider


def start_all(api):
    for email in EMAILS:
        assert api.post("/v1/auth/magiclink/signup-in/email", {"loginId": email}).status_code == 200
    for phone in PHONES:
        assert api.post("/v1/auth/magiclink/signup-in/sms", {"loginId": phone}).status_code == 200


def retry_command() -> str:
    out = io.StringIO()
    call_command("magiclink_retry_deliveries", stdout=out)
    return out.getvalue()


def wait_until_due(clock) -> None:
    """Move the test's clock just past the last link's next attempt."""
    due = max(PendingLink.objects.exclude(delivery_next_attempt_at=None)
              .values_list("delivery_next_attempt_at", flat=True))
    clock.shift(max(due - timezone.now(), timedelta(0)) + timedelta(milliseconds=50))


def delivered_links() -> dict[str, str]:
    """Recipient -> the link URL it received, from both providers' records."""
    links = {}
    for message in mail.outbox:
        (recipient,) = message.to
        assert recipient not in links, f"{recipient} got two messages"
        links[recipient] = next(w for w in message.body.split() if w.startswith("https://"))
    for sms in Provider.twilio.delivered:
        assert sms["To"] not in links, f"{sms['To']} got two messages"
        links[sms["To"]] = sms["Body"].rsplit(" ", 1)[1]
    return links


def assert_all_delivered_once(api):
    links = delivered_links()
    assert sorted(links) == sorted(EMAILS + PHONES)
    for link in PendingLink.objects.all():
        assert link.delivery_status == "sent" and link.delivery_sealed_url == ""
        assert link.delivery_next_attempt_at is None and link.delivery_sent_at is not None
    for url in links.values():  # every delivered link still works
        token = url.rsplit("t=", 1)[1]
        assert api.post("/v1/auth/magiclink/verify", {"token": token}).status_code == 200


def test_outage_then_recovery_loses_nothing(api, providers, settings, clock):
    # Waits of 0.5 s, then 1 s.
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY_RETRY_BACKOFF": 0.5}
    providers.down = True
    start_all(api)  # the start calls answer 200 during the outage: delivery is not the request's business
    assert mail.outbox == [] and providers.twilio.delivered == []
    links = PendingLink.objects.all()
    assert {(link.delivery_status, link.delivery_attempts) for link in links} == {("failed", 1)}
    assert {link.delivery_error for link in links} == {
        "AnymailAPIError from the mail backend (HTTP 503)", "Twilio answered 503 (code 20500)"}
    assert all(link.delivery_sealed_url and link.delivery_next_attempt_at for link in links)

    wait_until_due(clock)
    retried_at = timezone.now()
    assert retry_command().startswith("retry 9;")  # still down: each retried, and rescheduled
    links = PendingLink.objects.all()
    assert {link.delivery_attempts for link in links} == {2}
    # The second wait is twice the first (plus jitter).
    assert all(link.delivery_next_attempt_at >= retried_at + timedelta(seconds=1) for link in links)

    providers.down = False
    # The backoff is respected: a run now sends none of the links whose next attempt had not come.
    waiting = dict(PendingLink.objects.values_list("pk", "delivery_next_attempt_at"))
    retry_command()
    finished = timezone.now()
    not_due = [pk for pk, at in waiting.items() if at > finished]
    assert not PendingLink.objects.filter(pk__in=not_due, delivery_status="sent").exists()
    wait_until_due(clock)
    retry_command()
    assert retry_command().startswith("nothing due")
    assert {link.delivery_attempts for link in PendingLink.objects.all()} == {3}
    assert_all_delivered_once(api)


def test_provider_failing_for_n_messages_then_recovering(api, providers, clock):
    providers.fail_next = 4
    start_all(api)
    assert PendingLink.objects.filter(delivery_status="failed").count() == 4
    assert PendingLink.objects.filter(delivery_status="sent").count() == 5
    wait_until_due(clock)
    assert retry_command().startswith("sent 4;")
    assert_all_delivered_once(api)


def test_backoff_grows_exponentially_up_to_the_cap(settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY_RETRY_BACKOFF": 10,
                               "DELIVERY_RETRY_MAX_BACKOFF": 60}
    for attempts, base in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delay = retry_delay(attempts)
        assert timedelta(seconds=base) <= delay <= timedelta(seconds=base * 1.2)


def test_a_permanent_refusal_is_not_retried_and_the_url_is_dropped(api, providers):
    providers.refuse_recipients = True
    start_all(api)
    links = PendingLink.objects.all()
    states = {(link.delivery_status, link.delivery_next_attempt_at, link.delivery_sealed_url)
              for link in links}
    assert states == {("failed", None, "")}
    assert {link.delivery_error for link in links} == {
        "AnymailRecipientsRefused from the mail backend", "Twilio answered 400 (code 21211)"}
    assert retry_command().startswith("nothing due")


def test_attempts_stop_at_the_maximum(api, providers, settings, clock):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY_MAX_ATTEMPTS": 2}
    providers.down = True
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": EMAILS[0]})
    wait_until_due(clock)
    retry_command()
    link = PendingLink.objects.get()
    assert (link.delivery_status, link.delivery_attempts) == ("failed", 2)
    assert link.delivery_next_attempt_at is None
    assert link.delivery_sealed_url == ""


def test_a_link_that_expires_undelivered_is_given_up_and_its_url_dropped(api, providers):
    providers.down = True
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": EMAILS[0]})
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert retry_command().endswith("expired undelivered 1\n")
    link = PendingLink.objects.get()
    assert link.delivery_status == "failed" and link.delivery_sealed_url == ""
    assert link.delivery_error == "Link expired before it could be delivered"


def test_a_task_the_queue_lost_is_sent_by_the_command(api, providers, settings):
    settings.TASKS = {"default": {"BACKEND": DUMMY_BACKEND}}
    start_all(api)
    assert mail.outbox == []
    assert set(PendingLink.objects.values_list("delivery_status", flat=True)) == {"queued"}
    assert retry_command().startswith("sent 9;")
    assert_all_delivered_once(api)


def test_an_attempt_in_progress_is_not_sent_twice(api, providers, settings):
    from magiclink_auth.tasks import deliver

    settings.TASKS = {"default": {"BACKEND": DUMMY_BACKEND}}
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": EMAILS[0]})
    link = PendingLink.objects.get()
    assert deliver(link.pk) == "sent"
    assert deliver(link.pk) == "skipped" and retry_command().startswith("nothing due")
    assert len(mail.outbox) == 1


def test_a_link_whose_attempt_in_the_request_died_is_sent_once_when_its_claim_times_out(api, providers, settings,
                                                                                      clock, monkeypatch):
    """Delivered in the request (the immediate backend), a link is stored claimed for the attempt that follows its
    commit. A process that dies between the commit and the send leaves it claimed: the command leaves it alone
    while the claim holds, as it would any attempt in progress, then sends it, once."""
    monkeypatch.setattr("magiclink_auth.tasks._enqueue_or_refuse", lambda link_id, claimed=None: None)
    assert api.post("/v1/auth/magiclink/signup-in/email", {"loginId": EMAILS[0]}).status_code == 200
    link = PendingLink.objects.get()
    assert (link.delivery_status, link.delivery_attempts) == ("queued", 1) and mail.outbox == []
    assert retry_command().startswith("nothing due")
    clock.shift(settings.MAGICLINK_AUTH.get("DELIVERY_CLAIM_TIMEOUT", timedelta(minutes=2)) + timedelta(seconds=1))
    assert retry_command().startswith("sent 1;") and retry_command().startswith("nothing due")
    assert [message.to for message in mail.outbox] == [[EMAILS[0]]]


# The worker closes "old" database connections between tasks, as a long-running process must; inside a test's
# transaction that would close the test's connection, so these tests commit for real.
@pytest.mark.django_db(transaction=True)
def test_the_task_queue_never_carries_the_token(api, providers, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": EMAILS[0]})
    link = PendingLink.objects.get()
    (queued,) = DBTaskResult.objects.all()
    assert queued.args_kwargs == {"args": [link.pk], "kwargs": {}}
    run_worker()
    url = delivered_links()[EMAILS[0]]
    token = url.rsplit("t=", 1)[1]
    for row in DBTaskResult.objects.values():
        assert token not in json.dumps(row, default=str)
    assert PendingLink.objects.get().delivery_sealed_url == ""


def run_worker() -> None:
    call_command("db_worker", batch=True, interval=0, startup_delay=False, reload=False, verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_outage_then_recovery_with_the_database_backend_and_its_worker(api, providers, settings, clock):
    """Retries are deferred tasks (run_after) that django-tasks-db's worker runs when they fall due."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # Long enough that no retry falls due while the first batch is still running, even on a loaded machine
    # (the providers fixture caps the backoff at 1 s, which the cap here lifts).
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY_RETRY_BACKOFF": 8,
                               "DELIVERY_RETRY_MAX_BACKOFF": 60}
    providers.down = True
    start_all(api)
    assert PendingLink.objects.filter(delivery_attempts=0).count() == 9  # nothing runs in the request
    run_worker()
    states = {(link.delivery_status, link.delivery_attempts) for link in PendingLink.objects.all()}
    assert states == {("failed", 1)}
    retries = DBTaskResult.objects.filter(status="READY")
    assert retries.count() == 9 and all(r.run_after is not None for r in retries)

    providers.down = False
    wait_until_due(clock)
    run_worker()
    assert_all_delivered_once(api)
    assert not DBTaskResult.objects.filter(status="READY").exists()


class BrokenBackend(BaseBackend):
    """A delivery backend with a bug: not a provider error, but the link must not be lost to it either."""

    def deliver(self, message):
        raise RuntimeError("a bug")


def test_a_bug_in_the_backend_keeps_the_link_due_and_the_start_call_answers(api, settings):
    broken = {"BACKEND": f"{__name__}.BrokenBackend", "OPTIONS": {}}
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH,
                               "DELIVERY": {**settings.MAGICLINK_AUTH["DELIVERY"], "email": broken}}
    response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": EMAILS[0]})
    assert response.status_code == 200
    link = PendingLink.objects.get()
    assert link.delivery_status == "failed" and link.delivery_error == "RuntimeError in the delivery backend"
    assert link.delivery_next_attempt_at is not None and link.delivery_sealed_url
