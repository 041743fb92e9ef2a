"""The example site as README starts it (its own settings, SQLite unless DATABASE_URL says otherwise), run
in a subprocess by tests/live_site.py, with what those tests need on top:

- the per-caller limits raised, so that fifty callers reach the link or session they race for instead of a
  429 (the limits' own concurrency is tested in test_throttling.py);
- links written as JSON lines to ``LIVE_OUTBOX``, or with ``LIVE_SMTP_PORT`` sent by Django's SMTP backend
  to a server on that loopback port;
- delivery retries due at once, and an attempt cut short by a fault due again after a second (its claim), so
  that a test need not wait out the backoff.
"""

import os

from example_project.settings import *  # noqa: F403

MAGICLINK_AUTH = {
    **MAGICLINK_AUTH,  # noqa: F405
    "START_RATE_PER_IP": "100000/hour",
    "VERIFY_RATE_PER_IP": "100000/hour",
    "VERIFY_ATTEMPTS_PER_TOKEN": 1000,
    "REFRESH_RATE_PER_SESSION": "100000/hour",
    "RESEND_COOLDOWN": 0,
    "DELIVERY_RETRY_BACKOFF": 0,
    "DELIVERY_CLAIM_TIMEOUT": 1,
}
if os.environ.get("LIVE_SMTP_PORT"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST, EMAIL_PORT, EMAIL_TIMEOUT = "127.0.0.1", int(os.environ["LIVE_SMTP_PORT"]), 5
    MAGICLINK_AUTH["DELIVERY"] = {**MAGICLINK_AUTH["DELIVERY"],
                                  "email": {"BACKEND": "magiclink_auth.delivery.email.EmailBackend"}}
else:
    MAGICLINK_AUTH["DELIVERY"] = {**MAGICLINK_AUTH["DELIVERY"], "email": {
        "BACKEND": "magiclink_auth.delivery.dev.FileBackend", "OPTIONS": {"PATH": os.environ["LIVE_OUTBOX"]}}}
if os.environ.get("LIVE_SQLITE_TIMEOUT") and DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["OPTIONS"]["timeout"] = float(os.environ["LIVE_SQLITE_TIMEOUT"])  # noqa: F405
