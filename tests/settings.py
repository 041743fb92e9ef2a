"""The example site's settings, with delivery captured in memory and a fixed project id."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_DEBUG", "0")

from example_project.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-tasks-db's ORM backend, for the tests that run delivery through its worker (test_delivery_retry.py).
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405

PROJECT_ID = "P2testproject"
MAGICLINK_AUTH = {
    "PROJECT_ID": PROJECT_ID,
    "REDIRECT_URLS": ["https://app.example.com/", "http://localhost/"],
    "DEFAULT_REDIRECT_URL": "https://app.example.com/welcome",
    "DELIVERY": {
        "email": {"BACKEND": "magiclink_auth.delivery.dev.MemoryBackend", "OPTIONS": {}},
        "sms": {"BACKEND": "magiclink_auth.delivery.dev.MemoryBackend", "OPTIONS": {}},
    },
    # Abuse limits that would get in the way of tests of other things; test_throttling.py, test_pumping.py
    # and test_enumeration.py set their own.
    "RESEND_COOLDOWN": 0,
    "SMS_ALLOWED_COUNTRY_CODES": [1, 33, 44, 49],
    "ENUMERATION_SAFE": False,
}
# On SQLite the test database is a file, not Django's in-memory default: pytest-django's live server hands an
# in-memory database's one connection to every request thread, and two requests at once (a browser's poll beside
# an SDK call) then interleave their cursors on it. With a file each thread has its own connection, as in
# production, and the WAL/IMMEDIATE/timeout options above queue the writers.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"magiclink_auth_test_{os.getpid()}.sqlite3"),
    }
LOGGING = {"version": 1, "disable_existing_loggers": False}
TEMPLATES[0]["DIRS"] = [Path(__file__).parent / "templates"]  # noqa: F405
