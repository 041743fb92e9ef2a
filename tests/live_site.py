"""The example site in a subprocess, as a newcomer runs it, and what the fault tests take away from under it.

- ``LiveSite``: ``manage.py migrate`` then ``manage.py runserver`` (threaded) with tests/live_settings.py,
  on SQLite (a file, in WAL mode) or on a PostgreSQL database of its own; calls over real HTTP.
- ``TcpProxy``: a loopback TCP relay that can be cut (every connection dropped, new ones refused) and
  restored: the database going away without touching the shared PostgreSQL server.
- ``RedisServer``: a private ``redis-server`` on a free port, stopped and started again.
- ``SmtpServer``: a minimal SMTP server on a fixed port, up or down, recording what it received.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PROJECT_ID = "P2exampleproject"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class Answer:
    status: int
    headers: dict
    body: dict | None  # None when the body is not JSON (which every test treats as a failure)
    text: str


def all_at_once(count: int, call):
    """``call(i)`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait(timeout=60)
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@dataclass
class LiveSite:
    tmp: Path
    database_url: str
    extra_env: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.tmp / "outbox.jsonl"

    @property
    def env(self) -> dict:
        return {
            **os.environ, "DJANGO_SETTINGS_MODULE": "tests.live_settings", "DATABASE_URL": self.database_url,
            "DJANGO_DEBUG": "0", "LIVE_OUTBOX": str(self.outbox), "PYTHONUNBUFFERED": "1",
            "MAGICLINK_REDIRECT_URLS": f"{self.url}/", **self.extra_env,
        }

    @classmethod
    def on_sqlite(cls, tmp: Path, template: Path, **kwargs) -> LiveSite:
        """A site on a copy of a migrated SQLite file (the ``sqlite_template`` fixture)."""
        shutil.copyfile(template, tmp / "db.sqlite3")
        return cls(tmp, f"sqlite:///{tmp / 'db.sqlite3'}", **kwargs)

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> LiveSite:
        self.log = open(self.tmp / "server.log", "a")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
            self.log.close()

    def server_log(self) -> str:
        return (self.tmp / "server.log").read_text()

    # HTTP, as an SDK speaks it.

    def call(self, method: str, path: str, body: dict | None = None, refresh: str | None = None) -> Answer:
        credentials = PROJECT_ID + (f":{refresh}" if refresh else "")
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {credentials}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text) if headers.get("Content-Type", "").startswith("application/json") else None
        except ValueError:
            body = None
        return Answer(status, headers, body, text)

    def post(self, path: str, body: dict | None = None, refresh: str | None = None) -> Answer:
        return self.call("POST", path, body or {}, refresh)

    def sign_up(self, address: str) -> Answer:
        return self.post("/v1/auth/magiclink/signup/email", {"loginId": address})

    def verify(self, token: str) -> Answer:
        return self.post("/v1/auth/magiclink/verify", {"token": token})

    def refresh(self, refresh_jwt: str) -> Answer:
        return self.post("/v1/auth/refresh", refresh=refresh_jwt)

    # What was sent.

    def messages(self) -> list[dict]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text().splitlines() if line.strip()]

    def token_for(self, address: str) -> str:
        (message, *_) = [m for m in reversed(self.messages()) if m["to"] == address]
        return parse_qs(urlsplit(message["url"]).query)["t"][0]

    def signed_in(self, address: str) -> dict:
        assert self.sign_up(address).status == 200
        answer = self.verify(self.token_for(address))
        assert answer.status == 200, answer.text
        return answer.body

    # The database, read directly.

    def count(self, table: str) -> int:
        if self.database_url.startswith("sqlite"):
            with sqlite3.connect(self.database_url.removeprefix("sqlite:///")) as db:
                return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        import psycopg

        with psycopg.connect(self.database_url) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def is_error_json(answer: Answer) -> bool:
    return answer.body is not None and set(answer.body) == {"errorCode", "errorDescription", "errorMessage"}


# PostgreSQL databases of the tests' own, on the shared server.

def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def create_database(base_url: str, suffix: str) -> str:
    """A fresh database named after DATABASE_URL's (``h4_db`` -> ``h4_db_<suffix>``); its URL."""
    import psycopg

    parts = urlsplit(base_url)
    name = f"{parts.path.lstrip('/')}_{suffix}"
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    return parts._replace(path=f"/{name}").geturl()


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


# Faults.

class TcpProxy:
    """Relays 127.0.0.1:<port> to an upstream address; ``cut()`` drops every connection and refuses new
    ones until ``restore()``, as a network partition or a database restart does."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self.up = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        self.up = False
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            self._close(sock)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class RedisServer:
    """A private redis-server (no persistence) on a free loopback port."""

    def __init__(self, tmp: Path):
        self.binary = shutil.which("redis-server")
        self.tmp = tmp
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


class SmtpServer:
    """Just enough SMTP for Django's backend; ``messages`` holds (recipients, data) of each one accepted.
    Down means nothing listens on the port: the provider's outage as a client sees it."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[tuple[list[str], str]] = []
        self.server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                recipients: list[str] = []
                self.reply("220 localhost test SMTP")
                while line := self.rfile.readline():
                    command = line.decode("utf-8", "replace").strip()
                    verb = command[:4].upper()
                    if verb in {"EHLO", "HELO"}:
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        recipients = []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data.decode("utf-8", "replace"))
                        outer.messages.append((recipients, "".join(lines)))
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("250 OK")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
