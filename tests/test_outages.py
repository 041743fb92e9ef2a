"""Faults of what the app runs on: the database, the rate-limit cache, the task queue, and a bug.

Each answers the protocol's error JSON (503 with Retry-After where a retry helps), is logged once at ERROR,
and leaves nothing half-done: a fault injected between two steps of a start or a verify rolls back the
steps before it. The database faults are raised by a real ``execute_wrapper`` on the request's connection;
the cache is a real Redis client pointed at a port where nothing listens. tests/test_live_faults.py takes a
real PostgreSQL, Redis and SMTP server away under the running example site.
"""

from __future__ import annotations

import logging
import socket
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, connection

from magiclink_auth.models import AuditEvent, PendingLink, RefreshSession
from tests import task_backends
from tests.conftest import token_of

SIGNUP = "/v1/auth/magiclink/signup/email"
VERIFY = "/v1/auth/magiclink/verify"
REFRESH = "/v1/auth/refresh"

pytestmark = pytest.mark.django_db


def quoted(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@dataclass
class Fault:
    armed: bool
    fired: int = 0


@contextmanager
def database_fault(on: str, *, after: str = "", error: Exception | None = None):
    """Statements starting with ``on`` raise ``error`` once a statement starting with ``after`` has run:
    the database going away between two steps of one request."""
    fault = Fault(armed=not after)
    error = error or OperationalError("server closed the connection unexpectedly")

    def wrapper(execute, sql, params, many, context):
        if fault.armed and sql.startswith(on):
            fault.fired += 1
            raise error
        result = execute(sql, params, many, context)
        if after and sql.startswith(after):
            fault.armed = True
        return result

    with connection.execute_wrapper(wrapper):
        yield fault


def assert_unavailable(response, code: str) -> dict:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    body = response.json()
    assert set(body) == {"errorCode", "errorDescription", "errorMessage"} and body["errorCode"] == code
    return body


def error_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


# The database.

def test_a_fault_between_storing_the_link_and_queueing_it_leaves_no_link_and_sends_nothing(api, outbox):
    from magiclink_auth.models import AuditEvent

    # The link is stored with its delivery state in one INSERT; its audit row follows in the same transaction.
    link_table = quoted(PendingLink)
    with database_fault(f"INSERT INTO {quoted(AuditEvent)}", after=f"INSERT INTO {link_table}") as fault:
        response = api.post(SIGNUP, {"loginId": "ada@example.com"})

    assert fault.fired == 1
    assert_unavailable(response, "E011201")
    assert PendingLink.objects.count() == 0 and outbox == []
    # The caller's retry (the SDK's own) goes through, and one message goes out.
    assert api.post(SIGNUP, {"loginId": "ada@example.com"}).status_code == 200
    assert len(outbox) == 1 and PendingLink.objects.count() == 1


@pytest.mark.parametrize("step", ["user", "session"])
def test_a_fault_after_the_link_is_consumed_leaves_it_unconsumed_and_makes_nothing(api, outbox, step):
    """One transaction: the link's consumption, the new user and the session all land, or none does."""
    api.post(SIGNUP, {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])
    table = quoted(get_user_model() if step == "user" else RefreshSession)

    with database_fault(f"INSERT INTO {table}", after=f"UPDATE {quoted(PendingLink)}") as fault:
        response = api.post(VERIFY, {"token": token})

    assert fault.fired == 1
    assert_unavailable(response, "E011201")
    assert PendingLink.objects.get().consumed_at is None
    assert get_user_model().objects.count() == 0 and RefreshSession.objects.count() == 0
    verified = api.post(VERIFY, {"token": token})
    assert verified.status_code == 200, verified.content
    assert RefreshSession.objects.count() == 1 and get_user_model().objects.count() == 1


def test_a_fault_recording_the_start_leaves_no_link_and_sends_nothing(api, outbox):
    """The audit event (and any receiver of link_requested) is part of the start's transaction."""
    with database_fault(f"INSERT INTO {quoted(AuditEvent)}", after=f"UPDATE {quoted(PendingLink)}") as fault:
        response = api.post(SIGNUP, {"loginId": "ada@example.com"})

    assert fault.fired == 1
    assert_unavailable(response, "E011201")
    assert PendingLink.objects.count() == 0 and outbox == []


def test_a_fault_recording_the_verify_leaves_the_link_unconsumed_and_no_session(api, outbox):
    """The audit event and the cross-device hand-over (receivers of link_verified) commit with the session."""
    api.post(SIGNUP, {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])

    with database_fault(f"INSERT INTO {quoted(AuditEvent)}", after=f"INSERT INTO {quoted(RefreshSession)}"):
        assert_unavailable(api.post(VERIFY, {"token": token}), "E011201")

    assert PendingLink.objects.get().consumed_at is None and RefreshSession.objects.count() == 0
    assert api.post(VERIFY, {"token": token}).status_code == 200


def test_a_verify_that_answered_200_left_a_live_session(api, outbox):
    api.post(SIGNUP, {"loginId": "ada@example.com"})
    verified = api.post(VERIFY, {"token": token_of(outbox[-1])}).json()

    assert api.post(REFRESH, refresh=verified["refreshJwt"]).status_code == 200
    assert RefreshSession.objects.get().is_active


def test_a_database_outage_is_logged_once_at_error_without_the_token(api, outbox, caplog):
    api.post(SIGNUP, {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])

    with caplog.at_level(logging.INFO), database_fault(f"UPDATE {quoted(PendingLink)}"):
        assert_unavailable(api.post(VERIFY, {"token": token}), "E011201")

    (record,) = error_records(caplog)
    assert record.name == "magiclink_auth" and "E011201" in record.getMessage()
    assert "OperationalError: server closed the connection unexpectedly" in record.getMessage()
    assert token not in caplog.text


@pytest.mark.parametrize(("driver_error", "code"), [
    ("database is locked", "E011202"),
    ("attempt to write a readonly database", "E011203"),
])
def test_sqlite_lock_and_read_only_errors_have_their_own_codes(api, driver_error, code):
    """Django keeps the driver's error as ``__cause__``; SQLite names it (SQLITE_BUSY, SQLITE_READONLY)."""
    import sqlite3

    cause = sqlite3.OperationalError(driver_error)
    cause.sqlite_errorname = "SQLITE_BUSY" if "locked" in driver_error else "SQLITE_READONLY"
    error = OperationalError(driver_error)
    error.__cause__ = cause
    with database_fault(f"INSERT INTO {quoted(PendingLink)}", error=error):
        assert_unavailable(api.post(SIGNUP, {"loginId": "ada@example.com"}), code)


def test_an_unexpected_error_answers_500_with_the_error_json_and_its_traceback_in_the_log(api, outbox, caplog):
    api.post(SIGNUP, {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])

    with caplog.at_level(logging.INFO), database_fault(f"INSERT INTO {quoted(RefreshSession)}",
                                                       error=IntegrityError("a bug")):
        response = api.post(VERIFY, {"token": token})

    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert response.json()["errorCode"] == "E011206" and "Retry-After" not in response
    (record,) = error_records(caplog)
    assert record.exc_info is not None and "E011206" in record.getMessage()
    assert PendingLink.objects.get().consumed_at is None


# The rate-limit cache.

def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def take_cache_down(settings, limits):
    """From the call on, THROTTLE_CACHE is a Redis cache whose server is down (nothing listens on its port)."""

    def take_down() -> None:
        settings.CACHES = {**settings.CACHES, "limits": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }}
        limits(THROTTLE_CACHE="limits")

    return take_down


