"""README's Quick start, run as written on a brand-new ``django-admin startproject`` site.

The snippets are read from README.md (each follows a ``<!-- quickstart:NAME -->`` marker), so when README
changes this test follows it. The only adaptations: the code under test is put on ``PYTHONPATH`` instead of
``pip install`` (no network here), the site runs on a free loopback port instead of 8000, and runserver
gets ``--noreload``. Then: ``migrate``, ``check`` (no issues), the site served, a sign-up-or-in and verify
through the official Python SDK, and a person's sign-in in Chromium, each link read from the runserver
terminal where the Quick start says it is printed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CHROMIUM = "/usr/bin/chromium"
LINK = re.compile(r"http://localhost:\d+/auth/link/\?[^\s\"<>]+")

pytestmark = pytest.mark.quickstart


def snippet(name: str) -> str:
    found = re.search(rf"<!-- quickstart:{name} -->\n```\w+\n(.*?)```", README, re.S)
    assert found, f"README has no quickstart:{name} snippet"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """The startproject site: its folder, its port, and runserver's output as it comes."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port, self.output = folder, port, []
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                    "DJANGO_SETTINGS_MODULE": "mysite.settings"}
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def ours(self, text: str) -> str:
        return text.replace("localhost:8000", f"localhost:{self.port}")

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=300)

    def serve(self) -> subprocess.Popen:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"localhost:{self.port}"],
            cwd=self.folder, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=lambda: self.output.extend(server.stdout), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://localhost:{self.port}/auth/login/", timeout=2)
                return server
            except OSError:
                time.sleep(0.3)
        server.kill()
        pytest.fail("runserver did not answer:\n" + "".join(self.output))

    def links(self) -> list[str]:
        """The links printed so far (each email's text part; its HTML part's copy has ``&amp;``)."""
        seen = []
        for link in LINK.findall("".join(self.output)):
            if "&amp;" not in link and link not in seen:
                seen.append(link)
        return seen

    def next_link(self, already: int) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            links = self.links()
            if len(links) > already:
                return links[already]
            time.sleep(0.2)
        pytest.fail("no link was printed:\n" + "".join(self.output))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("startproject")
    django_admin = Path(sys.executable).with_name("django-admin")
    command = [str(django_admin)] if django_admin.exists() else [sys.executable, "-m", "django"]
    subprocess.run([*command, "startproject", "mysite", str(folder)], check=True, timeout=120)
    made = Site(folder, free_port())

    install = snippet("install").split()
    assert install[:2] == ["pip", "install"]
    assert install[2] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    for name, path in (("settings", "mysite/settings.py"), ("urls", "mysite/urls.py")):
        with (folder / path).open("a") as fh:
            fh.write("\n" + made.ours(snippet(name)))

    commands = [line.split() for line in snippet("commands").splitlines() if line.strip()]
    assert [c[:3] for c in commands] == [["python", "manage.py", "migrate"], ["python", "manage.py", "check"],
                                         ["python", "manage.py", "runserver"]]
    migrated = made.manage("migrate")
    assert migrated.returncode == 0, migrated.stderr
    checked = made.manage("check")
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout + checked.stderr, checked.stderr
    server = made.serve()
    yield made
    server.terminate()
    server.wait(timeout=30)


def test_sign_up_or_in_and_verify_through_the_official_sdk(site):
    namespace: dict = {}
    before = len(site.links())
    exec(site.ours(snippet("sdk-start")), namespace)
    link = site.next_link(before)
    namespace["token"] = re.search(r"[?&]t=([^&]+)", link).group(1)
    exec(site.ours(snippet("sdk-verify")), namespace)
    assert namespace["jwt_response"]["user"]["loginIds"] == ["ada@example.com"]
    assert namespace["claims"]["userId"] == namespace["jwt_response"]["userId"]


@pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")),
                    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_a_person_signs_in_in_chromium_and_the_waiting_tab_polls_quietly(site):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from tests.test_browser import ARGS

    base = f"http://localhost:{site.port}"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context()
            console_errors, failed = [], []
            asking = context.new_page()
            asking.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            # A failed request shows in the console as "Failed to load resource"; the browser's own
            # favicon request is the startproject site's 404, not ours.
            asking.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            asking.goto(f"{base}/auth/login/")
            before = len(site.links())
            asking.get_by_label("Email address or phone number").fill("Grace@Example.com")
            asking.get_by_role("button", name="Send me a link").click()
            asking.wait_for_url("**/auth/check/")
            link = site.next_link(before)
            asking.wait_for_timeout(2500)  # at least one poll while the link waits
            opened = context.new_page()
            opened.goto(link)
            opened.wait_for_url("**/auth/account/")
            assert "You are signed in" in opened.content()
            assert "grace@example.com" in opened.locator("#login-ids").inner_text()
            try:
                asking.wait_for_url("**/auth/account/", timeout=30_000)
            except sync_api.TimeoutError:
                pytest.fail(f"{asking.content()}\n{console_errors}\n{''.join(site.output)}")
            assert [url for url in failed if not url.endswith("/favicon.ico")] == []
            assert [text for text in console_errors if not text.startswith("Failed to load resource")] == []
        finally:
            browser.close()
    assert "Unauthorized" not in "".join(site.output)


def test_a_superuser_the_site_had_before_signs_in_into_their_own_account(site):
    """An existing user of the startproject site (``createsuperuser``, no login ID) signs in by the address
    on their row through README's SDK snippets, and lands in that account, still staff: no second user."""
    env = {"DJANGO_SUPERUSER_PASSWORD": "unused-by-magic-links", "DJANGO_SUPERUSER_EMAIL": "Boss@Example.com",
           "DJANGO_SUPERUSER_USERNAME": "boss"}
    made = subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput"], cwd=site.folder,
                          env={**site.env, **env}, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    namespace: dict = {}
    before = len(site.links())
    exec(site.ours(snippet("sdk-start")).replace("ada@example.com", "boss@example.com"), namespace)
    namespace["token"] = re.search(r"[?&]t=([^&]+)", site.next_link(before)).group(1)
    exec(site.ours(snippet("sdk-verify")), namespace)
    assert namespace["jwt_response"]["user"]["loginIds"] == ["boss@example.com"]
    users = site.manage("shell", "-c", "from django.contrib.auth.models import User; print([(u.username, "
                        "u.is_staff, u.is_superuser) for u in User.objects.filter(email__iexact='boss@example.com')])")
    assert users.returncode == 0, users.stderr
    assert users.stdout.strip().splitlines()[-1] == "[('boss', True, True)]"
