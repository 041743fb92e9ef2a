"""Several app servers and several delivery workers sharing one PostgreSQL and one Redis behave as one site.

The module starts the shape docs/deployment.md describes, on loopback: two gunicorn instances of the example
site (``tests.scaleout.settings``) on two ports, two ``manage.py db_worker`` (django-tasks-db), one
PostgreSQL database (``SCALEOUT_DATABASE_URL``, else ``DATABASE_URL``'s database name + ``_scaleout``,
created and dropped here; through PgBouncer when ``DATABASE_URL`` points at one, see tests/pgbouncer.py) and
the Redis of ``REDIS_URL``. Each case is played through the official Python SDK, one ``DescopeClient`` per
server, alternating servers call by call. Skipped without PostgreSQL and Redis.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from magiclink_auth.errors import ERRORS
from tests.conftest import sdk_refused
from tests.pgbouncer import drop_database, free_port, with_database

pytestmark = [pytest.mark.scaleout, pytest.mark.sdk]

ROOT = Path(__file__).resolve().parent.parent
PROJECT_ID = "P2scaleout"
URI = "https://app.example.com/welcome"
GRACE = 4  # REFRESH_REUSE_GRACE in tests/scaleout/settings.py
CLAIM_TIMEOUT = 5  # DELIVERY_CLAIM_TIMEOUT there
KEY_REFRESH_INTERVAL = 3  # and KEY_REFRESH_INTERVAL
ADMIN_PASSWORD = "scale-out-admin-" + uuid.uuid4().hex


def code(key: str) -> str:
    return ERRORS[key].code


def _urls() -> tuple[str, str, str]:
    """(URL the instances use, URL for creating / dropping the database, Redis URL), or skip."""
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    pytest.importorskip("gunicorn", reason="needs gunicorn (pip install -e '.[bench]')")
    name = urlsplit(database_url).path.lstrip("/")
    scaleout_url = os.environ.get("SCALEOUT_DATABASE_URL") or with_database(database_url, name=f"{name}_scaleout")
    direct_url = with_database(os.environ.get("DIRECT_DATABASE_URL", database_url),
                               name=urlsplit(scaleout_url).path.lstrip("/"))
    return scaleout_url, direct_url, redis_url


@dataclass
class Cluster:
    env: dict[str, str]
    directory: Path
    direct_url: str
    servers: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def outbox(self) -> Path:
        return Path(self.env["SCALEOUT_OUTBOX"])

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, name: str, command: list[str]) -> None:
        log = (self.directory / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)

    def start_server(self, index: int) -> None:
        port = free_port()
        self.start(f"server{index}", [
            sys.executable, "-m", "gunicorn", "example_project.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--threads", "4", "--timeout", "120", "--no-control-socket",
        ])
        self.servers.append(f"http://127.0.0.1:{port}")

    def start_worker(self, index: int) -> None:
        self.start(f"worker{index}", [
            sys.executable, "manage.py", "db_worker", "--queue-name", "default", "--interval", "0.2",
            "--no-startup-delay", "--worker-id", f"worker{index}-{uuid.uuid4().hex[:6]}",
        ])

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for name, process in self.processes.items():
            # gunicorn: SIGINT is its quick shutdown (SIGTERM waits for the SDKs' keep-alive connections).
            process.send_signal(signal.SIGINT if name.startswith("server") else signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def messages(self, address: str | None = None) -> list[dict]:
        if not self.outbox.exists():
            return []
        lines = [json.loads(line) for line in self.outbox.read_text().splitlines() if line.strip()]
        return [m for m in lines if address is None or m["to"] == address]

    def token_for(self, address: str, count: int = 1, timeout: float = 60) -> str:
        """The token of the ``count``-th message to ``address``, once a worker has delivered it."""
        deadline = time.monotonic() + timeout
        while len(messages := self.messages(address)) < count:
            assert time.monotonic() < deadline, f"no message {count} to {address}"
            time.sleep(0.1)
        return parse_qs(urlsplit(messages[count - 1]["url"]).query)["t"][0]

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.direct_url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


def _wait_until_up(cluster: Cluster, url: str, name: str) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if cluster.processes[name].poll() is not None:
            break
        try:
            keys = httpx.get(f"{url}/v2/keys/{PROJECT_ID}", headers={"Authorization": f"Bearer {PROJECT_ID}"},
                             timeout=5)
            if keys.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not start:\n{(cluster.directory / f'{name}.log').read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cluster():
    scaleout_url, direct_url, _ = _urls()
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        directory = Path(tmp)
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "tests.scaleout.settings", "DATABASE_URL": scaleout_url,
            "SCALEOUT_OUTBOX": str(directory / "outbox.jsonl"), "PYTHONPATH": str(ROOT),
        }
        cluster = Cluster(env=env, directory=directory, direct_url=direct_url)
        name = urlsplit(direct_url).path.lstrip("/")
        drop_database(direct_url, name)
        _create_database(direct_url, name)
        try:
            cluster.manage("migrate", "--noinput", "-v", "0")
            # One key before any instance starts, instead of each generating one on first use; an admin.
            cluster.manage("shell", "-c", (
                "from magiclink_auth import keys; keys.rotate(); "
                "from django.contrib.auth import get_user_model; "
                f"get_user_model().objects.create_superuser('admin', 'admin@example.com', {ADMIN_PASSWORD!r})"
            ))
            for index in (0, 1):
                cluster.start_server(index)
                cluster.start_worker(index)
            for index, url in enumerate(cluster.servers):
                _wait_until_up(cluster, url, f"server{index}")
            yield cluster
        finally:
            cluster.stop()
            drop_database(direct_url, name)
        logs = "".join((directory / f"server{index}.log").read_text() for index in (0, 1))
        assert "Traceback" not in logs, logs[-5000:]


def _create_database(direct_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(with_database(direct_url, name="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture
def sdks(cluster):
    """One SDK client per server; ``next(sdks)`` alternates between them."""
    from descope import DescopeClient

    clients = [DescopeClient(project_id=PROJECT_ID, base_url=url) for url in cluster.servers]
    return itertools.cycle(clients)


def address(prefix: str = "ada") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def sign_up(cluster, sdks, email: str) -> dict:
    """Ask for a sign-up link on one server, verify it on the other: the verify response."""
    from descope import DeliveryMethod

    next(sdks).magiclink.sign_up(DeliveryMethod.EMAIL, email, URI)
    return next(sdks).magiclink.verify(cluster.token_for(email))


def sign_in(cluster, sdks, email: str, count: int) -> dict:
    from descope import DeliveryMethod

    next(sdks).magiclink.sign_in(DeliveryMethod.EMAIL, email, URI)
    return next(sdks).magiclink.verify(cluster.token_for(email, count))


def tokens(jwt_response: dict) -> tuple[str, str]:
    return jwt_response["sessionToken"]["jwt"], jwt_response["refreshSessionToken"]["jwt"]


def kid_of(token: str) -> str:
    import jwt

    return jwt.get_unverified_header(token)["kid"]


def signed_in_at(server: str, session_jwt: str) -> bool:
    """Whether the server's pages take this session JWT (DS cookie) as signed in: its home page sends a
    signed-in browser to the account page, anyone else to the sign-in page."""
    import httpx

    response = httpx.get(f"{server}/", cookies={"DS": session_jwt}, follow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return "/account" in response.headers["location"]


# Links, refresh rotation, revocation ----------------------------------------------------------------------

def test_a_link_asked_for_on_one_server_verifies_on_the_other(cluster, sdks):
    from descope import DeliveryMethod

    email = address()
    first, second = next(sdks), next(sdks)
    first.magiclink.sign_up(DeliveryMethod.EMAIL, email, URI)
    token = cluster.token_for(email)
    verified = second.magiclink.verify(token)
    session, refresh = tokens(verified)

    assert first.validate_session(session)["userId"] == verified["userId"]
    assert first.me(refresh)["loginIds"] == [email]
    assert all(signed_in_at(server, session) for server in cluster.servers)
    with sdk_refused(401, code("link_used")):
        first.magiclink.verify(token)


def test_a_refresh_rotated_on_one_server_and_replayed_on_the_other(cluster, sdks):
    _, original = tokens(sign_up(cluster, sdks, address()))
    _, rotated = tokens(next(sdks).refresh_session(original))
    assert rotated != original

    # Within the grace, on the other server: a benign double refresh (two tabs), and the family lives on.
    next(sdks).refresh_session(original)
    _, current = tokens(next(sdks).refresh_session(rotated))

    # After the grace: a replay, wherever it comes; the whole family is revoked on every server.
    time.sleep(GRACE + 1)
    with sdk_refused(401, code("refresh_token_reused")):
        next(sdks).refresh_session(rotated)
    with sdk_refused(401, code("session_revoked")):
        next(sdks).refresh_session(current)


def test_logout_on_one_server_is_refused_on_the_other_at_the_next_refresh(cluster, sdks):
    session, refresh = tokens(sign_up(cluster, sdks, address()))
    next(sdks).logout(refresh)
    refused_on = next(sdks)
    with sdk_refused(401, code("session_revoked")):
        refused_on.refresh_session(refresh)
    with sdk_refused(401, code("session_revoked")):
        refused_on.me(refresh)
    # The session JWT is stateless: it keeps validating until it expires (docs/deployment.md).
    assert refused_on.validate_session(session)["sessionToken"]["drn"] == "DS"


def test_logout_all_on_one_server_ends_every_session_on_the_other(cluster, sdks):
    email = address()
    _, first = tokens(sign_up(cluster, sdks, email))
    _, second = tokens(sign_in(cluster, sdks, email, count=2))
    _, other_user = tokens(sign_up(cluster, sdks, address("bob")))

    next(sdks).logout_all(first)
    for refresh in (first, second):
        with sdk_refused(401, code("session_revoked")):
            next(sdks).refresh_session(refresh)
    next(sdks).refresh_session(other_user)


def test_a_user_disabled_in_the_admin_of_one_server_is_refused_on_the_other(cluster, sdks):
    from descope import DeliveryMethod

    email = address()
    _, refresh = tokens(sign_up(cluster, sdks, email))
    admin = AdminSession(cluster.servers[0])
    admin.set_profile_status(email, "disabled")

    with sdk_refused(403, code("user_disabled")):
        next(sdks).refresh_session(refresh)
    with sdk_refused(403, code("user_disabled")):
        next(sdks).magiclink.sign_in(DeliveryMethod.EMAIL, email, URI)


# Signing keys --------------------------------------------------------------------------------------------

def test_a_key_rotated_then_deleted_on_one_machine_is_used_then_refused_by_every_server(cluster, sdks):
    old_session, old_refresh = tokens(sign_up(cluster, sdks, address()))
    session, refresh = tokens(sign_up(cluster, sdks, address()))
    old_kid = kid_of(session)
    cluster.manage("magiclink_keys", "rotate")

    # Tokens of the retired key keep working everywhere; within the activation delay plus the key ring's
    # refresh interval every server signs with the new key.
    deadline = time.monotonic() + 120
    while kid_of(session) == old_kid:
        assert time.monotonic() < deadline, "no server signed with the rotated-in key"
        session, refresh = tokens(next(sdks).refresh_session(refresh))
        time.sleep(0.5)
    for client, server in zip([next(sdks), next(sdks)], cluster.servers, strict=True):
        assert client.validate_session(session)["sessionToken"]["drn"] == "DS"
        assert signed_in_at(server, session) and signed_in_at(server, old_session)
    session, refresh = tokens(next(sdks).refresh_session(refresh))
    session, refresh = tokens(next(sdks).refresh_session(refresh))
    assert kid_of(session) != old_kid

    # The retired key deleted by hand (a compromise): within KEY_REFRESH_INTERVAL no server takes what it
    # signed, session or refresh JWT; what the new key signed still works.
    assert cluster.sql("DELETE FROM magiclink_auth_signingkey WHERE kid = %s RETURNING kid", (old_kid,))
    time.sleep(KEY_REFRESH_INTERVAL + 1)
    for server in cluster.servers:
        assert not signed_in_at(server, old_session)
        refused = refresh_at(server, old_refresh)
        assert refused.status_code == 401 and refused.json()["errorCode"] == code("refresh_token_invalid")
        assert signed_in_at(server, session)
    next(sdks).refresh_session(refresh)


def refresh_at(server: str, refresh_jwt: str):
    """POST /v1/auth/refresh as the SDKs send it, without the SDK's own check of the JWT against its keys."""
    import httpx

    return httpx.post(f"{server}/v1/auth/refresh", json={}, timeout=30,
                      headers={"Authorization": f"Bearer {PROJECT_ID}:{refresh_jwt}"})


