"""Races, with real threads each on its own database connection: one link, one session; one refresh token,
one rotation. PostgreSQL only: SQLite serialises writers on one file lock, so it would prove nothing."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client

from magiclink_auth.models import LoginId, RefreshSession
from tests.conftest import ApiClient, token_of

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (DATABASE_URL=postgres://...): SQLite cannot run writers concurrently",
    ),
    # Each thread commits on its own connection, so the test cannot run inside one rolled-back transaction.
    pytest.mark.django_db(transaction=True),
]

VERIFY = "/v1/auth/magiclink/verify"
REFRESH = "/v1/auth/refresh"


@pytest.fixture(autouse=True)
def _no_throttles_in_the_way(settings):
    """The verify and refresh throttles would turn all but a few callers away before they reach the link
    or the session (5 verifies per token); these tests are about the race itself: every caller gets there."""
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "VERIFY_ATTEMPTS_PER_TOKEN": 1000,
                               "VERIFY_RATE_PER_IP": "10000/hour", "REFRESH_RATE_PER_SESSION": "10000/hour"}


def all_at_once(count: int, call):
    """Run ``call()`` in ``count`` threads released together; each thread has its own DB connection."""
    barrier = threading.Barrier(count)

    def run():
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connections.close_all()  # this thread's connections, not the test's

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


def post(path: str, body: dict, refresh: str | None = None):
    response = ApiClient(Client()).post(path, body, refresh=refresh)
    return response.status_code, response.json()


@pytest.mark.parametrize("count", [2, 50])
def test_simultaneous_verifies_of_one_link_make_exactly_one_session(api, outbox, count):
    assert connection.vendor == "postgresql"
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "ada@example.com", "user": {"name": "Ada"}})
    token = token_of(outbox[-1])

    results = all_at_once(count, lambda: post(VERIFY, {"token": token}))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (count - 1)
    assert {body["errorCode"] for status, body in results if status == 401} == {"E062504"}  # link used
    assert RefreshSession.objects.count() == 1
    assert get_user_model().objects.count() == 1 and LoginId.objects.count() == 1
    (winner,) = [body for status, body in results if status == 200]
    assert winner["firstSeen"] is True


def test_simultaneous_verifies_of_a_sign_in_link(api, outbox, signed_up):
    signed_up()
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])

    results = all_at_once(20, lambda: post(VERIFY, {"token": token}))

    assert sorted(status for status, _ in results) == [200] + [401] * 19
    assert RefreshSession.objects.count() == 2  # the sign-up's session, and exactly one more


def test_simultaneous_refreshes_of_one_token_rotate_once_and_all_succeed(signed_up):
    """Tabs refreshing together: one rotation, the others get the current tokens within the grace."""
    first = signed_up()["refreshJwt"]
    before = RefreshSession.objects.get()

    results = all_at_once(20, lambda: post(REFRESH, {}, refresh=first))

    assert {status for status, _ in results} == {200}
    session = RefreshSession.objects.get()
    assert session.revoked_at is None
    assert session.previous_jti == before.current_jti and session.current_jti != before.current_jti
    claims = [pyjwt.decode(body["refreshJwt"], options={"verify_signature": False}) for _, body in results]
    jtis = {claim["jti"] for claim in claims}
    assert jtis == {session.current_jti}  # every tab holds the one live token
    status, _ = post(REFRESH, {}, refresh=results[-1][1]["refreshJwt"])
    assert status == 200


def test_simultaneous_refreshes_without_a_grace_revoke_the_family(signed_up, settings):
    """With no grace a concurrent reuse cannot be told from a stolen token: exactly one rotation, then the
    reuse revokes the whole family, the winner's new token included."""
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REFRESH_REUSE_GRACE": 0}
    first = signed_up()["refreshJwt"]

    results = all_at_once(10, lambda: post(REFRESH, {}, refresh=first))

    winners = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status != 200]
    assert len(winners) <= 1 and len(losers) >= 9
    assert {body["errorCode"] for body in losers} <= {"E061304", "E061303"}
    assert RefreshSession.objects.get().revoked_reason == "reuse"
    if winners:
        status, body = post(REFRESH, {}, refresh=winners[0]["refreshJwt"])
        assert (status, body["errorCode"]) == (401, "E061303")
