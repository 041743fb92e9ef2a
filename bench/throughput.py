"""Sign-ins per second over HTTP: the example site under gunicorn against django-sesame, django-magic-link
and django-allauth's headless login by code, each a minimal site (bench/peers/) under the same gunicorn.

Every site runs under gunicorn (2 sync workers) on 127.0.0.1 and delivers to a folder the load generator
reads like an inbox. wrk drives each for a fixed time with a bounded number of connections, each doing
sign-in after sign-in: ask, then use (throughput.lua lists each site's requests: 2 for ours, sesame and
allauth, 3 for django-magic-link, whose link opens a confirm page that POSTs). The figure is completed
sign-ins per second; the ratios are ours over each peer's (target >= 1.0 against django-magic-link and
allauth; sesame's stateless token is the reference).

All servers stay up for the whole run and wrk drives them in turn, ours, sesame, magic-link, allauth,
ours, ... (``BENCH_ROUNDS`` rounds each): each site's figure is the median of its rounds, and alternating
keeps a busy spell on this shared machine from landing on one site only. Every site keeps its database
connections (``CONN_MAX_AGE`` 60 s, SQLite included), as a production site would.

Two configurations:
- default: links are delivered in the request by every site (ours through the immediate task backend),
  throttles on the local-memory cache;
- ``BENCH_PRODUCTION=1``: ours as in production: throttles on Redis (``BENCH_REDIS_URL``, default
  ``redis://127.0.0.1:6379/0``, flushed before and after), the django-tasks-db backend, and its
  ``db_worker`` running beside gunicorn on the same CPUs, so the delivery work is counted; the start call
  answers before the link exists and the load generator uses each link once it has arrived. The peers
  keep their own way (delivery in the request) with their cache, and so allauth's rate limits, on Redis.

Needs wrk (``apt-get install -y wrk``) and the bench extra (``pip install -e '.[bench]'``).

    python bench/throughput.py                     # SQLite (a WAL file per site)
    DATABASE_URL=postgres://.../h6_bench python bench/throughput.py     # test_h6_bench, h6_bench_<peer>
    BENCH_PRODUCTION=1 BENCH_REDIS_URL=redis://127.0.0.1:6379/6 python bench/throughput.py
    BENCH_SECONDS=30 BENCH_CONNECTIONS=8 BENCH_ROUNDS=3 BENCH_SITES=magiclink,allauth python bench/throughput.py
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import harness

SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SITES = os.environ.get("BENCH_SITES", "magiclink,sesame,magic_link,allauth").split(",")
PRODUCTION = os.environ.get("BENCH_PRODUCTION") == "1"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
USERS_PER_CONNECTION = 50
WORKERS = 2
# The process groups of each site's server side, by URL (gunicorn; ours' db_worker joins its site's).
GROUPS: dict[str, list[int]] = {}
PACKAGES = {"sesame": "django-sesame", "magic_link": "django-magic-link", "allauth": "django-allauth"}


def cpu_seconds(groups: list[int]) -> tuple[float, float]:
    """User + system CPU of every live process in the process groups ``groups`` (a gunicorn master and its
    workers; the db_worker), and of every PostgreSQL server process, from /proc: what the site's processes
    spent, whatever wrk spent, and what the database server spent (one site runs at a time)."""
    total = database = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue  # gone meanwhile
        fields = fields.split()
        spent = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if int(fields[2]) in groups:  # pgrp
            total += spent
        elif name.endswith("(postgres"):
            # The postmaster's cutime/cstime hold the CPU of the backends it has reaped (a connection
            # closed at CONN_MAX_AGE, an autovacuum worker): without them a round's figure can go negative.
            database += spent + (int(fields[13]) + int(fields[14])) / tick
    return total, database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emails() -> list[str]:
    """The addresses throughput.lua signs in with: its own set for each connection."""
    return [f"t{t}-u{u}@example.com"
            for t in range(1, CONNECTIONS + 1) for u in range(1, USERS_PER_CONNECTION + 1)]


@contextmanager
def gunicorn(app: str, env: dict, cwd: Path, log: Path, workers: int = WORKERS):
    port = free_port()
    process = subprocess.Popen(
        # No control socket: several gunicorns at once would share the default one.
        [sys.executable, "-m", "gunicorn", app, "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--error-logfile", str(log), "--no-control-socket"],
        cwd=cwd, env=env, start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn did not come up: {log.read_text()[-2000:]}")
        GROUPS.setdefault(f"http://127.0.0.1:{port}", []).append(process.pid)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wrk(url: str, env: dict, seconds: int = SECONDS) -> dict:
    # A fresh inbox: a link a worker delivered after the last run ended is stale (each run starts over
    # with the first user, whose new link voids it).
    time.sleep(1)
    for stale in Path(env["BENCH_MAILBOX"]).iterdir():
        stale.unlink()
    groups = GROUPS.get(url, [])
    cpu_before, database_before = cpu_seconds(groups)
    command = ["wrk", "-t", str(CONNECTIONS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(harness.BENCH_DIR / "throughput.lua"), url]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    cpu_after, database_after = cpu_seconds(groups)
    cpu, database = cpu_after - cpu_before, database_after - database_before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    sign_ins = int(re.search(r"sign-ins: (\d+)", output).group(1))
    return {"rate": rate, "total": total, "bad": int(bad.group(1)) if bad else 0, "sign_ins": sign_ins,
            "cpu_ms": cpu / sign_ins * 1000 if sign_ins else 0.0,
            "database_ms": database / sign_ins * 1000 if sign_ins else 0.0,
            "missing": int(re.search(r"missing links: (\d+)", output).group(1)),
            "socket_errors": errors.group(1) if errors else "none", "latency": latency.group(1)}


def report(name: str, result: dict) -> None:
    print(f"   {name:<16} {result['sign_ins'] / SECONDS:7.1f} sign-ins/s, {result['rate']:7.1f} req/s "
          f"({result['total']} requests, {result['sign_ins']} sign-ins completed, mean latency "
          f"{result['latency']}, server CPU {result['cpu_ms']:.1f} ms per sign-in"
          + (f" + PostgreSQL {result['database_ms']:.1f} ms" if result["database_ms"] else "") + ", "
          f"non-2xx/3xx: {result['bad']}, links missing: {result['missing']}, "
          f"socket errors: {result['socket_errors']})")


def base_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "BENCH_SQLITE_PATH"}}
    env.update(extra)
    return env


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@contextmanager
def background(command: list[str], env: dict, cwd: Path, log: Path):
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@contextmanager
def magiclink_site(mailbox: Path):
    from django.conf import settings
    from django.db import connection

    from magiclink_auth.keys import get_signing_key
    from magiclink_auth.users import create_user

    for email in emails():
        create_user("email", email, {})
    get_signing_key()  # the key exists before the workers start, as on a running site
    database = settings.DATABASES["default"]["NAME"]
    connection.close()
    backend = "django_tasks_db.DatabaseBackend" if PRODUCTION else "django_tasks.backends.immediate.ImmediateBackend"
    env = base_env(
        DJANGO_SETTINGS_MODULE="bench_settings", PYTHONPATH=f"{harness.ROOT}{os.pathsep}{harness.BENCH_DIR}",
        BENCH_MAILBOX=str(mailbox), BENCH_TASKS_BACKEND=backend,
    )
    if PRODUCTION:
        env["REDIS_URL"] = REDIS_URL  # the example site's cache, and so THROTTLE_CACHE
    env["BENCH_DB_NAME" if connection.vendor == "postgresql" else "BENCH_SQLITE_PATH"] = str(database)
    with ExitStack() as stack:
        worker = None
        if PRODUCTION:
            command = [sys.executable, "-m", "django", "db_worker", "--interval", "0.05", "--no-startup-delay"]
            worker = stack.enter_context(background(command, env, harness.ROOT, harness.TMP / "db-worker.log"))
        url = stack.enter_context(gunicorn("example_project.wsgi", env, harness.ROOT,
                                           harness.TMP / "magiclink-gunicorn.log"))
        if worker is not None:
            GROUPS[url].append(worker.pid)  # the delivery work counts as the site's
        yield lambda **kw: wrk(url, {**env, "BENCH_SITE": "magiclink", "BENCH_ASYNC": "1" if PRODUCTION else "0",
                                "BENCH_PROJECT_ID": settings.MAGICLINK_AUTH["PROJECT_ID"],
                                "BENCH_USERS_PER_THREAD": str(USERS_PER_CONNECTION)}, **kw)


@contextmanager
def peer_database(peer: str):
    """SQLite: a file. PostgreSQL: ``<the bench database's name>_<peer>``, dropped afterwards."""
    if not os.environ.get("DATABASE_URL"):
        yield {"BENCH_SQLITE_PATH": str(harness.TMP / f"{peer}.sqlite3")}
        return
    import psycopg
    from django.db import connection

    server, name = os.environ["DATABASE_URL"].rsplit("/", 1)
    name = f"{name}_{peer}"
    with psycopg.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield {"DATABASE_URL": f"{server}/{name}"}
    finally:
        connection.close()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


