"""prepared.py: a query compiled once gives what its queryset gives, sends the same SQL, and falls back to
the ORM when its markers cannot be found."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from magiclink_auth.models import AuditEvent, LoginId, PendingLink, Profile, RefreshSession
from magiclink_auth.prepared import Prepared, PreparedCreate, PreparedUpdate
from magiclink_auth.users import create_user

pytestmark = pytest.mark.django_db


def by_value(value):
    return LoginId.objects.select_related("user__magiclink_profile").filter(value=value).order_by()[:21]


def test_objects_match_the_queryset_and_send_the_same_sql():
    user = create_user("email", "ada@example.com", {"name": "Ada"})
    create_user("email", "bob@example.com", {})
    prepared = Prepared(by_value, value=(LoginId, "value"))
    for _ in range(2):  # compiled on the first call, reused on the second
        with CaptureQueriesContext(connection) as fast:
            found = prepared.objects(value="ada@example.com")
        with CaptureQueriesContext(connection) as orm:
            expected = list(by_value("ada@example.com"))
        fast_sql, orm_sql = [q["sql"] for q in fast.captured_queries], [q["sql"] for q in orm.captured_queries]
        assert fast_sql == orm_sql
        assert found == expected and found[0].user == user
        with CaptureQueriesContext(connection) as none:
            assert found[0].user.magiclink_profile.name == "Ada"  # select_related: no query
        assert not none.captured_queries
    assert prepared.objects(value="nobody@example.com") == []


def test_a_missing_reverse_one_to_one_reads_as_missing():
    user = create_user("email", "ada@example.com", {})
    Profile.objects.filter(user=user).delete()
    entry = Prepared(by_value, value=(LoginId, "value")).objects(value="ada@example.com")[0]
    with pytest.raises(Profile.DoesNotExist):
        entry.user.magiclink_profile  # noqa: B018


def test_a_query_whose_marker_is_not_in_its_parameters_falls_back_to_the_orm():
    create_user("email", "ada@example.com", {})
    # The marker goes through lower(): the compiled parameters do not hold it as given.
    prepared = Prepared(lambda value: LoginId.objects.filter(value__iexact=value.upper()), value=(LoginId, "value"))
    assert [e.value for e in prepared.objects(value="ada@example.com")] == ["ada@example.com"]
    assert prepared._compiled[next(iter(prepared._compiled))] is None


def test_a_value_of_a_kind_it_has_no_marker_for_falls_back_to_the_orm():
    """A site's own field types (its user model's primary key, say) cannot break a sign-in: such a query runs
    on the ORM, as before."""
    create_user("email", "ada@example.com", {})
    LoginId.objects.update(verified=True)
    prepared = Prepared(lambda verified: LoginId.objects.filter(verified=verified), verified=(LoginId, "verified"))
    assert [e.value for e in prepared.objects(verified=True)] == ["ada@example.com"]
    assert prepared._compiled[next(iter(prepared._compiled))] is None


def test_the_login_ids_of_a_user_are_read_prepared_whatever_its_primary_key():
    """The UUID primary key of tests/custom_user (pytest --ds=tests.custom_user.settings) has a marker too."""
    user = create_user("email", "ada@example.com", {})
    prepared = Prepared(lambda user: LoginId.objects.filter(user=user).values_list("value", flat=True),
                        user=(LoginId, "user"))
    assert prepared.objects(user=user.pk) == ["ada@example.com"]
    assert prepared._compiled[next(iter(prepared._compiled))] is not None


def _link(login_id="ada@example.com", **fields):
    now = timezone.now()
    return PendingLink.objects.create(token_hash=login_id.ljust(64, "0")[:64], purpose="signin", method="email",
                                      login_id=login_id, target=login_id, created_at=now,
                                      expires_at=now + timedelta(minutes=10), **fields)


def test_update_and_returning():
    first, second = _link("a@example.com"), _link("b@example.com")
    later = timezone.now() + timedelta(hours=1)
    bump = PreparedUpdate(
        lambda pk, at: (PendingLink.objects.filter(pk=pk), {"delivery_next_attempt_at": at,
                                                            "delivery_attempts": F("delivery_attempts") + 1}),
        pk=(PendingLink, "id"), at=(PendingLink, "delivery_next_attempt_at"),
    )
    assert bump.update(pk=first.pk, at=later) == 1
    assert bump.update(pk=-1, at=later) == 0
    if connection.vendor == "sqlite" or connection.vendor == "postgresql":
        [returned] = bump.returning(pk=second.pk, at=later)
        assert returned.pk == second.pk and returned.delivery_attempts == 1
        assert returned.delivery_next_attempt_at == later and returned.expires_at == second.expires_at
    first.refresh_from_db()
    assert (first.delivery_attempts, first.delivery_next_attempt_at) == (1, later)


def test_an_upsert_inserts_then_updates_its_row():
    from magiclink_auth.models import LinkLock
    from magiclink_auth.tokens import _LOCK

    with CaptureQueriesContext(connection) as queries:
        _LOCK.execute(key="email:ada@example.com", locked_at=timezone.now())
    first = LinkLock.objects.get().locked_at
    _LOCK.execute(key="email:ada@example.com", locked_at=timezone.now())
    assert LinkLock.objects.get().locked_at >= first and LinkLock.objects.count() == 1
    assert len(queries.captured_queries) == 1 and "ON CONFLICT" in queries.captured_queries[0]["sql"]


def test_the_login_id_lock_writes_no_row_where_the_database_has_a_lock_of_its_own():
    """SQLite in IMMEDIATE mode (the example site's, W120) holds the database's write lock from BEGIN, so a
    transaction already excludes every other writer: nothing runs. PostgreSQL takes a transaction-level
    advisory lock, which writes nothing. Elsewhere, the upsert of the login ID's lock row."""
    from django.db import transaction

    from magiclink_auth.models import LinkLock
    from magiclink_auth.tokens import lock

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        lock("email:ada@example.com")
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    if connection.vendor == "postgresql":
        assert LinkLock.objects.count() == 0 and len(statements) == 1 and "pg_advisory_xact_lock" in statements[0]
    elif connection.transaction_mode == "IMMEDIATE":
        assert LinkLock.objects.count() == 0 and statements == []
    else:
        assert LinkLock.objects.count() == 1 and len(statements) == 1 and "ON CONFLICT" in statements[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_login_id_lock_holds_off_a_second_transaction_until_the_first_ends():
    """The advisory lock is the transaction's: a second connection waits for the same login ID while the first
    transaction is open, takes another login ID's at once, and takes the first as soon as it commits."""
    import threading

    from django.db import connections, transaction

    from magiclink_auth.tokens import lock

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    waited = []

    def second(key: str) -> None:
        try:
            with transaction.atomic():
                began = timezone.now()
                lock(key)
                waited.append((key, timezone.now() - began))
        finally:
            connections.close_all()

    with transaction.atomic():
        lock("email:ada@example.com")
        other = threading.Thread(target=second, args=("email:bob@example.com",))
        other.start()
        other.join(5)
        same = threading.Thread(target=second, args=("email:ada@example.com",))
        same.start()
        same.join(0.5)
        assert same.is_alive() and [key for key, _ in waited] == ["email:bob@example.com"]
    same.join(5)
    assert [key for key, _ in waited] == ["email:bob@example.com", "email:ada@example.com"]
    assert waited[1][1] >= timedelta(seconds=0.4)  # it waited while the first transaction was open


def _audit_values(**extra):
    return {"event": "link_sent", "created_at": timezone.now(), "link_id": 7, "method": "email",
            "target": "a***@example.com", "reason": "sent", "ip": "::ffff:10.0.0.1", "data": {"provider": "x"},
            **extra}


def test_create_writes_the_row_the_orm_writes_with_its_sql_and_signals(monkeypatch):
    from django.db.models.signals import post_save, pre_save

    user = create_user("email", "ada@example.com", {})
    prepared = PreparedCreate(AuditEvent)
    seen = []

    def receiver(signal, sender, instance, **kwargs):
        seen.append((signal, instance.pk, kwargs.get("created")))

    pre_save.connect(receiver, sender=AuditEvent)
    post_save.connect(receiver, sender=AuditEvent)
    try:
        for _ in range(2):  # compiled on the first call, reused on the second
            values = _audit_values(user=user)
            with CaptureQueriesContext(connection) as fast:
                made = prepared.create(**values)
            with CaptureQueriesContext(connection) as orm:
                expected = AuditEvent.objects.create(**values)
            assert [q["sql"] for q in fast.captured_queries] == [q["sql"] for q in orm.captured_queries]
            assert made.pk is not None and made.pk != expected.pk and not made._state.adding
            assert seen[-4:] == [(pre_save, None, None), (post_save, made.pk, True),
                                 (pre_save, None, None), (post_save, expected.pk, True)]
            stored = AuditEvent.objects.filter(pk__in=[made.pk, expected.pk]).values(
                "event", "created_at", "user", "link_id", "session_id", "method", "target", "reason", "ip", "data")
            assert len(stored) == 2 and stored[0] == stored[1]
    finally:
        pre_save.disconnect(receiver, sender=AuditEvent)
        post_save.disconnect(receiver, sender=AuditEvent)


def test_create_with_a_primary_key_of_its_own_and_no_returned_columns():
    """A model whose key the object makes (a session's UUID): nothing is read back, the key is the object's."""
    from magiclink_auth.sessions import open_session

    user = create_user("email", "ada@example.com", {})
    session = open_session(user, amr=["email"], claims={"k": 1}, ip=None, user_agent="test")
    stored = RefreshSession.objects.get(pk=session.pk)
    assert (stored.user, stored.amr, stored.claims, stored.current_jti) == (user, ["email"], {"k": 1},
                                                                           session.current_jti)


def test_create_of_an_expression_falls_back_to_the_orm():
    from django.db.models.functions import Now

    made = PreparedCreate(AuditEvent).create(**_audit_values(created_at=Now()))
    assert AuditEvent.objects.get(pk=made.pk).created_at is not None


def _lock_touch():
    from magiclink_auth.models import LinkLock

    return PreparedUpdate(lambda key, at: (LinkLock.objects.filter(key=key), {"locked_at": at}),
                          key=(LinkLock, "key"), at=(LinkLock, "locked_at"))


def test_an_update_writes_its_inserts_in_the_same_statement_on_postgresql():
    from magiclink_auth.models import LinkLock

    before = timezone.now() - timedelta(hours=1)
    LinkLock.objects.create(key="email:ada@example.com", locked_at=before)
    rows = PreparedCreate(AuditEvent)
    inserts = [rows.insert(**_audit_values(reason="first")), rows.insert(**_audit_values(reason="second"))]
    touch, now = _lock_touch(), timezone.now()
    with CaptureQueriesContext(connection) as queries:
        assert touch.update(key="email:ada@example.com", at=now, inserts=inserts) == 1
    assert LinkLock.objects.get().locked_at == now
    # The database runs a statement's parts in an order of its own: the rows' keys need not follow the list's.
    stored = AuditEvent.objects.order_by("reason").values("event", "link_id", "method", "target", "reason", "ip",
                                                           "data")
    expected = {key: value for key, value in _audit_values().items() if key != "created_at"}
    assert list(stored) == [{**expected, "reason": "first"}, {**expected, "reason": "second"}]
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    if connection.vendor == "postgresql":
        assert len(statements) == 1 and statements[0].startswith("WITH inserted_0 AS (INSERT"), statements
    else:
        assert len(statements) == 3, statements
    # No row changed: the inserts are written all the same, as an update then its inserts would be.
    assert touch.update(key="email:nobody@example.com", at=now, inserts=[rows.insert(**_audit_values())]) == 0
    assert AuditEvent.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_update_whose_insert_fails_changes_nothing():
    from django.db import IntegrityError

    from magiclink_auth.models import LinkLock

    before = timezone.now() - timedelta(hours=1)
    LinkLock.objects.create(key="email:ada@example.com", locked_at=before)
    taken = AuditEvent.objects.create(**_audit_values())
    clash = PreparedCreate(AuditEvent).insert(**_audit_values(id=taken.pk))  # a primary key already used
    with pytest.raises(IntegrityError):
        _lock_touch().update(key="email:ada@example.com", at=timezone.now(), inserts=[clash])
    assert LinkLock.objects.get().locked_at == before and AuditEvent.objects.count() == 1
    # The connection is usable afterwards, in autocommit as before.
    assert not connection.in_atomic_block and LinkLock.objects.count() == 1


def test_rows_recorded_inside_written_with_change_are_collected_not_written():
    from magiclink_auth import audit

    with audit.written_with_change() as rows:
        assert audit.record(AuditEvent.Event.LINK_SENT, method="email", target="ada@example.com") is None
    assert AuditEvent.objects.count() == 0 and len(rows) == 1 and rows[0][0].startswith("INSERT INTO")
    audit.record(AuditEvent.Event.LINK_SENT, method="email", target="ada@example.com")
    assert AuditEvent.objects.count() == 1  # outside, written at once
