"""`manage.py magiclink_cleanup`: expired rows go, in bounded batches; live ones stay and keep working."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from magiclink_auth.models import AuditEvent, PendingLink, RefreshSession
from tests.conftest import token_of

pytestmark = pytest.mark.django_db


def cleanup(**options) -> str:
    out = io.StringIO()
    call_command("magiclink_cleanup", stdout=out, **options)
    return out.getvalue()


def bounded(sql: str, batch_size: int) -> bool:
    if re.search(rf"LIMIT {batch_size}\b", sql):
        return True
    lists = re.findall(r" IN \(([^()]*)\)", sql)
    return bool(lists) and all(len(ids.split(",")) <= batch_size for ids in lists)


def expired_links(count: int) -> None:
    past = timezone.now() - timedelta(hours=1)
    PendingLink.objects.bulk_create(
        [
            PendingLink(
                token_hash=f"{i:064x}",
                purpose="signin",
                method="email",
                login_id=f"old{i}@example.com",
                target=f"old{i}@example.com",
                redirect_uri="https://app.example.com/",
                expires_at=past,
            )
            for i in range(count)
        ]
    )


def test_cleanup_deletes_expired_links_and_sessions_in_batches(api, signed_up, outbox):
    live = signed_up("ada@example.com")
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    pending_token = token_of(outbox[-1])
    expired_links(5)
    user = RefreshSession.objects.get().user
    RefreshSession.objects.bulk_create(
        [
            RefreshSession(user=user, current_jti=f"j{i}", expires_at=timezone.now() - timedelta(seconds=1))
            for i in range(3)
        ]
    )

    with CaptureQueriesContext(connection) as queries:
        output = cleanup(batch_size=2)

    assert "Deleted 5 expired pending links in 3 batch(es)" in output
    assert "Deleted 3 expired sessions in 2 batch(es)" in output
    # Bounded memory: every read is a batch of primary keys (LIMIT 2), or rows of such a batch (to cascade
    # to what points at them).
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert selects and all(bounded(sql, 2) for sql in selects), selects
    # What is still valid was left alone and still works.
    assert PendingLink.objects.count() == 2  # the used sign-up link and the pending sign-in link, unexpired
    assert api.post("/v1/auth/refresh", {}, refresh=live["refreshJwt"]).status_code == 200
    assert api.post("/v1/auth/magiclink/verify", {"token": pending_token}).status_code == 200


def test_cleanup_deletes_audit_events_past_retention(settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "AUDIT_RETENTION": timedelta(days=30)}
    old = AuditEvent.objects.create(event="logout", created_at=timezone.now() - timedelta(days=31))
    recent = AuditEvent.objects.create(event="logout", created_at=timezone.now() - timedelta(days=29))
    assert "Deleted 1 expired audit events" in cleanup()
    assert list(AuditEvent.objects.filter(pk__in=[old.pk, recent.pk])) == [recent]


def test_audit_retention_none_keeps_events_forever(settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "AUDIT_RETENTION": None}
    AuditEvent.objects.create(event="logout", created_at=timezone.now() - timedelta(days=3650))
    assert "audit events" not in cleanup()
    assert AuditEvent.objects.count() == 1


def test_cleanup_with_nothing_to_do_and_bad_batch_size():
    output = cleanup()
    assert "Deleted 0 expired pending links in 0 batch(es)" in output
    with pytest.raises(CommandError):
        cleanup(batch_size=-1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cleanup_is_safe_while_traffic_flows(api, signed_up, outbox):
    """Cleanup in one connection, logins and refreshes in another, at the same time: nothing fails, only
    expired rows go."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...): SQLite runs one writer at a time")
    live = signed_up("kim@example.com")
    expired_links(3000)
    user = RefreshSession.objects.get().user
    past = timezone.now() - timedelta(seconds=1)
    RefreshSession.objects.bulk_create(
        [RefreshSession(user=user, current_jti=f"old{i}", expires_at=past) for i in range(1000)]
    )
    failures = []

    def run_cleanup():
        try:
            cleanup(batch_size=100)
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run_cleanup)
    worker.start()
    refresh_jwt, rounds, logins = live["refreshJwt"], 0, 0
    while worker.is_alive() or rounds < 3:
        response = api.post("/v1/auth/refresh", {}, refresh=refresh_jwt)
        assert response.status_code == 200, response.content
        refresh_jwt = response.json()["refreshJwt"]
        if rounds < 3:  # a few logins too, within the per-address message limit
            started = api.post("/v1/auth/magiclink/signin/email", {"loginId": "kim@example.com"})
            assert started.status_code == 200, started.content
            assert api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).status_code == 200
            logins += 1
        rounds += 1
    worker.join()

    assert failures == []
    assert not PendingLink.objects.filter(expires_at__lt=past).exists()
    assert not RefreshSession.objects.filter(expires_at__lt=past).exists()
    assert RefreshSession.objects.filter(revoked_at=None).count() == logins + 1
