"""Enumeration by timing: a sign-in for a disabled user must take as long as one for an enabled user.

With ``ENUMERATION_SAFE`` both answer 200 with the masked address; the disabled user is sent nothing. The
red team measured the disabled answer ~39 ms faster (it skipped the link's writes). Now both do the same
work (a link born void for the disabled user), so the medians should match: the figure is the ratio of the
median latencies, disabled over enabled (target 0.9 to 1.1), with the statements each runs.

    python bench/disabled_timing.py                  # SQLite
    DATABASE_URL=postgres://... python bench/disabled_timing.py
"""

from __future__ import annotations

import json
import statistics

import harness

harness.setup()

from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from magiclink_auth.conf import app_settings  # noqa: E402
from magiclink_auth.models import Profile  # noqa: E402
from magiclink_auth.users import create_user  # noqa: E402

USERS = 100
ROUNDS, PER_ROUND = 8, 40


class Caller:
    def __init__(self, prefix: str):
        self.client = Client()
        self.addresses = [create_user("email", f"{prefix}{i}@example.com", {}).login_ids.get().value
                          for i in range(USERS)]
        self.turn = 0
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {app_settings.PROJECT_ID}"}

    def start(self) -> float:
        self.turn += 1
        body = json.dumps({"loginId": self.addresses[self.turn % len(self.addresses)]})
        started = harness.time.perf_counter()
        response = self.client.post("/v1/auth/magiclink/signin/email", body, content_type="application/json",
                                    **self.auth)
        elapsed = harness.time.perf_counter() - started
        assert response.status_code == 200, response.content
        return elapsed


def main() -> None:
    harness.header("sign-in timing: a disabled user against an enabled one (ENUMERATION_SAFE)")
    enabled, disabled = Caller("on"), Caller("off")
    Profile.objects.filter(user__login_ids__value__startswith="off").update(status=Profile.Status.DISABLED)
    overrides = {"MAGICLINK_AUTH": {**settings.MAGICLINK_AUTH, "ENUMERATION_SAFE": True, "RESEND_COOLDOWN": 0,
                                    "START_RATE_PER_LOGIN_ID": None, "START_RATE_PER_IP": None}}
    with override_settings(**overrides):
        for caller in (enabled, disabled):
            for _ in range(20):
                caller.start()
        counts = {}
        for name, caller in (("enabled", enabled), ("disabled", disabled)):
            with harness.queries() as captured:
                caller.start()
            counts[name] = harness.data_queries(captured)
        samples: dict[str, list[float]] = {"enabled": [], "disabled": []}
        for _ in range(ROUNDS):  # alternating rounds, so drift in the machine's speed touches both alike
            samples["enabled"] += [enabled.start() for _ in range(PER_ROUND)]
            samples["disabled"] += [disabled.start() for _ in range(PER_ROUND)]
    for name, values in samples.items():
        print(f"   {name:<9} {harness.ms(values)}; statements per call: {counts[name]}")
    ratio = statistics.median(samples["disabled"]) / statistics.median(samples["enabled"])
    print("   " + harness.verdict("ratio (disabled / enabled, medians)", ratio, "0.9 .. 1.1", 0.9 <= ratio <= 1.1))


if __name__ == "__main__":
    main()
