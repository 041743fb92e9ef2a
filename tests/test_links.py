"""Link tokens: random, stored hashed, single use, expiring, superseded by a newer link, bound to their URI."""

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from magiclink_auth.models import PendingLink
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

VERIFY = "/v1/auth/magiclink/verify"


def start(api, email="ada@example.com", **body):
    response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": email, **body})
    assert response.status_code == 200, response.content
    return response


def test_token_has_at_least_128_bits_and_only_its_hash_is_stored(api, outbox):
    start(api)
    token = token_of(outbox[-1])
    assert len(token) >= 43  # 32 random bytes in URL-safe base64
    link = PendingLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(link, f.attname)) for f in PendingLink._meta.fields]
    assert not any(token in value for value in stored)


def test_tokens_differ_between_links(api, outbox):
    start(api, "a@example.com")
    start(api, "b@example.com")
    assert token_of(outbox[0]) != token_of(outbox[1])


def test_link_is_single_use(api, outbox):
    start(api)
    token = token_of(outbox[-1])
    assert api.post(VERIFY, {"token": token}).status_code == 200
    second = api.post(VERIFY, {"token": token})
    assert second.status_code == 401
    assert second.json()["errorCode"] == "E062504"


def test_unknown_token(api):
    response = api.post(VERIFY, {"token": "x" * 43})
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E062501"


def test_expired_link_is_refused_with_its_own_code(api, outbox):
    start(api)
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post(VERIFY, {"token": token_of(outbox[-1])})
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E062502"


def test_default_lifetime_is_ten_minutes(api):
    start(api)
    link = PendingLink.objects.get()
    assert link.expires_at - link.created_at == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("configured", "effective"),
    [(timedelta(seconds=5), timedelta(minutes=1)), (timedelta(days=30), timedelta(days=7)),
     (1800, timedelta(minutes=30))],
)
def test_lifetime_is_bounded_between_one_minute_and_seven_days(api, settings, configured, effective):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "LINK_LIFETIME": configured}
    start(api)
    link = PendingLink.objects.get()
    assert link.expires_at - link.created_at == effective


def test_new_link_voids_the_older_one(api, outbox):
    start(api)
    start(api)
    older, newer = token_of(outbox[0]), token_of(outbox[1])
    response = api.post(VERIFY, {"token": older})
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E062505"
    assert api.post(VERIFY, {"token": newer}).status_code == 200


def test_link_keeps_the_uris_query_and_drops_its_fragment(api, outbox):
    start(api, URI="https://app.example.com/login/done?next=%2Fhome&t=attacker#frag")
    url = urlsplit(outbox[-1].url)
    query = parse_qs(url.query)
    assert (url.netloc, url.path, url.fragment) == ("app.example.com", "/login/done", "")
    assert query["next"] == ["/home"]
    assert query["t"] == [token_of(outbox[-1])] and query["t"] != ["attacker"]


def test_default_uri_is_used_when_none_is_given(api, outbox):
    start(api, URI=None)
    assert outbox[-1].url.startswith("https://app.example.com/welcome?t=")


def test_no_uri_and_no_default_is_refused(api, settings, outbox):
    # With an allow-list the app's landing page is the default (tests/test_web_landing.py); without, nothing is.
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DEFAULT_REDIRECT_URL": "", "REDIRECT_URLS": []}
    response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com"})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E062201"
    assert outbox == []


def test_verify_cannot_change_what_the_link_was_bound_to(api, outbox):
    start(api, URI="https://app.example.com/bound")
    body = {"token": token_of(outbox[-1]), "URI": "https://evil.net/", "loginId": "x@example.com"}
    response = api.post(VERIFY, body)
    assert response.status_code == 200
    assert response.json()["user"]["loginIds"] == ["ada@example.com"]
    assert PendingLink.objects.get().redirect_uri == "https://app.example.com/bound"


def test_link_sent_to_the_stored_address_not_the_one_typed(api, outbox, signed_up):
    signed_up("mike@example.org")
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "MIKE@Example.ORG"})
    assert response.status_code == 200
    assert outbox[-1].recipient == "mike@example.org"


def test_dotless_i_does_not_match_another_account(api, outbox, signed_up):
    signed_up("mike@example.org")
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "m\u0131ke@example.org"})
    assert response.status_code == 404
    assert all(message.recipient != "mike@example.org" for message in outbox[1:])


