"""Statements and commits per call, as a production site runs them (django-tasks-db, a worker delivering):
a start call commits at most twice (the link, its lock, delivery state and audit row; the task row), a
verify once (consume, session and audit row), a delivery twice (the claim; the outcome with its audit row).

A commit is an outermost transaction that ends, or a write run outside any (autocommit). These tests commit
for real (``transaction=True``), as the worker must.
"""

from __future__ import annotations

from contextlib import contextmanager

import django
import pytest
from django.core.management import call_command
from django.db import connection

from magiclink_auth.models import AuditEvent, PendingLink
from tests.conftest import token_of

pytestmark = pytest.mark.django_db(transaction=True)

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
WRITES = ("INSERT", "UPDATE", "DELETE")


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.commits = 0
        self.transactions = 0  # of the commits, those that ended a transaction (BEGIN ... COMMIT)

    def __str__(self) -> str:
        return f"{self.commits} commits:\n" + "\n".join(s[:150] for s in self.statements)


def writes(sql: str) -> bool:
    """An INSERT, UPDATE or DELETE, or a WITH whose parts are (``WITH inserted AS (INSERT ...) UPDATE ...``)."""
    sql = sql.lstrip().upper()
    return sql.startswith(WRITES) or sql.startswith("WITH") and any(f"({w} " in sql for w in WRITES)


@contextmanager
def counting(monkeypatch):
    counted = Counted()
    real_commit = connection.commit

    def commit():
        counted.commits += 1
        counted.transactions += 1
        return real_commit()

    def record(execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(CONTROL):
            counted.statements.append(sql)
            if writes(sql) and not connection.in_atomic_block:
                counted.commits += 1  # autocommit
        return execute(sql, params, many, context)

    monkeypatch.setattr(connection, "commit", commit)
    with connection.execute_wrapper(record):
        yield counted
    monkeypatch.undo()


@pytest.fixture
def production(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_worker() -> None:
    call_command("db_worker", batch=True, interval=0, startup_delay=False, reload=False, verbosity=0)


def sign_in(api):
    return api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})


@pytest.fixture
def returning_user(api, production, outbox):
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "ada@example.com"})
    run_worker()
    assert api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).status_code == 200
    outbox.clear()


def test_a_start_call_commits_twice_and_runs_no_delivery(api, returning_user, monkeypatch, outbox):
    with counting(monkeypatch) as counted:
        assert sign_in(api).status_code == 200
    assert counted.commits <= 2, str(counted)
    # Find the user; the login ID's lock row; void older links; INSERT the link with its delivery state; its
    # audit row; the task row.
    assert len(counted.statements) <= 6, str(counted)
    # The new link's row is written once, by its INSERT; the only UPDATE of the table voids older links.
    link_writes = [sql for sql in counted.statements if "magiclink_auth_pendinglink" in sql.split(" WHERE ")[0]
                   and sql.lstrip().upper().startswith(WRITES)]
    assert [sql.split()[0].upper() for sql in link_writes].count("INSERT") == 1, str(counted)
    assert all("voided_at" in sql for sql in link_writes if sql.lstrip().upper().startswith("UPDATE")), str(counted)
    assert outbox == []
    link = PendingLink.objects.latest("pk")
    assert link.delivery_status == "queued" and link.delivery_sealed_url
    assert AuditEvent.objects.filter(event="link_requested", link_id=link.pk).exists()


def test_the_worker_delivers_a_link_with_two_commits(api, returning_user, monkeypatch, outbox):
    sign_in(api)
    link = PendingLink.objects.latest("pk")
    from magiclink_auth.tasks import deliver

    with counting(monkeypatch) as counted:
        assert deliver(link.pk) == "sent"
    assert counted.commits == 2, counted  # the claim (UPDATE ... RETURNING); the outcome with its audit row
    if connection.vendor == "postgresql":
        # The outcome and its audit row in one statement, with no transaction of its own: one round trip.
        assert len(counted.statements) == 2 and counted.transactions == 0, str(counted)
        assert "INSERT INTO \"magiclink_auth_auditevent\"" in counted.statements[1], str(counted)
    else:
        assert len(counted.statements) == 3 and counted.transactions == 1, str(counted)
    assert [m.recipient for m in outbox] == ["ada@example.com"]
    assert AuditEvent.objects.filter(event="link_sent", link_id=link.pk).exists()


def verify_counted(api, outbox, monkeypatch) -> Counted:
    sign_in(api)
    run_worker()
    token = token_of(outbox[-1])
    with counting(monkeypatch) as counted:
        assert api.post("/v1/auth/magiclink/verify", {"token": token}).status_code == 200
    return counted


def roles_sql(counted: Counted) -> list[str]:
    return [sql for sql in counted.statements if "auth_group" in sql or "auth_permission" in sql]


def test_a_verify_commits_once(api, returning_user, monkeypatch, outbox):
    counted = verify_counted(api, outbox, monkeypatch)
    assert counted.commits == 1, str(counted)
    # The link with its user and profile; consume; the login IDs (on PostgreSQL read with the link); the
    # session; the audit row. Roles and permissions come from the claims cache, filled by the sign-up's verify.
    assert not roles_sql(counted), str(counted)
    if connection.vendor == "postgresql":
        assert len(counted.statements) == 4 and "ARRAY(SELECT" in counted.statements[0], str(counted)
        assert not any(sql.startswith('SELECT "magiclink_auth_loginid"') for sql in counted.statements), str(counted)
    else:
        assert len(counted.statements) <= 5, str(counted)
    assert AuditEvent.objects.filter(event="link_verified").count() == 2


def test_without_the_claims_cache_a_verify_asks_for_roles_and_permissions(api, returning_user, monkeypatch,
                                                                         outbox, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "CLAIMS_CACHE": None}
    counted = verify_counted(api, outbox, monkeypatch)
    assert counted.commits == 1 and len(roles_sql(counted)) == 2, str(counted)


def test_delivered_in_the_request_a_link_is_claimed_by_its_insert(api, returning_user, monkeypatch, outbox, settings):
    """The immediate task backend (the default) runs the delivery right after the commit: the link is stored
    claimed for that attempt, so no claim UPDATE runs, and the start call commits twice, the link and the
    outcome with its audit row."""
    package = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    settings.TASKS = {"default": {"BACKEND": f"{package}.backends.immediate.ImmediateBackend"}}
    with counting(monkeypatch) as counted:
        assert sign_in(api).status_code == 200
    assert counted.commits == 2, str(counted)
    link_updates = [sql for sql in counted.statements
                    if writes(sql) and 'UPDATE "magiclink_auth_pendinglink"' in sql]
    assert len(link_updates) == 2 and "voided_at" in link_updates[0] and "delivery_sent_at" in link_updates[1]
    assert not any("delivery_attempts" in sql for sql in link_updates), str(counted)
    assert [m.recipient for m in outbox] == ["ada@example.com"]
    link = PendingLink.objects.latest("pk")
    assert (link.delivery_status, link.delivery_attempts, link.delivery_next_attempt_at) == ("sent", 1, None)
    assert AuditEvent.objects.filter(event="link_sent", link_id=link.pk).count() == 1