# Throttles -----------------------------------------------------------------------------------------------

def test_the_per_login_id_limit_is_counted_once_across_servers(cluster, sdks):
    """START_RATE_PER_LOGIN_ID = 3/hour: three links asked on alternating servers, the fourth refused by
    either. (Nobody verifies in between: a verify would make this client the address's owner, who has an
    allowance of its own.)"""
    from descope import DeliveryMethod, RateLimitException

    email = address()
    for _ in range(3):
        next(sdks).magiclink.sign_up_or_in(DeliveryMethod.EMAIL, email, URI)
    for _ in range(2):
        with pytest.raises(RateLimitException) as refused:
            next(sdks).magiclink.sign_up_or_in(DeliveryMethod.EMAIL, email, URI)
        assert refused.value.status_code == code("login_id_rate_limited")


def test_the_per_ip_limit_is_counted_once_across_servers(cluster):
    """VERIFY_RATE_PER_IP = 20/hour, the client told apart by X-Forwarded-For (NUM_PROXIES = 1): the 21st
    verify from one address is refused, whichever server it reaches."""
    import httpx

    servers = itertools.cycle(cluster.servers)
    headers = {"Authorization": f"Bearer {PROJECT_ID}", "X-Forwarded-For": "203.0.113.77"}
    statuses = [
        httpx.post(f"{next(servers)}/v1/auth/magiclink/verify", json={"token": uuid.uuid4().hex * 2},
                   headers=headers, timeout=30).status_code
        for _ in range(21)
    ]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    other = httpx.post(f"{next(servers)}/v1/auth/magiclink/verify", json={"token": "x" * 64},
                       headers={**headers, "X-Forwarded-For": "203.0.113.78"}, timeout=30)
    assert other.status_code == 401


