"""The example site as README starts it (SQLite unless DATABASE_URL says otherwise), for test_live_limits.py:
links written as JSON lines to ``SITE_OUTBOX``, one proxy trusted (each test caller picks its client IP in
X-Forwarded-For), and the limits those tests push against."""

import os

from example_project.settings import *  # noqa: F403

_outbox = {"BACKEND": "magiclink_auth.delivery.dev.FileBackend", "OPTIONS": {"PATH": os.environ["SITE_OUTBOX"]}}
MAGICLINK_AUTH = {
    **MAGICLINK_AUTH,  # noqa: F405
    "DELIVERY": {"email": _outbox, "sms": _outbox},
    "NUM_PROXIES": 1,
    "START_RATE_PER_IP": "30/hour",
    "SMS_RATE_SITEWIDE": "10/hour",
    "SMS_ALLOWED_COUNTRY_CODES": [1],
}
