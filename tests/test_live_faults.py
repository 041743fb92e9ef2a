"""The running example site while what it runs on fails and comes back: PostgreSQL (through a TCP proxy that
is cut and restored; the shared server is never touched), a private Redis stopped and started again, and an
SMTP provider down then up.

During a fault every answer is the error JSON, 503 with Retry-After where the caller should retry; after it
every call succeeds; every start call that answered 200 ends in exactly one message.
"""

from __future__ import annotations

import email
import re
import shutil
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.live_site import (
    LiveSite,
    RedisServer,
    SmtpServer,
    TcpProxy,
    create_database,
    drop_database,
    is_error_json,
    postgres_url,
)

pytestmark = pytest.mark.live


def assert_unavailable(answer, codes: set[str]) -> None:
    assert answer.status == 503, (answer.status, answer.text[:300])
    assert is_error_json(answer) and answer.body["errorCode"] in codes, answer.text[:300]
    assert answer.headers.get("Retry-After") == "5"


@pytest.fixture
def proxied_site(tmp_path):
    """The site on a PostgreSQL database of its own, reached through a proxy the test can cut."""
    if not postgres_url():
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    url = create_database(postgres_url(), "faults")
    parts = urlsplit(url)
    proxy = TcpProxy((parts.hostname, parts.port or 5432))
    through_proxy = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
    site = LiveSite(tmp_path, through_proxy)
    site.manage("migrate", "--no-input")
    site.start()
    yield site, proxy
    site.stop()
    proxy.close()
    drop_database(url)


