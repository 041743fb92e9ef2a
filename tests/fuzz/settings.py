"""The example site as the fuzzer drives it: one address sends thousands of requests, so the abuse limits
are lifted (they have their own tests) and the requests reach the logic behind the throttles instead of
stopping at 429. Everything else is the example site, configured by run_schemathesis.sh's environment."""

from example_project.settings import *  # noqa: F403
from example_project.settings import MAGICLINK_AUTH

MAGICLINK_AUTH = {
    **MAGICLINK_AUTH,
    "START_RATE_PER_IP": "1000000/hour",
    "RESEND_COOLDOWN": 0,
    "START_RATE_PER_LOGIN_ID": "1000000/hour",
    "VERIFY_RATE_PER_IP": "1000000/hour",
    "VERIFY_ATTEMPTS_PER_TOKEN": 1000000,
    "REFRESH_RATE_PER_SESSION": "1000000/hour",
    "SMS_RATE_PER_PREFIX": "1000000/hour",
    "SMS_RATE_SITEWIDE": "1000000/hour",
}
