from __future__ import annotations

import json
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import django
import pytest
import time_machine
from django.conf import settings
from django.test import Client, TestCase

from magiclink_auth import keys
from magiclink_auth.delivery import dev
from tests.twilio_fake import fake_twilio  # noqa: F401 - a fixture, shared by the SMS tests

PROJECT_ID = settings.PROJECT_ID


class ApiClient:
    """Speaks the protocol over Django's test client: JSON bodies and the Bearer project id header."""

    def __init__(self, client: Client):
        self.client = client

    def _auth(self, refresh: str | None, project_id: str | None) -> dict:
        credentials = project_id if project_id is not None else PROJECT_ID
        if refresh:
            credentials += f":{refresh}"
        return {"HTTP_AUTHORIZATION": f"Bearer {credentials}"}

    def post(self, path: str, body=None, *, refresh: str | None = None, project_id: str | None = None,
             raw: str | bytes | None = None, content_type: str = "application/json", **extra):
        data = raw if raw is not None else json.dumps({} if body is None else body)
        # Tests run inside a transaction that never commits; run the on-commit hooks (delivery) as a
        # real commit would.
        with TestCase.captureOnCommitCallbacks(execute=True):
            return self.client.post(path, data=data, content_type=content_type,
                                    **self._auth(refresh, project_id), **extra)

    def get(self, path: str, *, refresh: str | None = None, project_id: str | None = None):
        return self.client.get(path, **self._auth(refresh, project_id))


@pytest.fixture
def api(client) -> ApiClient:
    return ApiClient(client)


@pytest.fixture(autouse=True)
def _fresh_key_ring():
    """Each test's database is rolled back, keys included; the process-wide key cache must follow."""
    keys.clear_cache()
    yield
    keys.clear_cache()


@pytest.fixture(autouse=True)
def outbox():
    dev.outbox.clear()
    dev.MemoryBackend.fail_with = None
    yield dev.outbox
    dev.outbox.clear()
    dev.MemoryBackend.fail_with = None


def token_of(message) -> str:
    """The token of a delivered link, read as a person's browser would: from the URL's query."""
    return parse_qs(urlsplit(message.url).query)["t"][0]


@pytest.fixture
def signed_up(api, outbox, db):
    """A user who signed up by email and verified: returns the verify response's JSON."""

    def make(email: str = "ada@example.com", **user):
        response = api.post("/v1/auth/magiclink/signup/email", {"loginId": email, "user": user})
        assert response.status_code == 200, response.content
        verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])})
        assert verified.status_code == 200, verified.content
        return verified.json()

    return make


@pytest.fixture
def mail_backend(settings):
    """Route Django mail through a backend: ``MAILERS`` from Django 6.1, ``EMAIL_BACKEND`` before."""

    def use(backend: str) -> None:
        if django.VERSION >= (6, 1):
            settings.MAILERS = {"default": {"BACKEND": backend}}
        else:
            settings.EMAIL_BACKEND = backend

    return use


@pytest.fixture
def descope(live_server, transactional_db):
    """The official Python SDK pointed at the live example site.

    The site runs in another thread, so the test's data must really commit (``transactional_db``); delivery
    on-commit hooks then run for real and land in ``outbox``. The SDK fetches our JWKs itself from
    ``{base_url}/v2/keys/{project id}``, so nothing else needs configuring.
    """
    DescopeClient = pytest.importorskip("descope", reason="the descope SDK is not installed").DescopeClient
    return DescopeClient(project_id=PROJECT_ID, base_url=live_server.url)


def error_code(exc) -> str:
    """The protocol error code inside an SDK ``AuthException``: its message is our error JSON as sent."""
    return json.loads(exc.error_message)["errorCode"]


@contextmanager
def sdk_refused(status: int, code: str):
    """The SDK call in the block must raise ``AuthException`` carrying our HTTP status and error code."""
    AuthException = pytest.importorskip("descope", reason="the descope SDK is not installed").AuthException
    with pytest.raises(AuthException) as refused:
        yield refused
    assert refused.value.status_code == status and error_code(refused.value) == code, refused.value


@pytest.fixture
def clock():
    """Time stands still for the test until it moves it: ``clock.shift(2.5)`` (seconds or a timedelta).

    Django's ``timezone.now()``, ``time.time()`` (PyJWT, DRF's throttles) all follow; ``time.monotonic()``
    (socket timeouts) does not.
    """
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters live in the cache, which outlives each test's database rollback."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _clear_of_a_window_edge(margin: float = 3.0) -> None:
    """Counter windows (counters.py) start on whole minutes (every rate here is per minute, hour or day, and a
    link's lifetime is whole minutes). Right after an edge the sliding estimate rounds the previous window's
    count down and lets one more call through, by design; a test that counts a limit exactly must not
    straddle an edge, so it waits for the next minute when it starts in the last ``margin`` seconds of one.
    """
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


@pytest.fixture
def limits(settings):
    """``limits(KEY=value, ...)`` overrides keys of MAGICLINK_AUTH for one test, which then starts clear of a
    counter window's edge."""

    def set_limits(**values):
        settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, **values}
        _clear_of_a_window_edge()

    return set_limits


@pytest.fixture
def real_mail(settings, limits, mail_backend):
    """Email through Django's mail API (locmem), where a header with CR/LF raises BadHeaderError."""
    from django.core import mail

    mail_backend("django.core.mail.backends.locmem.EmailBackend")
    email = {"BACKEND": "magiclink_auth.delivery.email.EmailBackend", "OPTIONS": {}}
    limits(DELIVERY={**settings.MAGICLINK_AUTH["DELIVERY"], "email": email})
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def later(monkeypatch):
    """Moves the clock of the counters (cache) and of the links (database) forward by some seconds.

    The counters' clock starts just after a day's start, where every window (second, minute, hour, day)
    begins, so that a test never straddles a window's edge by the accident of when it runs. Both clocks stand
    still between moves: a slow machine cannot turn a 59-second wait into 58.
    """
    import time
    from datetime import timedelta

    from django.utils import timezone

    from magiclink_auth import counters

    frozen, started = timezone.now(), time.time()
    aligned = (started // 86400 + 1) * 86400 + 1

    def advance(seconds: float):
        monkeypatch.setattr(counters, "clock", lambda: aligned + seconds)
        monkeypatch.setattr(timezone, "now", lambda: frozen + timedelta(seconds=seconds))

    advance(0)
    return advance


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file of the example site (tests/live_site.py), migrated once and copied per site."""
    from tests.live_site import LiveSite

    tmp = tmp_path_factory.mktemp("sqlite-template")
    LiveSite(tmp, f"sqlite:///{tmp / 'db.sqlite3'}").manage("migrate", "--no-input")
    return tmp / "db.sqlite3"