def test_the_database_taken_away_and_brought_back_mid_run(proxied_site):
    site, proxy = proxied_site
    session = site.signed_in("ada@example.com")
    assert site.sign_up("early@example.com").status == 200
    early_token = site.token_for("early@example.com")
    answers: list[tuple[str, object]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        count = 0
        while not stop.is_set():
            address = f"w{worker}-{count}@example.com"
            count += 1
            answers.append((address, site.sign_up(address)))

    def wait_for(total: int) -> None:
        deadline = time.monotonic() + 60
        while len(answers) < total and time.monotonic() < deadline:
            time.sleep(0.05)

    workers = [threading.Thread(target=load, args=(n,)) for n in range(3)]
    for worker in workers:
        worker.start()
    wait_for(6)
    proxy.cut()
    during = [site.sign_up("during@example.com"), site.verify(early_token), site.refresh(session["refreshJwt"])]
    wait_for(len(answers) + 6)
    proxy.restore()
    wait_for(len(answers) + 6)
    stop.set()
    for worker in workers:
        worker.join()

    database_codes = {"E011201", "E011202"}
    for answer in during:
        assert_unavailable(answer, database_codes)
    for _, answer in answers:
        assert answer.status == 200 or (answer.status == 503 and is_error_json(answer)), answer.text[:300]
    assert any(answer.status == 503 for _, answer in answers)
    assert answers[-1][1].status == 200
    # After the fault everything works, and the verify refused during it consumed nothing.
    assert site.verify(early_token).status == 200
    assert site.refresh(session["refreshJwt"]).status == 200
    assert site.sign_up("during@example.com").status == 200
    # A delivery the cut interrupted after the answer is due again once its claim (1 s here) has passed, and the
    # retry command sends it: no start call that answered 200 is left without its message.
    time.sleep(1.5)
    site.manage("magiclink_retry_deliveries")
    sent = Counter(message["to"] for message in site.messages())
    assert [a for a, answer in answers if answer.status == 200 and sent[a] == 0] == []
    assert sent["during@example.com"] == 1
    # Delivery is at least once: a second message can only come from a second attempt of a link whose first
    # attempt the cut interrupted between the provider's acceptance and the record of it.
    twice = sum(1 for count in sent.values() if count > 1)
    assert twice <= site.count("magiclink_auth_pendinglink WHERE delivery_attempts > 1")


@pytest.fixture
def redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server (apt-get install redis-server; .ci/run installs it)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_stopped_and_restarted(tmp_path, sqlite_template, redis):
    site = LiveSite.on_sqlite(tmp_path, sqlite_template, extra_env={"REDIS_URL": redis.url}).start()
    try:
        session = site.signed_in("ada@example.com")
        assert site.sign_up("early@example.com").status == 200
        early_token = site.token_for("early@example.com")
        sent_before = len(site.messages())

        redis.stop()
        during = [site.sign_up("grace@example.com"), site.verify(early_token), site.refresh(session["refreshJwt"])]
        redis.start()
        after = [site.sign_up("grace@example.com"), site.verify(early_token), site.refresh(session["refreshJwt"])]
    finally:
        site.stop()

    for answer in during:
        assert_unavailable(answer, {"E011204"})
    assert [answer.status for answer in after] == [200, 200, 200]
    sent = Counter(message["to"] for message in site.messages()[sent_before:])
    assert sent == {"grace@example.com": 1}
    assert "E011204" in site.server_log()


def tokens_in(smtp: SmtpServer) -> dict[str, list[str]]:
    tokens: dict[str, list[str]] = {}
    for recipients, data in smtp.messages:
        message = email.message_from_string(data)
        text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
        body = text.get_payload(decode=True).decode()
        for recipient in recipients:
            tokens.setdefault(recipient, []).extend(re.findall(r"[?&]t=([\w-]+)", body)[:1])
    return tokens


def test_the_email_provider_failing_then_recovering(tmp_path, sqlite_template):
    smtp = SmtpServer()  # down: nothing listens on its port yet
    site = LiveSite.on_sqlite(tmp_path, sqlite_template, extra_env={"LIVE_SMTP_PORT": str(smtp.port)}).start()
    addresses = [f"person{n}@example.com" for n in range(5)]
    try:
        # Delivery runs after the answer: the start calls succeed, and the failures are recorded on the links.
        assert [site.sign_up(address).status for address in addresses] == [200] * 5
        assert site.count("magiclink_auth_pendinglink WHERE delivery_status = 'failed'") == 5

        smtp.start()
        first = site.manage("magiclink_retry_deliveries")
        again = site.manage("magiclink_retry_deliveries")
        tokens = tokens_in(smtp)
        verified = [site.verify(tokens[address][0]).status for address in addresses]
    finally:
        site.stop()
        smtp.stop()

    assert "sent 5" in first and "nothing due" in again, (first, again)
    assert {address: len(found) for address, found in tokens.items()} == dict.fromkeys(addresses, 1)
    assert verified == [200] * 5


def test_a_read_only_database_answers_503_and_then_recovers(proxied_site):
    """A standby promoted late, a database switched read-only for maintenance: PostgreSQL's 25006."""
    import psycopg

    site, _ = proxied_site
    parts = urlsplit(site.database_url)
    name = parts.path.lstrip("/")
    admin = f"postgres://{parts.username}@{postgres_url().split('@', 1)[1].split('/', 1)[0]}/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    during = site.sign_up("ada@example.com")
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    after = site.sign_up("ada@example.com")

    assert_unavailable(during, {"E011203"})
    assert after.status == 200
    assert Counter(message["to"] for message in site.messages()) == {"ada@example.com": 1}


def test_a_sqlite_file_locked_past_the_busy_timeout_answers_503_and_then_recovers(tmp_path, sqlite_template):
    import sqlite3

    site = LiveSite.on_sqlite(tmp_path, sqlite_template, extra_env={"LIVE_SQLITE_TIMEOUT": "0.5"}).start()
    try:
        holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process writing for longer than the busy timeout
        during = site.sign_up("ada@example.com")
        holder.execute("ROLLBACK")
        holder.close()
        after = site.sign_up("ada@example.com")
    finally:
        site.stop()

    assert_unavailable(during, {"E011202"})
    assert after.status == 200
