"""Enumeration-safe start calls: a sign-in of a known address and of an unknown one must take alike.

With ``ENUMERATION_SAFE`` the answer's bytes are the same either way (tests/test_enumeration.py); this
measures the other channel, time. The known address gets its sign-in link; the unknown one gets a sign-up
link in the ``no_account`` templates, made as any link is. Both are timed in alternating rounds through
Django's test client, and the figure is the ratio of the medians (target between 0.5 and 2).

    python bench/enumeration_timing.py
    DATABASE_URL=postgres://... python bench/enumeration_timing.py
"""

from __future__ import annotations

import itertools
import json
import statistics

import harness

harness.setup()

from django.test import Client  # noqa: E402

from magiclink_auth.conf import app_settings  # noqa: E402
from magiclink_auth.users import create_user  # noqa: E402

ROUNDS, PER_ROUND = 6, 40


def main() -> None:
    harness.header("enumeration-safe sign-in: a known and an unknown address take the same time")
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {app_settings.PROJECT_ID}"}
    known = [create_user("email", f"user{i}@example.com", {}).login_ids.get().value for i in range(50)]
    unknown = (f"nobody{n}@example.com" for n in itertools.count())
    known_cycle = itertools.cycle(known)

    def sign_in(address: str):
        def call() -> None:
            response = client.post("/v1/auth/magiclink/signin/email", json.dumps({"loginId": address}),
                                   content_type="application/json", **auth)
            assert response.status_code == 200, response.content
        return call

    samples: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(ROUNDS):
        samples["known"] += [harness.timed(sign_in(next(known_cycle)), repeat=1, warmup=0)[0]
                             for _ in range(PER_ROUND)]
        samples["unknown"] += [harness.timed(sign_in(next(unknown)), repeat=1, warmup=0)[0]
                               for _ in range(PER_ROUND)]
    for name, values in samples.items():
        print(f"   {name:<8} {harness.ms(values)}")
    ratio = statistics.median(samples["known"]) / statistics.median(samples["unknown"])
    print("   " + harness.verdict("ratio (known / unknown)", ratio, "0.5 to 2", 0.5 <= ratio <= 2))


if __name__ == "__main__":
    main()
