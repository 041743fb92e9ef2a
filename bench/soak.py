"""Soak: the example site under gunicorn on PostgreSQL + Redis with the production task backend and its
worker, under a bounded mixed load for a fixed time. Not a test: it prints, and never fails on a number.

The site runs as in production: ``gunicorn`` (``SOAK_WORKERS`` sync workers) on 127.0.0.1, the database task
backend (django-tasks-db) with one ``manage.py db_worker`` sending the links, rate-limit counters in Redis.
This process is the load generator: ``SOAK_CLIENTS`` threads, each living a user's life in a loop for
``SOAK_SECONDS``:

    start (sign-up-or-in)  -> while its link travels through the queue: session-validated page views (DS
    cookie), refreshes and ``me`` on the session it holds -> verify the link as it arrives in the mailbox
    -> logout of the previous session

Each thread has at most one request in flight, so the load is bounded by ``SOAK_CLIENTS``. At the end it
waits for the queue to drain and prints: requests by kind, errors by status, p50 / p99 per kind, links asked
for (start calls answered 200) against messages sent and delivery failures recorded (a link neither sent nor
recorded as failed is lost), messages that arrived twice, and the RSS of the gunicorn workers and of the
task worker at start, at the end, and averaged over the first and the last minute.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h4_soak REDIS_URL=redis://127.0.0.1:6379/4 \\
        SOAK_SECONDS=300 python bench/soak.py

The database named in DATABASE_URL is dropped and created by the run, and dropped at the end; the Redis
database keeps counters under the app's keys only (the bench's limits are out of reach, so none refuses).
Needs the bench extra (gunicorn, django-tasks-db).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SECONDS = int(os.environ.get("SOAK_SECONDS", "300"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "6"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "2"))
ADDRESSES_PER_CLIENT = 40
MAIL_WAIT = 30  # seconds a client waits for its link before counting it late
SAMPLE_EVERY = 5
PROJECT_ID = "P2benchproject"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_environment() -> tuple[str, str]:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url.startswith("redis://"):
        sys.exit("soak.py needs DATABASE_URL=postgres://... (a database it may drop) and REDIS_URL=redis://...")
    return database_url, redis_url


def recreate_database(url: str, *, create: bool = True) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
        if create:
            db.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


# Processes and their memory.

def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


class Memory:
    """RSS of the gunicorn workers (summed) and of the task worker, sampled every few seconds."""

    def __init__(self, gunicorn: subprocess.Popen, worker: subprocess.Popen):
        self.gunicorn, self.worker = gunicorn, worker
        self.samples: list[tuple[float, int, int]] = []
        self.stop = threading.Event()

    def sample(self) -> None:
        web = sum(rss_kb(pid) for pid in children(self.gunicorn.pid))
        self.samples.append((time.monotonic(), web, rss_kb(self.worker.pid)))

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_EVERY):
            self.sample()

    def report(self) -> list[str]:
        start = self.samples[0][0]
        end = self.samples[-1][0]
        first = [s for s in self.samples if s[0] - start <= 60]
        last = [s for s in self.samples if end - s[0] <= 60]
        lines = []
        for index, name in ((1, "gunicorn workers"), (2, "task worker")):
            first_mean = statistics.mean(s[index] for s in first) / 1024
            last_mean = statistics.mean(s[index] for s in last) / 1024
            lines.append(
                f"   {name:<17} start {self.samples[0][index] / 1024:7.1f} MB   "
                f"end {self.samples[-1][index] / 1024:7.1f} MB   first minute {first_mean:7.1f} MB   "
                f"last minute {last_mean:7.1f} MB   growth {(last_mean / first_mean - 1) * 100:+.1f} %"
            )
        return lines


# The load.

class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.not_json: Counter = Counter()
        self.codes: Counter = Counter()
        self.asked = 0
        self.late = 0
        self.duplicates = 0

    def record(self, kind: str, seconds: float, status: int, is_json: bool, code: str = "") -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.statuses[kind][status] += 1
            if code:
                self.codes[(kind, status, code)] += 1
            if not is_json:
                self.not_json[kind] += 1


class Client(threading.Thread):
    def __init__(self, number: int, base: str, mailbox: Path, stats: Stats, deadline: float):
        super().__init__(daemon=True)
        self.number, self.base, self.mailbox, self.stats, self.deadline = number, base, mailbox, stats, deadline
        self.session: dict | None = None  # the session this user holds: sessionJwt, refreshJwt

    def call(self, kind: str, method: str, path: str, *, body: dict | None = None, refresh: str | None = None,
             cookie: str | None = None) -> tuple[int, dict | None]:
        headers = {"Authorization": f"Bearer {PROJECT_ID}" + (f":{refresh}" if refresh else "")}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if cookie:
            headers["Cookie"] = cookie
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, content_type, raw = response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as error:
            status, content_type, raw = error.code, error.headers.get("Content-Type", ""), error.read()
        except OSError:
            status, content_type, raw = 0, "", b""  # connection refused or reset: counted as status 0
        elapsed = time.perf_counter() - began
        parsed = json.loads(raw) if content_type.startswith("application/json") and raw else None
        # Page views answer HTML by design; only the API must always answer JSON.
        code = parsed.get("errorCode", "") if isinstance(parsed, dict) and status != 200 else ""
        self.stats.record(kind, elapsed, status, parsed is not None or kind == "page", code)
        return status, parsed

    def use_session(self) -> None:
        """What a signed-in user does while a new link travels: views pages, refreshes, asks who they are."""
        if self.session is None:
            time.sleep(0.05)
            return
        status, _ = self.call("page", "GET", "/auth/account/", cookie=f"DS={self.session['sessionJwt']}")
        status, body = self.call("refresh", "POST", "/v1/auth/refresh", body={},
                                 refresh=self.session["refreshJwt"])
        if status == 200:
            self.session = body
            self.call("me", "GET", "/v1/auth/me", refresh=self.session["refreshJwt"])

    def wait_for_link(self, address: str) -> str | None:
        path = self.mailbox / address
        waited_until = time.monotonic() + MAIL_WAIT
        while time.monotonic() < waited_until:
            if path.exists():
                url = path.read_text()
                path.unlink()
                return url
            self.use_session()
        with self.stats.lock:
            self.stats.late += 1
        return None

    def run(self) -> None:
        turn = 0
        while time.monotonic() < self.deadline:
            address = f"soak{self.number}-{turn % ADDRESSES_PER_CLIENT}@example.com"
            turn += 1
            status, _ = self.call("start", "POST", "/v1/auth/magiclink/signup-in/email", body={"loginId": address})
            if status != 200:
                continue
            with self.stats.lock:
                self.stats.asked += 1
            url = self.wait_for_link(address)
            if url is None:
                continue
            token = url.split("t=", 1)[1].split("&", 1)[0]
            status, body = self.call("verify", "POST", "/v1/auth/magiclink/verify", body={"token": token})
            if status == 200:
                previous, self.session = self.session, body
                if previous is not None:
                    self.call("logout", "POST", "/v1/auth/logout", body={}, refresh=previous["refreshJwt"])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def delivery_counts(url: str) -> Counter:
    import psycopg

    with psycopg.connect(url) as db:
        rows = db.execute("SELECT delivery_status, count(*) FROM magiclink_auth_pendinglink GROUP BY 1").fetchall()
    return Counter(dict(rows))


def main() -> None:
    database_url, _ = check_environment()
    tmp = Path(tempfile.mkdtemp(prefix="magiclink-soak-"))
    mailbox = tmp / "mailbox"
    mailbox.mkdir()
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "bench_settings", "PYTHONPATH": f"{ROOT}:{BENCH_DIR}",
        "BENCH_MAILBOX": str(mailbox), "BENCH_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "DB_CONN_MAX_AGE": "60", "BENCH_CACHE_PREFIX": os.environ.get("BENCH_CACHE_PREFIX", "soak"),
    }
    recreate_database(database_url)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v", "0", "--skip-checks"], cwd=ROOT, env=env,
                   check=True)
    port = free_port()
    log = open(tmp / "server.log", "w")
    gunicorn = subprocess.Popen(
        [python, "-m", "gunicorn", "example_project.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [python, "manage.py", "db_worker", "--queue-name", "default", "--interval", "0.2", "--no-startup-delay",
         "--no-reload"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        # One first request, waited for as long as it takes: on a fresh database it makes the signing key, and
        # two workers making it at once would each sign with their own for a while (keys.py).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/keys/{PROJECT_ID}", timeout=60).read()
                break
            except OSError:
                time.sleep(0.2)
        stats = Stats()
        memory = Memory(gunicorn, worker)
        memory.sample()
        sampler = threading.Thread(target=memory.run, daemon=True)
        sampler.start()
        began = time.monotonic()
        clients = [Client(n, f"http://127.0.0.1:{port}", mailbox, stats, began + SECONDS) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.monotonic() - began
        memory.sample()
        memory.stop.set()
        # Let the queue drain: every link asked for is sent or recorded as failed.
        drain_until = time.monotonic() + 60
        while delivery_counts(database_url).get("queued") and time.monotonic() < drain_until:
            time.sleep(0.5)
        leftover = list(mailbox.iterdir())
        deliveries = delivery_counts(database_url)
        report(stats, memory, deliveries, elapsed, len(leftover))
    finally:
        for process in (gunicorn, worker):
            process.send_signal(signal.SIGTERM)
        for process in (gunicorn, worker):
            process.wait(timeout=60)
        log.close()
        recreate_database(database_url, create=False)
        errors = [line for line in (tmp / "server.log").read_text().splitlines() if "ERROR" in line]
        if errors:
            print(f"   server log: {len(errors)} ERROR lines, e.g. {errors[0][:200]}")
        if os.environ.get("SOAK_KEEP"):
            print(f"   kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(stats: Stats, memory: Memory, deliveries: Counter, elapsed: float, unread: int) -> None:
    import django

    print("== soak: the example site under gunicorn, PostgreSQL, Redis, django-tasks-db and its db_worker")
    print(f"   {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, "
          f"Django {django.get_version()}, {os.cpu_count()} CPUs, load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    print(f"   {elapsed:.0f} s, {CLIENTS} clients (one request in flight each), {WORKERS} gunicorn workers")
    total = sum(len(v) for v in stats.latency.values())
    print(f"-- requests by kind ({total} in all, {total / elapsed:.1f} per second)")
    for kind in ("start", "verify", "page", "refresh", "me", "logout"):
        values = stats.latency.get(kind, [])
        if not values:
            continue
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(stats.statuses[kind].items()))
        print(f"   {kind:<8} {len(values):>7}   p50 {percentile(values, 0.5) * 1000:7.1f} ms   "
              f"p99 {percentile(values, 0.99) * 1000:7.1f} ms   statuses {statuses}")
    errors = Counter()
    for counter in stats.statuses.values():
        for status, count in counter.items():
            if status != 200:
                errors[status] += count
    print(f"-- errors by status: {dict(sorted(errors.items())) or 'none'}; 5xx or no answer: "
          f"{sum(c for s, c in errors.items() if s >= 500 or s == 0)}; API answers that were not JSON: "
          f"{sum(stats.not_json.values())}")
    for (kind, status, code), count in sorted(stats.codes.items()):
        print(f"   {kind} {status} {code}: {count}")
    sent, failed, queued = deliveries.get("sent", 0), deliveries.get("failed", 0), deliveries.get("queued", 0)
    print(f"-- messages: links asked for (start answered 200) {stats.asked}; sent {sent}; delivery failures "
          f"recorded {failed}; still queued {queued}; lost {stats.asked - sent - failed}")
    print(f"   arrived after the client stopped waiting ({MAIL_WAIT} s): {stats.late}; left unread at the end: "
          f"{unread}")
    print(f"-- server RSS ({len(memory.samples)} samples, every {SAMPLE_EVERY} s)")
    for line in memory.report():
        print(line)


if __name__ == "__main__":
    main()
