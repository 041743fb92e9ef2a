"""Sign-ins and session-validated requests per second with one app instance and with two.

Two gunicorn instances of the example site (one sync worker each, ``bench_settings``) share the database the
harness makes and, with ``REDIS_URL``, one Redis for the limits' counters, as docs/deployment.md describes.
Each measurement drives, with wrk, either instance A alone or A and B at once (one wrk per instance, the
same number of connections each), and reports the sum; the two shapes alternate for ``BENCH_ROUNDS``
rounds and each keeps its best round (other load on a shared machine only ever slows a round down).

- sign-ins: throughput.lua's loop, ask for a link then use it (POST signin/email + POST verify);
- session-validated requests: GET / with a DS cookie (the middleware checks the session JWT's signature
  with the cached key ring; the home page then reads the user row to send a signed-in browser on).

The ratio two / one is bounded by the machine's cores: wrk, PostgreSQL, Redis and both instances share
them. On 2 cores, two instances can at best use the second core that one instance leaves to the others;
the script prints the core count and says so. Figures, not a test: nothing here fails on a number.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python bench/scale_out.py
    BENCH_SECONDS=10 BENCH_CONNECTIONS=4 BENCH_ROUNDS=2 python bench/scale_out.py   # SQLite without DATABASE_URL
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import ExitStack

import harness
import throughput

SECONDS = throughput.SECONDS
CONNECTIONS = throughput.CONNECTIONS
ROUNDS = throughput.ROUNDS
INSTANCES = ("a", "b")


def emails(prefix: str) -> list[str]:
    """The addresses throughput.lua signs in with under ``BENCH_EMAIL_PREFIX=prefix``."""
    return [f"{prefix}{t}-u{u}@example.com"
            for t in range(1, CONNECTIONS + 1) for u in range(1, throughput.USERS_PER_CONNECTION + 1)]


def wrk_get(url: str, cookie: str) -> dict:
    command = ["wrk", "-t", str(CONNECTIONS), "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--timeout", "10s",
               "-H", f"Cookie: DS={cookie}", f"{url}/"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "bad": int(bad.group(1)) if bad else 0}


def at_once(drivers) -> list[dict]:
    """Run the drivers at the same time (one wrk each); their results in order."""
    results: list[dict] = [{}] * len(drivers)

    def run(index, drive):
        results[index] = drive()

    threads = [threading.Thread(target=run, args=(i, d)) for i, d in enumerate(drivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def best_of(name: str, unit: str, shapes: dict) -> dict[str, float]:
    """Alternate the shapes (1 instance, 2 instances) for ROUNDS rounds; the best summed rate of each, in
    sign-ins completed per second when the driver counts them, else in requests per second."""
    best: dict[str, float] = {}
    for round_number in range(1, ROUNDS + 1):
        for shape, drivers in shapes.items():
            results = at_once(drivers)
            requests = sum(r["rate"] for r in results)
            rate = sum(r["sign_ins"] for r in results) / SECONDS if "sign_ins" in results[0] else requests
            bad = sum(r["bad"] for r in results)
            print(f"   {name}, {shape} #{round_number}: {rate:8.1f} {unit} ({requests:.1f} req/s, "
                  f"non-2xx/3xx: {bad})")
            best[shape] = max(best.get(shape, 0.0), rate)
    return best


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("scale_out.py needs wrk: apt-get install -y wrk")
    harness.setup()
    from django.conf import settings
    from django.db import connection

    from magiclink_auth.keys import get_signing_key
    from magiclink_auth.users import create_user

    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    harness.header(f"scale-out: 1 vs 2 gunicorn instances (1 sync worker each), wrk, {CONNECTIONS} connections "
                   f"per instance, {SECONDS} s, cache {cache}")
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"   {cores} CPU cores, load average {load:.1f} at start: wrk, the database, the cache and both "
          f"instances share them, so two instances can be at most {cores}x one, and on this machine less.")
    for prefix in INSTANCES:
        for email in emails(prefix):
            create_user("email", email, {})
    get_signing_key()  # the key exists before the instances start, as on a running site
    user = create_user("email", "reader@example.com", {})
    cookie = harness.session_jwt(user)
    database = settings.DATABASES["default"]["NAME"]
    connection.close()

    with ExitStack() as stack:
        env = throughput.base_env(
            DJANGO_SETTINGS_MODULE="bench_settings", PYTHONPATH=f"{harness.ROOT}{os.pathsep}{harness.BENCH_DIR}",
            BENCH_TASKS_BACKEND="django_tasks.backends.immediate.ImmediateBackend",
        )
        env["BENCH_DB_NAME" if connection.vendor == "postgresql" else "BENCH_SQLITE_PATH"] = str(database)
        sign_in, validate = {}, {}
        for prefix in INSTANCES:
            mailbox = harness.TMP / f"mailbox-{prefix}"
            mailbox.mkdir()
            site_env = {**env, "BENCH_MAILBOX": str(mailbox)}
            url = stack.enter_context(throughput.gunicorn(
                "example_project.wsgi", site_env, harness.ROOT, harness.TMP / f"gunicorn-{prefix}.log", workers=1
            ))
            wrk_env = {**site_env, "BENCH_SITE": "magiclink", "BENCH_EMAIL_PREFIX": prefix,
                       "BENCH_PROJECT_ID": settings.MAGICLINK_AUTH["PROJECT_ID"],
                       "BENCH_USERS_PER_THREAD": str(throughput.USERS_PER_CONNECTION)}
            sign_in[prefix] = lambda url=url, wrk_env=wrk_env: throughput.wrk(url, wrk_env)
            validate[prefix] = lambda url=url: wrk_get(url, cookie)

        print("-- sign-ins (ask for a link, use it: 2 requests each)")
        signs = best_of("sign-ins", "sign-ins/s",
                        {"1 instance": [sign_in["a"]], "2 instances": [sign_in["a"], sign_in["b"]]})
        print("-- session-validated requests (GET / with a DS cookie)")
        checks = best_of("session-validated", "req/s",
                         {"1 instance": [validate["a"]], "2 instances": [validate["a"], validate["b"]]})

    print(f"-- best rounds (the ratio is bounded by the {cores} cores everything here shares)")
    for name, unit, best in (("sign-ins", "sign-ins/s", signs), ("session-validated requests", "req/s", checks)):
        one, two = best["1 instance"], best["2 instances"]
        print(f"   {name}: 1 instance {one:8.1f} {unit}, 2 instances {two:8.1f} {unit}, "
              f"ratio 2/1 {two / one:.2f} (at most {cores} on {cores} cores)")


if __name__ == "__main__":
    main()