# Delivery workers ----------------------------------------------------------------------------------------

def test_delivery_workers_send_each_message_once_and_lose_none_when_one_dies_mid_send(cluster, sdks):
    """Six messages that take the provider 3 s each, two workers; one worker is killed (SIGKILL) while
    both are sending. Its message comes back after DELIVERY_CLAIM_TIMEOUT through the cron command, and
    every address gets exactly one message."""
    from descope import DeliveryMethod

    emails = [address(f"slow{index}") for index in range(6)]
    for email in emails:
        next(sdks).magiclink.sign_up(DeliveryMethod.EMAIL, email, URI)
    # Both workers mid-send: two links claimed (an attempt counted) and not yet written by the provider.
    deadline = time.monotonic() + 60
    while len(in_flight := _in_flight(cluster, emails)) < 2:
        assert time.monotonic() < deadline, "the workers did not start sending"
        time.sleep(0.05)
    cluster.kill("worker0")
    try:
        deadline = time.monotonic() + 120
        while any(not cluster.messages(email) for email in emails):
            assert time.monotonic() < deadline, "a message was lost"
            # What cron does every minute; also a duplicate enqueue of links the live worker is sending.
            cluster.manage("magiclink_retry_deliveries", "--enqueue")
            time.sleep(1)
        time.sleep(CLAIM_TIMEOUT + 1)  # anything still in flight would land by now
        cluster.manage("magiclink_retry_deliveries", "--enqueue")
        assert {email: len(cluster.messages(email)) for email in emails} == {email: 1 for email in emails}
        attempts = dict(cluster.sql(
            "SELECT target, delivery_attempts FROM magiclink_auth_pendinglink WHERE target = ANY(%s)", (emails,)
        ))
        assert any(attempts[email] == 2 for email in in_flight), "the kill did not land mid-send"
        for email in emails:
            assert next(sdks).magiclink.verify(cluster.token_for(email))["user"]["email"] == email
    finally:
        cluster.start_worker(0)


