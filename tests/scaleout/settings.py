"""The example site as each instance of tests/test_scaleout.py runs it: production-shaped (DEBUG off,
PostgreSQL from DATABASE_URL, Redis from REDIS_URL, django-tasks-db's worker sends), with links written to
one file all instances and workers append to, and short intervals so that what the test waits for comes
in seconds instead of minutes."""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")

from example_project.settings import *  # noqa: F403
from example_project.settings import MAGICLINK_AUTH

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

MAGICLINK_AUTH = {
    **MAGICLINK_AUTH,
    "PROJECT_ID": "P2scaleout",
    "REDIRECT_URLS": ["https://app.example.com/"],
    "DEFAULT_REDIRECT_URL": "https://app.example.com/welcome",
    "DELIVERY": {
        channel: {"BACKEND": "tests.scaleout.delivery.SlowFileBackend",
                  "OPTIONS": {"PATH": os.environ["SCALEOUT_OUTBOX"], "DELAY": 3.0}}
        for channel in ("email", "sms")
    },
    "ENUMERATION_SAFE": False,
    "SMS_ALLOWED_COUNTRY_CODES": [1],
    # Behind the "load balancer" (the test client sets X-Forwarded-For), clients are told apart by it.
    "NUM_PROXIES": 1,
    # Limits the test counts across instances; the others out of the way.
    "RESEND_COOLDOWN": 0,
    "START_RATE_PER_LOGIN_ID": "3/hour",
    "START_RATE_PER_IP": "1000/hour",
    "VERIFY_RATE_PER_IP": "20/hour",
    "REFRESH_RATE_PER_SESSION": "1000/hour",
    "REFRESH_REUSE_GRACE": 4,
    # Every instance reloads its key ring this often (a deleted key is refused everywhere within it).
    "KEY_REFRESH_INTERVAL": 3,
    # A worker killed mid-send gives its link back after this long.
    "DELIVERY_CLAIM_TIMEOUT": 5,
    "DELIVERY_RETRY_BACKOFF": 1,
}