def test_delivery_state_is_recorded(api):
    start(api)
    assert PendingLink.objects.get().delivery_status == "sent"


@override_settings(LANGUAGE_CODE="en")
def test_outage_is_recorded_on_the_link_and_the_request_still_succeeds(api, outbox):
    from magiclink_auth.delivery.dev import MemoryBackend

    MemoryBackend.fail_with = ConnectionError("provider down")
    response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com"})
    assert response.status_code == 200
    link = PendingLink.objects.get()
    assert link.delivery_status == "failed" and "outage" in link.delivery_error


def test_a_returning_users_sign_in_start_stays_within_its_query_budget(api, outbox, signed_up):
    """bench/profile_signin.py: find the login ID with its user and profile (1), lock the login ID (1: links
    for one login ID are made one at a time), void older links, store the new one and record what to
    send (3), then the delivery task claims the link, loads it and records
    the outcome (3); the audit log adds its two INSERTs (link_requested, link_sent), not the user's row. On
    PostgreSQL the outcome's UPDATE carries its audit row's INSERT: one statement for both.
    Main had 9 and 3: the profile and the stored login ID were fetched again, and the audit loaded the user."""
    signed_up("ada@example.com")
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "ADA@example.com"})
    assert response.status_code == 200, response.content
    assert outbox[-1].recipient == "ada@example.com"
    assert PendingLink.objects.get(token_hash=hashlib.sha256(token_of(outbox[-1]).encode()).hexdigest())
    control = ("BEGIN", "SAVEPOINT", "RELEASE")
    statements = [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(control)]
    audit = [sql for sql in statements if "magiclink_auth_auditevent" in sql]
    if connection.vendor == "postgresql":
        (requested, sent) = audit
        assert requested.startswith("INSERT") and sent.startswith('WITH inserted_0 AS (INSERT INTO "magiclink_auth_'
                                                                  'auditevent"')
        assert 'UPDATE "magiclink_auth_pendinglink"' in sent and len(statements) - 1 <= 8, "\n".join(statements)
    else:
        assert len(audit) == 2 and all(sql.startswith("INSERT") for sql in audit)
        assert len(statements) - len(audit) <= 8, "\n".join(statements)


def test_two_verifies_interleaved_between_lookup_and_consume_make_one_session(api, outbox, monkeypatch):
    """The race the single-use UPDATE settles, played in a fixed order (SQLite runs no writers at once):
    verify A has looked the link up, unused, when verify B runs from start to end; A must then be refused
    as a second use, not open a second session. (B runs on A's connection, inside A's transaction, so
    A's refusal rolls B's rows back with it: the answers are what this test can read.)"""
    from magiclink_auth.flows import verification

    api.post("/v1/auth/magiclink/signup/email", {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])
    find_link = verification.find_link
    other = []

    def look_up_then_let_the_other_verify_run(found_token):
        link = find_link(found_token)
        if not other:
            other.append(None)
            other[0] = api.post(VERIFY, {"token": token})  # verify B, whole, while A holds the unused link
        return link

    monkeypatch.setattr(verification, "find_link", look_up_then_let_the_other_verify_run)
    first = api.post(VERIFY, {"token": token})
    assert other[0].status_code == 200
    assert first.status_code == 401 and first.json()["errorCode"] == "E062504"
    assert "sessionJwt" not in first.json() and "DSR" not in first.cookies


def test_signing_in_with_a_second_login_id_verifies_it_and_answers_every_login_id(api, outbox, signed_up):
    """The verify reads the user's login IDs once (on PostgreSQL with the link itself): the one the link
    proved becomes verified, and the answer lists them all, oldest first, that one included."""
    from magiclink_auth.models import LoginId

    user_id = signed_up("ada@example.com")["user"]["userId"]
    LoginId.objects.create(user_id=user_id, method="email", value="ada.work@example.com", verified=False)
    assert api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada.work@example.com"}).status_code == 200
    response = api.post(VERIFY, {"token": token_of(outbox[-1])})
    assert response.status_code == 200, response.content
    assert response.json()["user"]["loginIds"] == ["ada@example.com", "ada.work@example.com"]
    assert list(LoginId.objects.filter(user_id=user_id).values_list("value", "verified")) == [
        ("ada@example.com", True), ("ada.work@example.com", True)]