def _in_flight(cluster: Cluster, emails: list[str]) -> list[str]:
    claimed = cluster.sql(
        "SELECT target FROM magiclink_auth_pendinglink WHERE target = ANY(%s) AND delivery_attempts > 0 "
        "AND delivery_status = 'queued'", (emails,)
    )
    return [target for (target,) in claimed if not cluster.messages(target)]


# The admin, as a person uses it --------------------------------------------------------------------------

class _FormFields(HTMLParser):
    """The fields of the admin change form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self._in_form = True
        if not self._in_form or not attrs.get("name"):
            if tag == "option" and self._select is not None and "selected" in attrs:
                self.fields.append((self._select, attrs.get("value", "")))
            return
        name = attrs["name"]
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            if kind not in {"submit", "button", "file"}:
                self.fields.append((name, attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            self.fields.append((name, ""))

    def handle_data(self, data):
        if self._textarea is not None:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False


class AdminSession:
    def __init__(self, server: str) -> None:
        import httpx

        self.server = server
        self.http = httpx.Client(base_url=server, timeout=30, follow_redirects=False)
        self.http.get("/admin/login/")
        response = self.http.post("/admin/login/?next=/admin/", data={
            "csrfmiddlewaretoken": self.http.cookies["csrftoken"], "username": "admin",
            "password": ADMIN_PASSWORD, "next": "/admin/",
        }, headers={"Referer": f"{server}/admin/login/"})
        assert response.status_code == 302, response.text

    def set_profile_status(self, email: str, status: str) -> None:
        changelist = self.http.get("/admin/magiclink_auth/profile/", params={"q": email})
        assert changelist.status_code == 200
        path = _first_change_link(changelist.text)
        form = _FormFields()
        form.feed(self.http.get(path).text)
        data: dict[str, list[str]] = {}
        for name, value in form.fields:
            data.setdefault(name, []).append(value)
        data.update(status=[status], _save=["Save"])
        response = self.http.post(path, data=data, headers={"Referer": f"{self.server}{path}"})
        assert response.status_code == 302, response.text[-3000:]


def _first_change_link(html: str) -> str:
    import re

    match = re.search(r'href="(/admin/magiclink_auth/profile/\d+/change/)[^"]*"', html)
    assert match, "the profile is not listed"
    return match.group(1)
