"""Which exceptions are outages of what the app runs on, and the error each one answers.

A database that is locked, unreachable or read-only, and a cache that does not answer, are nobody's mistake
and pass: the API answers them 503 with ``Retry-After`` and a code of their own (the Python SDK retries 503
by itself), never a 500 page. A task queue that refuses an enqueue raises ``Unavailable`` where it happens
(``tasks.py``). Anything else unexpected is a bug and answers 500 with E011206.

The database is recognised through the driver's error that Django's wrapper keeps as ``__cause__``: the
SQLSTATE of PostgreSQL (psycopg 3 ``sqlstate``, psycopg2 ``pgcode``) and SQLite's error name.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError

from .errors import ErrorKey, MagicLinkError, Unavailable

__all__ = ["outage", "log_failure"]

logger = logging.getLogger("magiclink_auth")

# PostgreSQL: read-only transaction (a standby, default_transaction_read_only), and the lock failures a retry
# gets past: serialization failure, deadlock, lock_timeout, statement_timeout.
READ_ONLY_SQLSTATES = {"25006"}
BUSY_SQLSTATES = {"40001", "40P01", "55P03", "57014"}
# Classes: connection exception, insufficient resources, operator intervention (shutdown, cannot connect now).
UNAVAILABLE_SQLSTATE_CLASSES = {"08", "53", "57"}
SQLITE_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED"}


def _cache_errors() -> tuple[type[BaseException], ...]:
    """The errors of the cache clients Django ships backends for, as far as they are installed."""
    errors: list[type[BaseException]] = []
    try:
        from redis.exceptions import RedisError
    except ImportError:
        pass
    else:
        errors.append(RedisError)
    try:
        from pymemcache.exceptions import MemcacheError
    except ImportError:
        pass
    else:
        errors.append(MemcacheError)
    return tuple(errors)


CACHE_ERRORS = _cache_errors()


def _database_key(exc: DatabaseError) -> str | None:
    cause = exc.__cause__
    sqlstate = str(getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or "")
    sqlite_name = str(getattr(cause, "sqlite_errorname", ""))
    if sqlstate in READ_ONLY_SQLSTATES or sqlite_name.startswith("SQLITE_READONLY"):
        return ErrorKey.DATABASE_READ_ONLY
    if sqlstate in BUSY_SQLSTATES or sqlite_name in SQLITE_BUSY:
        return ErrorKey.DATABASE_BUSY
    if isinstance(exc, OperationalError | InterfaceError) or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES:
        return ErrorKey.DATABASE_UNAVAILABLE
    return None  # integrity, data, programming errors: bugs, not outages


def outage(exc: BaseException) -> Unavailable | None:
    """The 503 error for an infrastructure fault, or None when ``exc`` is something else."""
    if isinstance(exc, Unavailable):
        return exc
    key = None
    if isinstance(exc, DatabaseError):
        key = _database_key(exc)
    elif CACHE_ERRORS and isinstance(exc, CACHE_ERRORS):
        key = ErrorKey.CACHE_UNAVAILABLE
    if key is None:
        return None
    error = Unavailable(key)
    error.__cause__ = exc
    return error


def log_failure(error: MagicLinkError, exc: BaseException, where: str, request=None) -> None:
    """One ERROR line per failed request: the code, and the fault's type and first line (drivers and cache
    clients name the host and port, never a password; no SQL parameters, no request data)."""
    cause = exc.__cause__ if isinstance(exc, Unavailable) and exc.__cause__ is not None else exc
    detail = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
    if error.status >= 500 and not isinstance(error, Unavailable):
        # With the request, as Django's own request logger does: a report built from this record (ADMINS
        # mail) uses the request's filter, which keeps tokens and cookies out (reporting.py).
        extra = {"request": request, "status_code": error.status} if request is not None else {}
        logger.error("%s %s on %s", error.code, error.key, where, exc_info=exc, extra=extra)
    else:
        logger.error("%s %s on %s: %s: %s", error.code, error.key, where, type(cause).__name__, detail)
