"""Where a sign-in's time goes: the start call and the verify call, in process, on the bench settings.

Runs ``BENCH_SIGNINS`` sign-ins (POST signin/email, then POST verify with the token from the mailbox)
through Django's test client, the way throughput.py's gunicorn workers run them (the immediate task
backend, delivery in the request), and prints for each call its CPU time per call (this process's; SQLite
runs in it), its SQL statements, and the top of a pyinstrument profile of each.

    python bench/profile_signin.py                 # SQLite
    DATABASE_URL=postgres://... python bench/profile_signin.py
    BENCH_SIGNINS=300 BENCH_PROFILE_DEPTH=40 python bench/profile_signin.py
    BENCH_SQL=1 python bench/profile_signin.py     # also list one sign-in's statements
    BENCH_PROFILE_ALL=1 BENCH_PROFILE_DEPTH=100000 python bench/profile_signin.py   # every frame
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections import Counter

import harness

SIGNINS = int(os.environ.get("BENCH_SIGNINS", "200"))
DEPTH = int(os.environ.get("BENCH_PROFILE_DEPTH", "28"))
USERS = 50


def main() -> None:
    mailbox = harness.TMP / "mailbox"
    mailbox.mkdir()
    harness.setup(BENCH_MAILBOX=str(mailbox),
                  BENCH_TASKS_BACKEND="django_tasks.backends.immediate.ImmediateBackend")
    from django.conf import settings
    from django.test import Client

    from magiclink_auth.keys import get_signing_key
    from magiclink_auth.users import create_user

    emails = [f"p-u{n}@example.com" for n in range(USERS)]
    for email in emails:
        create_user("email", email, {})
    get_signing_key()
    harness.header(f"profile of a sign-in: start + verify through the test client, {SIGNINS} sign-ins")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {settings.MAGICLINK_AUTH['PROJECT_ID']}")
    counter = iter(range(10**9))

    def start() -> str:
        email = emails[next(counter) % USERS]
        response = client.post("/v1/auth/magiclink/signin/email", {"loginId": email},
                               content_type="application/json")
        assert response.status_code == 200, response.content
        return (mailbox / email).read_text().split("t=", 1)[1].split("&", 1)[0]

    def verify(token: str) -> None:
        response = client.post("/v1/auth/magiclink/verify", {"token": token}, content_type="application/json")
        assert response.status_code == 200, response.content
        client.cookies.clear()

    for _ in range(30):  # warm up: imports, caches, the key ring
        verify(start())

    timings: dict[str, list[float]] = {"start": [], "verify": []}
    statements: dict[str, list[list[str]]] = {"start": [], "verify": []}
    gc.collect()
    for _ in range(SIGNINS):
        with harness.queries() as sql:
            began = time.process_time()
            token = start()
            timings["start"].append(time.process_time() - began)
        statements["start"].append(sql)
        with harness.queries() as sql:
            began = time.process_time()
            verify(token)
            timings["verify"].append(time.process_time() - began)
        statements["verify"].append(sql)

    for name in ("start", "verify"):
        counts = [harness.data_queries(s) for s in statements[name]]
        print(f"   {name:<7} CPU median {statistics.median(timings[name]) * 1e3:6.3f} ms, "
              f"mean {statistics.mean(timings[name]) * 1e3:6.3f} ms; statements "
              f"{statistics.median(counts):.0f} (BEGIN not counted), {len(statements[name][-1])} in all")
    both = [a + b for a, b in zip(timings["start"], timings["verify"], strict=True)]
    print(f"   sign-in CPU median {statistics.median(both) * 1e3:6.3f} ms")
    if os.environ.get("BENCH_SQL"):
        for name in ("start", "verify"):
            print(f"-- {name}: one call's statements")
            for sql in statements[name][-1]:
                print("     " + sql[:160])
    else:
        for name in ("start", "verify"):
            kinds = Counter(sql.split()[0].upper() for s in statements[name] for sql in s)
            print(f"   {name} statement kinds per call: "
                  + ", ".join(f"{k} {v / SIGNINS:.1f}" for k, v in kinds.most_common()))

    from pyinstrument import Profiler

    for name in ("start", "verify"):
        profiler = Profiler(interval=0.0002)
        for batch in range(0, SIGNINS, USERS):
            # One pending link per user at a time: a newer link for the same address voids the older.
            tokens = [start() for _ in range(min(USERS, SIGNINS - batch))] if name == "verify" else []
            profiler.start()
            if name == "verify":
                for token in tokens:
                    verify(token)
            else:
                for _ in range(min(USERS, SIGNINS - batch)):
                    tokens.append(start())
            profiler.stop()
            for token in tokens if name == "start" else ():
                verify(token)
        print(f"-- pyinstrument, {name}, {SIGNINS} calls")
        show_all = bool(os.environ.get("BENCH_PROFILE_ALL"))
        text = profiler.output_text(unicode=False, color=False, show_all=show_all)
        print("\n".join(text.splitlines()[:DEPTH]))


if __name__ == "__main__":
    main()
