"""Settings of the benchmarks: the example site's, made quiet and production-like.

The database is ``DATABASE_URL`` (PostgreSQL, say) or, without it, an SQLite file the harness names in
``BENCH_SQLITE_PATH``. Each run works in its own throw-away database (``test_<name>``), never in yours.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")

from example_project.settings import *  # noqa: F403
from example_project.settings import CACHES, DATABASES, INSTALLED_APPS, MAGICLINK_AUTH

DEBUG = False
ALLOWED_HOSTS = ["*"]
LOGGING = {"version": 1, "disable_existing_loggers": False}

if not os.environ.get("DATABASE_URL"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_SQLITE_PATH", ":memory:"),
        # Several gunicorn workers share the file: wait for the lock instead of failing, take the write
        # lock when a transaction starts (no upgrade deadlocks), and let readers run beside the writer.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": os.environ.get("BENCH_SQLITE_PATH", ":memory:")},
        # Kept between requests, as on PostgreSQL below and on the sesame site (throughput.py).
        "CONN_MAX_AGE": int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "60"))
    if os.environ.get("BENCH_DB_NAME"):  # a gunicorn worker joining the database the harness made
        DATABASES["default"]["NAME"] = os.environ["BENCH_DB_NAME"]

# A Redis database shared with other work (a test run on the same machine, say): the bench's keys apart.
if os.environ.get("BENCH_CACHE_PREFIX"):
    CACHES["default"]["KEY_PREFIX"] = os.environ["BENCH_CACHE_PREFIX"]

# The database task backend is what a production site runs: the request only inserts the task row.
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]
TASKS = {"default": {"BACKEND": os.environ.get("BENCH_TASKS_BACKEND",
                                               "django_tasks_db.DatabaseBackend")}}

# throughput.py: links left in a folder the load generator reads (BENCH_MAILBOX), sent in-request.
_delivery = (
    {"BACKEND": "bench_backends.MailboxBackend", "OPTIONS": {"DIR": os.environ["BENCH_MAILBOX"]}}
    if os.environ.get("BENCH_MAILBOX")
    else {"BACKEND": "bench_backends.SleepBackend", "OPTIONS": {"SECONDS": 0}}
)
MAGICLINK_AUTH = {
    **MAGICLINK_AUTH,
    "PROJECT_ID": "P2benchproject",
    "REDIRECT_URLS": ["https://app.example.com/"],
    "DEFAULT_REDIRECT_URL": "https://app.example.com/welcome",
    "DELIVERY": {"email": _delivery, "sms": _delivery},
    # All the load comes from 127.0.0.1 and a few hundred addresses: rates that never trip, so the
    # limiter's counting is paid on every call but never refuses one.
    "START_RATE_PER_IP": "1000000/hour",
    "START_RATE_PER_LOGIN_ID": "1000000/hour",
    "VERIFY_RATE_PER_IP": "1000000/hour",
    "REFRESH_RATE_PER_SESSION": "1000000/hour",
    "RESEND_COOLDOWN": 0,
    # session_validation.py keeps presenting the session JWTs it made at the start, on a machine that
    # may be slow: they must not expire during the run (their check costs the same whatever the lifetime).
    "SESSION_LIFETIME": 6 * 3600,
}
