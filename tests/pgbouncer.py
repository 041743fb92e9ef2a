"""Run the test suite (or any command) through PgBouncer in transaction pooling mode.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ci python -m tests.pgbouncer [pytest arguments]
    DATABASE_URL=... python -m tests.pgbouncer --run command [arguments]

Starts Debian's ``pgbouncer`` on a free loopback port in front of the server named by ``DATABASE_URL``
(``pool_mode = transaction``, so consecutive transactions of one client may run on different server
connections, as in production), then runs pytest, or the command after ``--run``, with ``DATABASE_URL``
pointing at PgBouncer and ``DB_DISABLE_SERVER_SIDE_CURSORS=1``; ``DIRECT_DATABASE_URL`` keeps the
server's own address for what must bypass the pooler (creating and dropping databases).

pytest runs with ``--reuse-db``: pytest-django then creates ``test_<name>`` through PgBouncer but does not
drop it, because PgBouncer keeps server connections to it open and ``DROP DATABASE`` would refuse. This
script drops it on the server directly, before (a stale one) and after the run.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["pgbouncer", "free_port", "drop_database", "with_database"]

POOL_SIZE = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, *, host: str | None = None, port: int | None = None, name: str | None = None) -> str:
    """``url`` with another host, port or database name."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if host is not None or port is not None:
        credentials = netloc.rsplit("@", 1)[0] + "@" if "@" in netloc else ""
        netloc = f"{credentials}{host or parts.hostname}:{port or parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{name}" if name is not None else parts.path))


def drop_database(direct_url: str, name: str) -> None:
    """Drop ``name`` on the server, closing whatever connections (a pooler's) still hold it."""
    import psycopg

    with psycopg.connect(with_database(direct_url, name="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _config(directory: Path, server, port: int) -> Path:
    user = server.username or "postgres"
    password = f" password={server.password}" if server.password else ""
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        # Any database name the client asks for, on the real server.
        f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432} user={user}{password}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\n"
        # `psql -p <port> -U postgres pgbouncer -c "SHOW POOLS"` shows who holds the server connections.
        f"admin_users = {user}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {POOL_SIZE}\nmax_client_conn = 1000\n"
        # psycopg sends no startup parameter PgBouncer does not know, but a site's driver may.
        "ignore_startup_parameters = extra_float_digits\n"
        "log_connections = 0\nlog_disconnections = 0\n"
    )
    return ini


@contextmanager
def pgbouncer(direct_url: str):
    """PgBouncer in transaction pooling mode in front of ``direct_url``'s server: yields its URL."""
    executable = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(executable).exists():
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pgbouncer-") as tmp:
        directory = Path(tmp)
        ini = _config(directory, urlsplit(direct_url), port)
        command = [executable, str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: drop to nobody, who must be able to read its configuration.
            os.chmod(directory, 0o755)
            command[1:1] = ["-u", "nobody"]
        # Its output goes to a file: a pipe nobody reads would fill up and stop PgBouncer mid-run.
        output = (directory / "pgbouncer.out").open("wb")
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, process, directory)
            yield with_database(direct_url, host="127.0.0.1", port=port)
        finally:
            # SIGINT: immediate shutdown (SIGTERM would wait for every client to leave).
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)
            output.close()


def _wait_for_port(port: int, process: subprocess.Popen, directory: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {(directory / 'pgbouncer.out').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening")


def main(argv: list[str]) -> int:
    direct_url = os.environ.get("DATABASE_URL", "")
    if not direct_url.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must name a PostgreSQL server", file=sys.stderr)
        return 2
    if argv[:1] == ["--run"]:
        command, test_database = argv[1:], None
    else:
        command = [sys.executable, "-m", "pytest", "--reuse-db", *argv]
        test_database = "test_" + urlsplit(direct_url).path.lstrip("/")
    if test_database:
        drop_database(direct_url, test_database)
    try:
        with pgbouncer(direct_url) as pooled_url:
            print(f"::: through PgBouncer (transaction pooling) at {urlsplit(pooled_url).netloc}", flush=True)
            env = {**os.environ, "DATABASE_URL": pooled_url, "DIRECT_DATABASE_URL": direct_url,
                   "DB_DISABLE_SERVER_SIDE_CURSORS": "1"}
            return subprocess.call(command, env=env)
    finally:
        if test_database:
            drop_database(direct_url, test_database)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