def test_limits_fail_closed_while_the_cache_is_down(api, outbox, signed_up, take_cache_down, caplog):
    """A start, verify or refresh whose limit cannot be read is refused with 503 E011204, not run unlimited."""
    refresh = signed_up()["refreshJwt"]
    take_cache_down()
    links = PendingLink.objects.count()
    outbox.clear()

    with caplog.at_level(logging.INFO):
        assert_unavailable(api.post(SIGNUP, {"loginId": "grace@example.com"}), "E011204")
    assert_unavailable(api.post(VERIFY, {"token": "x" * 43}), "E011204")
    assert_unavailable(api.post(REFRESH, refresh=refresh), "E011204")

    assert outbox == [] and PendingLink.objects.count() == links
    record = error_records(caplog)[0]
    assert "E011204" in record.getMessage() and "ConnectionError" in record.getMessage()


def test_a_signed_in_browser_stays_signed_in_while_the_cache_is_down(client, signed_up, take_cache_down):
    """Validating the session cookie needs no cache."""
    session_jwt = signed_up()["sessionJwt"]
    take_cache_down()
    client.cookies["DS"] = session_jwt

    response = client.get("/auth/account/")

    assert response.status_code == 200


# The task queue.

@pytest.fixture
def flaky_queue(settings):
    settings.TASKS = {"default": {"BACKEND": task_backends.BACKEND}}
    task_backends.FlakyBackend.refusals = 0
    yield task_backends.FlakyBackend
    task_backends.FlakyBackend.refusals = 0


