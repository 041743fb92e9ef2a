"""Simultaneous requests on the example site as README runs it: ``runserver`` (a thread per request) on its
default SQLite file, with the settings README recommends, and the same site on PostgreSQL.

Every answer is JSON, none is a 5xx: fifty clicks on one link make exactly one session, twenty-five sign-ups
at once all succeed, twenty tabs refreshing one refresh JWT at once all keep the session.
"""

from __future__ import annotations

import pytest

from tests.live_site import LiveSite, all_at_once, create_database, drop_database, is_error_json, postgres_url

pytestmark = pytest.mark.live


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory, sqlite_template):
    tmp = tmp_path_factory.mktemp(f"site-{request.param}")
    if request.param == "sqlite":
        live = LiveSite.on_sqlite(tmp, sqlite_template)
    elif postgres_url():
        live = LiveSite(tmp, create_database(postgres_url(), "live"))
        live.manage("migrate", "--no-input")
    else:
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    live.start()
    yield live
    live.stop()
    if request.param == "postgresql":
        drop_database(live.database_url)


def no_server_errors(answers) -> None:
    assert [a.status for a in answers if a.status >= 500] == []
    assert all(a.body is not None for a in answers), [a.text[:200] for a in answers if a.body is None]


def test_the_sqlite_site_runs_in_wal_mode(site):
    if not site.database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    import sqlite3

    site.sign_up("wal@example.com")
    with sqlite3.connect(site.database_url.removeprefix("sqlite:///")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_fifty_simultaneous_verifies_of_one_link_make_exactly_one_session(site):
    assert site.sign_up("ada@example.com").status == 200
    token = site.token_for("ada@example.com")
    sessions_before = site.count("magiclink_auth_refreshsession")

    answers = all_at_once(50, lambda _: site.verify(token))

    no_server_errors(answers)
    assert sorted(a.status for a in answers) == [200] + [401] * 49
    assert {a.body["errorCode"] for a in answers if a.status == 401} == {"E062504"}  # the link was used
    assert site.count("magiclink_auth_refreshsession") == sessions_before + 1
    (winner,) = [a.body for a in answers if a.status == 200]
    assert site.refresh(winner["refreshJwt"]).status == 200  # the one session is live


def test_twenty_five_simultaneous_sign_ups_of_different_addresses_all_succeed(site):
    addresses = [f"person{i}@example.com" for i in range(25)]

    answers = all_at_once(25, lambda i: site.sign_up(addresses[i]))

    no_server_errors(answers)
    assert [a.status for a in answers] == [200] * 25
    sent = [m["to"] for m in site.messages()]
    assert all(sent.count(address) == 1 for address in addresses)
    verified = all_at_once(25, lambda i: site.verify(site.token_for(addresses[i])))
    assert [a.status for a in verified] == [200] * 25


def test_twenty_simultaneous_refreshes_of_one_refresh_jwt_keep_the_session_alive(site):
    refresh = site.signed_in("grace@example.com")["refreshJwt"]

    answers = all_at_once(20, lambda _: site.refresh(refresh))

    no_server_errors(answers)
    assert [a.status for a in answers] == [200] * 20, [a.body for a in answers if a.status != 200]
    latest = answers[-1].body["refreshJwt"]
    assert site.refresh(latest).status == 200
    me = site.call("GET", "/v1/auth/me", refresh=site.refresh(latest).body["refreshJwt"])
    assert me.status == 200 and me.body["email"] == "grace@example.com"


def test_every_answer_under_load_is_json(site):
    """Mixed calls at once, the refused ones included: no HTML, whatever the outcome."""
    refresh = site.signed_in("mixed@example.com")["refreshJwt"]
    calls = [
        lambda: site.sign_up(f"mixed{len(calls)}@example.com"),
        lambda: site.verify("not-a-token"),
        lambda: site.refresh(refresh),
        lambda: site.post("/v1/auth/nowhere"),
    ]

    answers = all_at_once(40, lambda i: calls[i % 4]())

    no_server_errors(answers)
    assert all(a.status == 200 or is_error_json(a) for a in answers)
