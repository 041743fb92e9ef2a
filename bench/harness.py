"""What every benchmark shares: Django set up on a throw-away database, timing, and the printed report.

Run a benchmark from the repository root: ``python bench/<name>.py``. SQLite (a temporary file) by default;
``DATABASE_URL=postgres://...`` runs it on PostgreSQL, in ``test_<name>``, created and dropped by the run.
"""

from __future__ import annotations

import atexit
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for entry in (str(ROOT), str(BENCH_DIR)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

TMP = Path(tempfile.mkdtemp(prefix="magiclink-bench-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)


def setup(**environ: str) -> str:
    """Configure Django with ``bench_settings``, create and migrate a fresh database, return its vendor."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("BENCH_SQLITE_PATH", str(TMP / "bench.sqlite3"))
    os.environ.update(environ)
    import django

    django.setup()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    atexit.register(_teardown)
    return connection.vendor


def _teardown() -> None:
    from django.db import connection

    name = connection.settings_dict["NAME"]
    connection.close()
    connection.creation.destroy_test_db(name, verbosity=0)


def database_label() -> str:
    from django.db import connection

    version = connection.cursor().connection.info.server_version if connection.vendor == "postgresql" else ""
    return f"{connection.vendor} {version or ''}".strip()


def header(title: str) -> None:
    import django

    print(f"== {title}")
    print(f"   {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()}, "
          f"Django {django.get_version()}, {database_label()}, {os.cpu_count()} CPUs")


def timed(func: Callable[[], object], *, repeat: int, warmup: int = 20) -> list[float]:
    """Seconds per call of ``func``, one figure per call, the garbage collector held off while timing."""
    for _ in range(warmup):
        func()
    samples = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            func()
            samples.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return samples


def rate(func: Callable[[], object], *, seconds: float = 2.0, rounds: int = 5,
         clock: Callable[[], float] = time.perf_counter) -> float:
    """Calls per second of ``func``: the best of ``rounds`` runs of about ``seconds`` each.

    The best round, not the mean: on a shared machine the noise only ever slows a round down. Pass
    ``clock=time.process_time`` for work done entirely in this process: other processes' load then
    barely moves the figure.
    """
    for _ in range(50):
        func()
    best = 0.0
    for _ in range(rounds):
        gc.collect()
        calls, start = 0, clock()
        deadline = start + seconds / rounds
        while True:
            for _ in range(50):
                func()
            calls += 50
            now = clock()
            if now >= deadline:
                break
        best = max(best, calls / (now - start))
    return best


def ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20)
    return f"median {statistics.median(samples) * 1e3:.3f} ms, p95 {q[18] * 1e3:.3f} ms (n={len(samples)})"


def session_jwt(user, **claims) -> str:
    """A session JWT of a new magic-link session of ``user``, as a verify issues it (after ``setup``)."""
    from magiclink_auth.sessions import issue_tokens, open_session

    session = open_session(user, amr=["email"], claims=claims, ip=None, user_agent="bench")
    return issue_tokens(session, user).session_jwt


def verdict(name: str, value: float, target: str, ok: bool) -> str:
    return f"{name}: {value:.3f}   target {target}   {'MET' if ok else 'MISSED'}"


@contextmanager
def queries():
    """The SQL statements run inside the block: ``with queries() as sql: ...; len(sql)``.

    Counted at the cursor, not read from ``connection.queries``, which Django empties at each request.
    """
    from django.db import connection

    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def data_queries(statements: list[str]) -> int:
    """Statements other than transaction control (SQLite's BEGIN, savepoints): PostgreSQL sends none."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return sum(not sql.lstrip().upper().startswith(control) for sql in statements)