@pytest.mark.django_db(transaction=True)
def test_a_refused_enqueue_answers_503_and_records_the_link_as_failed(api, outbox, flaky_queue, admin_client):
    flaky_queue.refusals = 1

    assert_unavailable(api.post(SIGNUP, {"loginId": "ada@example.com"}), "E011205")

    link = PendingLink.objects.get()
    assert link.delivery_status == PendingLink.Delivery.FAILED
    assert link.delivery_error == "The task queue refused the delivery (ConnectionError)"
    assert link.delivery_next_attempt_at is None and link.delivery_sealed_url == ""
    page = admin_client.get(f"/admin/magiclink_auth/pendinglink/{link.pk}/change/")
    assert "The task queue refused the delivery" in page.content.decode()
    assert outbox == []
    # The retry makes a fresh link, sent once; the refused one is never sent.
    assert api.post(SIGNUP, {"loginId": "ada@example.com"}).status_code == 200
    assert len(outbox) == 1
    assert PendingLink.objects.filter(delivery_status=PendingLink.Delivery.SENT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_courtesy_notice_does_not_undo_an_answer_whose_change_committed(api, outbox, flaky_queue,
                                                                                  caplog):
    """The old address's "your email was changed" is queued after the change commits: a task queue that
    refuses it is logged, and the verify still answers the session it opened."""
    api.post(SIGNUP, {"loginId": "ada@example.com"})
    refresh = api.post(VERIFY, {"token": token_of(outbox[-1])}).json()["refreshJwt"]
    api.post("/v1/auth/magiclink/update/email", {"loginId": "ada@example.com", "email": "ada.new@example.com"},
             refresh=refresh)
    sent = len(outbox)
    flaky_queue.refusals = 1

    response = api.post(VERIFY, {"token": token_of(outbox[-1])}, refresh=refresh)

    assert response.status_code == 200 and response.json()["user"]["email"] == "ada.new@example.com"
    assert len(outbox) == sent  # the notice was refused, and nothing else was sent
    assert "The task queue refused the email_changed notice to a***@example.com" in caplog.text
    assert "ada@example.com" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_python_sdk_retries_a_503_by_itself(descope, outbox, flaky_queue):
    """The official SDK retries 503 after 100 ms: the caller sees success, and exactly one message goes out."""
    from descope import DeliveryMethod

    flaky_queue.refusals = 1

    masked = descope.magiclink.sign_up(DeliveryMethod.EMAIL, "ada@example.com", uri="https://app.example.com/")

    assert masked == "a***@example.com"
    assert flaky_queue.refusals == 0  # the first call was refused
    assert len(outbox) == 1
    statuses = sorted(PendingLink.objects.values_list("delivery_status", flat=True))
    assert statuses == [PendingLink.Delivery.FAILED, PendingLink.Delivery.SENT]



# Failures before the API's views: the site's middleware.

def test_a_fault_in_the_middleware_answers_the_error_json_on_api_paths(signed_up, caplog):
    """The session middleware refreshes a browser's DSR cookie before any view runs; with the database gone
    Django would answer its HTML 500 page, which APIErrorMiddleware replaces on the API's paths."""
    from django.test import Client

    refresh = signed_up()["refreshJwt"]
    browser = Client(raise_request_exception=False, HTTP_AUTHORIZATION="Bearer P2testproject")
    browser.cookies["DSR"] = refresh

    with caplog.at_level(logging.INFO), database_fault(f"UPDATE {quoted(RefreshSession)}"):
        response = browser.get("/v1/auth/me")

    assert_unavailable(response, "E011201")
    assert len(error_records(caplog)) == 1  # Django's request logger, with the traceback; not twice


def test_a_fault_on_a_browser_page_shows_the_sites_error_page_without_traceback(signed_up):
    from django.test import Client

    refresh = signed_up()["refreshJwt"]
    browser = Client(raise_request_exception=False)
    browser.cookies["DSR"] = refresh

    with database_fault(f"UPDATE {quoted(RefreshSession)}"):
        response = browser.get("/auth/account/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Traceback" not in response.content and b"OperationalError" not in response.content
