"""Sign-ins per second over HTTP: the example site under gunicorn against a minimal django-sesame site.

Both sites run under gunicorn (2 sync workers) on 127.0.0.1 and both deliver links the same way: in the
request, to a folder the load generator reads like an inbox. wrk drives each for a fixed time with a
bounded number of connections, each doing sign-in after sign-in: ask for a link, then use it (magiclink:
POST signin/email + POST verify, which issues JWTs and a refresh session; sesame: POST /start, which makes
a token with ``get_query_string``, + GET /login with sesame's ``LoginView``, which opens a Django session).
The figure is requests per second of each and the ratio magiclink / sesame (target >= 1.0).

Both servers stay up for the whole run and wrk drives them in turn, magiclink, sesame, magiclink, ...
(``BENCH_ROUNDS`` rounds each): each site's figure is its best round, since on a shared machine other load
only ever slows a round down, and alternating keeps a busy spell from landing on one site only. Both sites
keep their database connections (``CONN_MAX_AGE`` 60 s, SQLite included), as a production site would.

Needs wrk (``apt-get install -y wrk``) and the bench extra (``pip install -e '.[bench]'``).

    python bench/throughput.py                     # SQLite (a WAL file per site)
    DATABASE_URL=postgres://... python bench/throughput.py
    BENCH_SECONDS=30 BENCH_CONNECTIONS=8 python bench/throughput.py
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import harness

SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
USERS_PER_CONNECTION = 50
WORKERS = 2

SESAME_SETTINGS = '''
import os
import dj_database_url

SECRET_KEY = {secret!r}
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "sesame_site.urls"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages"]
# The example site's stack, its own session middleware aside, so that both sites pay the same for it.
MIDDLEWARE = {middleware!r}
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "sesame.backends.ModelBackend"]
# Like a magic link: valid 10 minutes, usable once.
SESAME_MAX_AGE = 600
SESAME_ONE_TIME = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if os.environ.get("DATABASE_URL"):
    DATABASES = {{"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}}
else:
    DATABASES = {{"default": {{
        "ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_SQLITE_PATH"], "CONN_MAX_AGE": 60,
        "OPTIONS": {{"timeout": 30, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}},
    }}}}
'''

SESAME_URLS = '''
import json
import os
from pathlib import Path

from django.contrib.auth.models import User
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from sesame.utils import get_query_string
from sesame.views import LoginView


@csrf_exempt
@require_POST
def start(request):
    """Email a login link: the sesame way of doing what POST signin/email does."""
    email = json.loads(request.body)["email"]
    user = User.objects.filter(email=email).first()
    if user is not None:
        url = request.build_absolute_uri("/login") + get_query_string(user)
        (Path(os.environ["BENCH_MAILBOX"]) / email).write_text(url)
    return JsonResponse({{}})


urlpatterns = [path("start", start), path("login", LoginView.as_view(next_page=None))]
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emails() -> list[str]:
    """The addresses throughput.lua signs in with: its own set for each connection."""
    return [f"t{t}-u{u}@example.com"
            for t in range(1, CONNECTIONS + 1) for u in range(1, USERS_PER_CONNECTION + 1)]


@contextmanager
def gunicorn(app: str, env: dict, cwd: Path, log: Path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
         "--error-logfile", str(log)],
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
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wrk(url: str, env: dict) -> dict:
    command = ["wrk", "-t", str(CONNECTIONS), "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--timeout", "10s",
               "-s", str(harness.BENCH_DIR / "throughput.lua"), url]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    return {"rate": rate, "total": total, "bad": int(bad.group(1)) if bad else 0,
            "sign_ins": int(re.search(r"sign-ins: (\d+)", output).group(1)),
            "missing": int(re.search(r"missing links: (\d+)", output).group(1)),
            "socket_errors": errors.group(1) if errors else "none", "latency": latency.group(1)}


def report(name: str, result: dict) -> None:
    print(f"   {name:<16} {result['rate']:8.1f} req/s, {result['sign_ins'] / SECONDS:6.1f} sign-ins/s "
          f"({result['total']} requests, {result['sign_ins']} sign-ins completed, mean latency "
          f"{result['latency']}, non-2xx: {result['bad']}, links missing: {result['missing']}, "
          f"socket errors: {result['socket_errors']})")


def base_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "BENCH_SQLITE_PATH"}}
    env.update(extra)
    return env


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
    env = base_env(
        DJANGO_SETTINGS_MODULE="bench_settings", PYTHONPATH=f"{harness.ROOT}{os.pathsep}{harness.BENCH_DIR}",
        BENCH_MAILBOX=str(mailbox), BENCH_TASKS_BACKEND="django_tasks.backends.immediate.ImmediateBackend",
    )
    env["BENCH_DB_NAME" if connection.vendor == "postgresql" else "BENCH_SQLITE_PATH"] = str(database)
    with gunicorn("example_project.wsgi", env, harness.ROOT, harness.TMP / "magiclink-gunicorn.log") as url:
        yield lambda: wrk(url, {**env, "BENCH_SITE": "magiclink",
                                "BENCH_PROJECT_ID": settings.MAGICLINK_AUTH["PROJECT_ID"],
                                "BENCH_USERS_PER_THREAD": str(USERS_PER_CONNECTION)})


@contextmanager
def sesame_database():
    """SQLite: a file. PostgreSQL: a database of its own beside the harness's, dropped afterwards."""
    if not os.environ.get("DATABASE_URL"):
        yield {"BENCH_SQLITE_PATH": str(harness.TMP / "sesame.sqlite3")}
        return
    import psycopg
    from django.db import connection

    name = f"bench_sesame_{os.getpid()}"
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield {"DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"}
    finally:
        connection.close()
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def sesame_site(mailbox: Path):
    site = harness.TMP / "sesame"
    (site / "sesame_site").mkdir(parents=True)
    (site / "sesame_site" / "__init__.py").write_text("")
    from django.conf import settings

    middleware = [entry for entry in settings.MIDDLEWARE if not entry.startswith("magiclink_auth.")]
    settings_text = SESAME_SETTINGS.format(secret=secrets.token_urlsafe(40), middleware=middleware)
    (site / "sesame_site" / "settings.py").write_text(settings_text)
    (site / "sesame_site" / "urls.py").write_text(SESAME_URLS.format())
    (site / "sesame_site" / "wsgi.py").write_text(
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n")
    with sesame_database() as database:
        env = base_env(DJANGO_SETTINGS_MODULE="sesame_site.settings", PYTHONPATH=str(site),
                       BENCH_MAILBOX=str(mailbox), **database)
        django_admin = [sys.executable, "-m", "django"]
        subprocess.run([*django_admin, "migrate", "-v", "0"], cwd=site, env=env, check=True)
        create = ("from django.contrib.auth.models import User\n"
                  f"emails = {emails()!r}\n"
                  "users = [User(username=e, email=e) for e in emails]\n"
                  "[u.set_unusable_password() for u in users]\n"
                  "User.objects.bulk_create(users)\n")
        subprocess.run([*django_admin, "shell", "--no-imports", "-c", create], cwd=site, env=env, check=True)
        with gunicorn("sesame_site.wsgi", env, site, harness.TMP / "sesame-gunicorn.log") as url:
            yield lambda: wrk(url, {**env, "BENCH_SITE": "sesame",
                                    "BENCH_USERS_PER_THREAD": str(USERS_PER_CONNECTION)})


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("throughput.py needs wrk: apt-get install -y wrk")
    harness.setup()
    harness.header(f"throughput: {WORKERS} gunicorn workers, wrk, {CONNECTIONS} connections, {SECONDS} s")
    from importlib.metadata import version

    print(f"   django-sesame {version('django-sesame')}; a request is one step of a sign-in (ask, then use)")
    print(f"   {ROUNDS} rounds each, alternating; each site's best round counts")
    results: dict[str, dict] = {}
    with ExitStack() as stack:
        drivers = {}
        for name, site in (("magiclink", magiclink_site), ("sesame", sesame_site)):
            mailbox = harness.TMP / f"mailbox-{name}"
            mailbox.mkdir()
            drivers[name] = stack.enter_context(site(mailbox))
        for round_number in range(1, ROUNDS + 1):
            for name, drive in drivers.items():
                result = drive()
                report(f"{name} #{round_number}", result)
                if name not in results or result["rate"] > results[name]["rate"]:
                    results[name] = result
    for name, result in results.items():
        report(f"{name} best", result)
    ratio = results["magiclink"]["rate"] / results["sesame"]["rate"]
    print("   " + harness.verdict("ratio (magiclink / sesame req/s)", ratio, ">= 1.0", ratio >= 1.0))


if __name__ == "__main__":
    main()
