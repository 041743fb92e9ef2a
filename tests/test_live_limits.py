"""The abuse limits against the example site on its embedded default, SQLite and a threaded runserver, with
requests released at once over real HTTP (PostgreSQL and Redis: test_limits_concurrency.py).

The site runs in a subprocess on a SQLite file, as README starts it, so that every request has its own
connection and the database's locking (WAL, IMMEDIATE transactions, busy timeout) is what is tested.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# The example site in a subprocess: runs with the live tests (`-m live`), whatever settings pytest has.
pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent
PROJECT_ID = "P2exampleproject"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    def __init__(self, tmp: Path):
        self.tmp, self.port = tmp, _free_port()
        self.db, self.outbox = tmp / "db.sqlite3", tmp / "outbox.jsonl"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.sqlite_site_settings", "DJANGO_DEBUG": "0",
                    "DATABASE_URL": f"sqlite:///{self.db}", "SITE_OUTBOX": str(self.outbox),
                    "MAGICLINK_REDIRECT_URLS": f"http://127.0.0.1:{self.port}/", "REDIS_URL": ""}

    def start(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True,
                       timeout=300)
        self.log = open(self.tmp / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the site did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    def post(self, path: str, body: dict, client_ip: str) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {PROJECT_ID}",
                     "X-Forwarded-For": client_ip},
        )
        for _ in range(5):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, raw = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, raw = error.code, error.read()
            except (ConnectionResetError, urllib.error.URLError):
                # runserver's accept queue (10) overflowed: the kernel refused the connection before the site
                # saw it (handled() proves no request was answered twice), so the caller tries again.
                time.sleep(0.2)
                continue
            break
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None  # not JSON: every test counts it as a failure

    def handled(self) -> int:
        """Requests the site answered, from its log."""
        return sum('"POST /v1/' in line for line in (self.tmp / "server.log").read_text().splitlines())

    def messages(self, recipient_prefix: str) -> list[dict]:
        if not self.outbox.exists():
            return []
        rows = [json.loads(line) for line in self.outbox.read_text().splitlines()]
        return [row for row in rows if row["to"].startswith(recipient_prefix)]

    def live_links(self, login_id: str) -> int:
        with sqlite3.connect(self.db) as db:
            return db.execute(
                "SELECT COUNT(*) FROM magiclink_auth_pendinglink WHERE login_id = ? AND consumed_at IS NULL "
                "AND voided_at IS NULL", (login_id,),
            ).fetchone()[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    running = Site(tmp_path_factory.mktemp("sqlite_site"))
    running.start()
    yield running
    running.stop()


def all_at_once(site: Site, count: int, call):
    """``call(i)`` in ``count`` threads released together; each reaches the site exactly once."""
    barrier = threading.Barrier(count)
    before = site.handled()

    def run(i):
        barrier.wait(timeout=60)
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(run, range(count)))
    time.sleep(0.5)  # the log line follows the answer
    assert site.handled() - before == count
    return results


def assert_no_server_errors(results) -> None:
    assert all(status < 500 and body is not None for status, body in results), results


def test_thirty_calls_for_one_address_send_one_message_and_leave_one_live_link(site):
    results = all_at_once(site, 30, lambda i: site.post(
        "/v1/auth/magiclink/signup-in/email", {"loginId": "ada@example.com"}, f"10.1.0.{i + 1}"))
    assert_no_server_errors(results)
    assert sorted(status for status, _ in results) == [200] + [429] * 29
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062702"}
    assert len(site.messages("ada@")) == 1 and site.live_links("ada@example.com") == 1


def test_sixty_start_calls_from_one_ip_pass_a_limit_of_thirty_at_most_thirty_times(site):
    results = all_at_once(site, 60, lambda i: site.post(
        "/v1/auth/magiclink/signup-in/email", {"loginId": f"burst{i}@example.com"}, "10.2.0.1"))
    assert_no_server_errors(results)
    assert sum(status == 200 for status, _ in results) == 30
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062701"}
    assert len(site.messages("burst")) == 30


def test_the_sms_budget_holds_against_a_burst(site):
    results = all_at_once(site, 30, lambda i: site.post(
        "/v1/auth/magiclink/signup-in/sms", {"loginId": f"+1{200 + i}5550100"}, f"10.3.0.{i + 1}"))
    assert_no_server_errors(results)
    assert sum(status == 200 for status, _ in results) == 10
    assert {body["errorCode"] for status, body in results if status == 429} == {"E062709"}
    assert len(site.messages("+1")) == 10