CREATE_USERS = """
from django.contrib.auth.models import User
emails = {emails!r}
users = [User(username=e, email=e) for e in emails]
[u.set_unusable_password() for u in users]
User.objects.bulk_create(users)
if {peer!r} == "allauth":
    from allauth.account.models import EmailAddress
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in User.objects.all()])
"""


@contextmanager
def peer_site(peer: str, mailbox: Path):
    from django.conf import settings

    middleware = [entry for entry in settings.MIDDLEWARE if not entry.startswith("magiclink_auth.")]
    with peer_database(peer) as database:
        env = base_env(DJANGO_SETTINGS_MODULE="peers.settings", PYTHONPATH=str(harness.BENCH_DIR),
                       BENCH_PEER=peer, BENCH_SECRET_KEY=secrets.token_urlsafe(40),
                       BENCH_MIDDLEWARE=json.dumps(middleware), BENCH_MAILBOX=str(mailbox), **database)
        if PRODUCTION:
            env["BENCH_REDIS_URL"] = REDIS_URL
        django_admin = [sys.executable, "-m", "django"]
        subprocess.run([*django_admin, "migrate", "-v", "0"], cwd=harness.BENCH_DIR, env=env, check=True)
        subprocess.run([*django_admin, "shell", "--no-imports", "-c", CREATE_USERS.format(emails=emails(), peer=peer)],
                       cwd=harness.BENCH_DIR, env=env, check=True)
        with gunicorn("django.core.wsgi:get_wsgi_application()", env, harness.BENCH_DIR,
                      harness.TMP / f"{peer}-gunicorn.log") as url:
            yield lambda **kw: wrk(url, {**env, "BENCH_SITE": peer,
                                         "BENCH_USERS_PER_THREAD": str(USERS_PER_CONNECTION)}, **kw)


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("throughput.py needs wrk: apt-get install -y wrk")
    harness.setup()
    harness.header(f"throughput: {WORKERS} gunicorn workers, wrk, {CONNECTIONS} connections, {SECONDS} s")
    from importlib.metadata import version

    from magiclink_auth.keys import get_signing_key

    print("   " + ", ".join(f"{PACKAGES[s]} {version(PACKAGES[s])}" for s in SITES if s in PACKAGES)
          + f"; ours signs with {get_signing_key().algorithm}")
    print("   configuration: " + (
        "production-like (throttles on Redis, django-tasks-db with its db_worker delivering)" if PRODUCTION
        else "links delivered in the request (immediate task backend), throttles in local memory"))
    print(f"   {ROUNDS} rounds each, alternating; each site's median round counts")
    if PRODUCTION:
        flush_redis()
    rounds: dict[str, list[dict]] = {}
    with ExitStack() as stack:
        drivers = {}
        for name in SITES:
            mailbox = harness.TMP / f"mailbox-{name}"
            mailbox.mkdir()
            site = magiclink_site(mailbox) if name == "magiclink" else peer_site(name, mailbox)
            drivers[name] = stack.enter_context(site)
        for drive in drivers.values():
            drive(seconds=2)  # warm up: each worker's imports, connections, caches, the key ring
        for round_number in range(1, ROUNDS + 1):
            for name, drive in drivers.items():
                result = drive()
                report(f"{name} #{round_number}", result)
                rounds.setdefault(name, []).append(result)
    if PRODUCTION:
        flush_redis()
    medians = {}
    for name, results in rounds.items():
        middle = sorted(results, key=lambda r: r["sign_ins"])[(len(results) - 1) // 2]
        medians[name] = middle["sign_ins"] / SECONDS
        report(f"{name} median", middle)
    if "magiclink" not in medians:
        return
    for peer in (s for s in SITES if s != "magiclink"):
        ratio = medians["magiclink"] / medians[peer] if medians[peer] else float("inf")
        target = "reference" if peer == "sesame" else ">= 1.0"
        line = harness.verdict(f"ratio (magiclink / {peer} sign-ins/s)", ratio, target, ratio >= 1.0)
        print("   " + (line.rsplit("   ", 1)[0] if peer == "sesame" else line))
    # The machine's speed drifts over minutes (it is shared): a round's sites ran back to back, so the ratio
    # within each round drifts less than the ratio of medians taken over the whole run.
    for peer in (s for s in SITES if s != "magiclink" and s in rounds and "magiclink" in rounds):
        per_round = sorted(ours["sign_ins"] / theirs["sign_ins"] if theirs["sign_ins"] else float("inf")
                           for ours, theirs in zip(rounds["magiclink"], rounds[peer], strict=True))
        print(f"   ratio (magiclink / {peer}) within each round: "
              + ", ".join(f"{r:.3f}" for r in per_round) + f"; median {statistics.median_low(per_round):.3f}")
    cpu = {name: statistics.median_low(r["cpu_ms"] for r in results) for name, results in rounds.items()}
    print("   server CPU per sign-in (gunicorn master and workers, ours' db_worker; median of rounds): "
          + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items()))
    database = {name: statistics.median_low(r["database_ms"] for r in results) for name, results in rounds.items()}
    if any(database.values()):
        print("   PostgreSQL server CPU per sign-in (all its processes while the site ran; median of rounds): "
              + ", ".join(f"{name} {ms:.1f} ms" for name, ms in database.items()))


if __name__ == "__main__":
    main()
