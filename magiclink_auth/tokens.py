"""Link tokens: made at random, stored as a hash, consumed once.

- 256 bits from ``secrets``: guessing is hopeless, so a plain SHA-256 suffices as the stored form (a slow
  hash defends low-entropy secrets such as passwords; these are not). A database leak yields no usable link.
- Lookup is by the hash, an indexed equality, so there is no timing channel on comparison to protect.
- Single use is one conditional ``UPDATE ... WHERE consumed_at IS NULL``: of any number of concurrent
  verifies, the database lets exactly one change the row.
- A new link for the same login ID and purpose voids the older unconsumed ones, so only the newest works.
  Links for one login ID are made one at a time, under the login ID's lock (``lock``): two simultaneous
  requests cannot both see "no live link" and both leave one live. The lock lasts until the transaction
  ends (on PostgreSQL a transaction-level advisory lock, elsewhere a row an upsert locks), never a
  session-level lock, so it works through PgBouncer in transaction pooling; it is the first lock such a
  transaction takes, so it cannot deadlock.
- A stranger's request (limits.py: not from a context that signed in to the login ID) voids only
  strangers' links: it cannot kill the link the owner asked for.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.db import connections, router, transaction
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from .conf import app_settings
from .errors import ErrorKey, InvalidLink
from .models import LinkLock, LoginId, PendingLink
from .prepared import Prepared, PreparedCreate, PreparedInsert, PreparedUpdate

__all__ = ["hash_token", "lock", "new_token", "create_link", "find_link", "consume", "link_lifetime",
           "linked_login_ids"]

logger = logging.getLogger("magiclink_auth")

MIN_LIFETIME = timedelta(minutes=1)
MAX_LIFETIME = timedelta(days=7)
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_lifetime() -> timedelta:
    return min(max(app_settings.LINK_LIFETIME, MIN_LIFETIME), MAX_LIFETIME)


def _lock_query(key, locked_at):
    """The upsert ``bulk_create([LinkLock(...)], update_conflicts=True, ...)`` builds."""
    meta = LinkLock._meta
    query = InsertQuery(LinkLock, on_conflict=OnConflict.UPDATE, update_fields=[meta.get_field("locked_at")],
                        unique_fields=[meta.get_field("key")])
    query.insert_values(meta.concrete_fields, [LinkLock(key=key, locked_at=locked_at)])
    return query


_LOCK = PreparedInsert(_lock_query, key=(LinkLock, "key"), locked_at=(LinkLock, "locked_at"))


# A transaction-level lock, released by COMMIT or ROLLBACK, keyed by the login ID's 64-bit hash: two
# login IDs that share a hash only wait for each other.
_ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def lock(key: str) -> None:
    """Hold the lock of login ID ``key`` (``limits.limit_key``) until the transaction ends. Call it first in
    the transaction.

    - PostgreSQL: ``pg_advisory_xact_lock``, one statement that writes nothing.
    - SQLite with ``transaction_mode`` IMMEDIATE (check W120) took the database's write lock when the
      transaction began, which already holds off every other writer: nothing to run.
    - Elsewhere (SQLite in its default mode, MySQL...): ``INSERT ... ON CONFLICT DO UPDATE`` on the login
      ID's ``LinkLock`` row, which creates the row or locks the existing one (on SQLite, taking the write lock).
    """
    connection = connections[router.db_for_write(LinkLock)]
    if connection.vendor == "postgresql":
        with transaction.mark_for_rollback_on_error(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(_ADVISORY_LOCK, [key])
        return
    if connection.in_atomic_block and _holds_write_lock_from_begin(connection):
        return
    _LOCK.execute(key=key, locked_at=timezone.now())


def _holds_write_lock_from_begin(connection) -> bool:
    return connection.vendor == "sqlite" and str(getattr(connection, "transaction_mode", "") or "").upper() in {
        "IMMEDIATE", "EXCLUSIVE"}


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _void(*, strangers_only: bool):
    def build(login_id, purpose, now):
        older = PendingLink.objects.filter(login_id=login_id, purpose=purpose, consumed_at=None, voided_at=None)
        return (older.filter(requester_known=False) if strangers_only else older), {"voided_at": now}

    return PreparedUpdate(build, login_id=(PendingLink, "login_id"), purpose=(PendingLink, "purpose"),
                          now=(PendingLink, "voided_at"))


# The older live links a new one voids: all of them, or a stranger's request only strangers' (limits.py).
_VOID_ALL, _VOID_STRANGERS = _void(strangers_only=False), _void(strangers_only=True)


_LINK_ROW = PreparedCreate(PendingLink)


def create_link(*, token: str | None = None, **fields) -> tuple[PendingLink, str]:
    """Store a pending link and return it with its token, which exists nowhere else from here on.

    Call it holding ``lock(fields["limit_key"])``. A caller that needs the token for the link's other fields
    (its delivery, sealed in the same INSERT) draws it first with ``new_token``.
    """
    now = timezone.now()
    void = _VOID_ALL if fields.get("requester_known") else _VOID_STRANGERS
    void.update(login_id=fields["login_id"], purpose=fields["purpose"], now=now)
    token = token or new_token()
    link = _LINK_ROW.create(
        token_hash=hash_token(token), created_at=now, expires_at=now + link_lifetime(), **fields
    )
    return link, token


def _refuse(link: PendingLink | None, reason: str, key: ErrorKey) -> InvalidLink:
    logger.debug("Link refused (%s): link #%s", reason, getattr(link, "pk", None))
    return InvalidLink(key, link=link)


def _by_hash(token_hash):
    """The user, profile and browser login (or their absence) come in the same query, and on PostgreSQL the
    user's login IDs: verify needs them all (bench/verify_scaling.py). get()'s SQL (no ordering, LIMIT 21;
    first() would order by pk over every joined column), compiled once (prepared.py): compiling this join
    cost more than running it."""
    vendor = connections[router.db_for_read(PendingLink)].vendor
    return (PendingLink.objects.select_related("user__magiclink_profile", "browser_login")
            .annotate(**_login_ids_of_user(vendor)).filter(token_hash=token_hash).order_by()[:21])


_BY_HASH = Prepared(_by_hash, token_hash=(PendingLink, "token_hash"))
_USER_LOGIN_IDS, _VERIFIED = "user_login_ids", "user_login_ids_verified"


def _login_ids_of_user(vendor: str) -> dict:
    """On PostgreSQL the link's user's login IDs and their verified flags, as two ``ARRAY(SELECT ...)`` in
    LoginId's order: a verify that signs in needs them, and reads them here rather than in a round trip of
    their own (``linked_login_ids``). Elsewhere nothing: they are read when needed."""
    if vendor != "postgresql":
        return {}
    from django.contrib.postgres.expressions import ArraySubquery
    from django.db.models import OuterRef

    of_user = LoginId.objects.filter(user=OuterRef("user_id")).order_by(*LoginId._meta.ordering)
    return {_USER_LOGIN_IDS: ArraySubquery(of_user.values("value")),
            _VERIFIED: ArraySubquery(of_user.values("verified"))}


def linked_login_ids(link: PendingLink) -> list[tuple[str, bool]] | None:
    """The login IDs of the link's user as ``(value, verified)``, oldest first, as ``find_link`` read them with
    the link; None where it did not (not PostgreSQL, no user). Read before the verify's transaction: for a
    flow that changes login IDs before it needs them, read them again."""
    values = getattr(link, _USER_LOGIN_IDS, None)
    if values is None or link.user_id is None:
        return None
    return list(zip(values, getattr(link, _VERIFIED), strict=True))


def find_link(token: str) -> PendingLink:
    """The link a token belongs to, if it may still be used. Raises ``InvalidLink`` with the reason."""
    if not isinstance(token, str) or not token or len(token) > 128:
        raise _refuse(None, "malformed token", ErrorKey.LINK_INVALID)
    found = _BY_HASH.objects(token_hash=hash_token(token))
    if not found:
        raise _refuse(None, "unknown token", ErrorKey.LINK_INVALID)
    link = found[0]
    if link.consumed_at is not None:
        raise _refuse(link, "already used", ErrorKey.LINK_USED)
    if link.voided_at is not None:
        raise _refuse(link, "superseded", ErrorKey.LINK_SUPERSEDED)
    if link.expires_at <= timezone.now():
        raise _refuse(link, "expired", ErrorKey.LINK_EXPIRED)
    return link


_CONSUME = PreparedUpdate(
    lambda pk, now, consumed_at: (
        PendingLink.objects.filter(Q(pk=pk, consumed_at=None, voided_at=None, expires_at__gt=now)),
        {"consumed_at": consumed_at},
    ),
    pk=(PendingLink, "id"), now=(PendingLink, "expires_at"), consumed_at=(PendingLink, "consumed_at"),
)


def consume(link: PendingLink) -> None:
    """Mark the link used, or raise ``InvalidLink`` if another request got there first."""
    now = timezone.now()
    won = _CONSUME.update(pk=link.pk, now=now, consumed_at=now)
    if not won:
        raise _refuse(link, "lost the race to another verify", ErrorKey.LINK_USED)
    link.consumed_at = now
