"""The link's landing page: scanners and previews never consume a link; a confirm does, once."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from django.utils import timezone

from magiclink_auth.models import PendingLink
from magiclink_auth.tokens import hash_token

from .conftest import token_of
from .web_helpers import LANDING, ask_for_link, claims, confirm, link_path, token_in

pytestmark = pytest.mark.django_db

VERIFY = "/v1/auth/magiclink/verify"
SCANNER_UA = "Mozilla/5.0 (compatible; Microsoft Office/16.0; SafeLinks scanner)"


def test_get_and_head_of_a_link_as_a_scanner_leave_the_token_usable(client, api, outbox):
    ask_for_link(client)
    scanner = Client(HTTP_USER_AGENT=SCANNER_UA)
    page = scanner.get(link_path(outbox[-1]))
    head = scanner.head(link_path(outbox[-1]))
    assert page.status_code == 200 and b"Confirm sign-in" in page.content
    assert head.status_code == 200 and head.content == b""
    verified = api.post(VERIFY, {"token": token_in(outbox[-1])})
    assert verified.status_code == 200, verified.content


def test_landing_page_is_private(client, outbox):
    ask_for_link(client)
    page = client.get(link_path(outbox[-1]))
    assert page["Referrer-Policy"] == "no-referrer"
    assert "no-store" in page["Cache-Control"]


def test_the_browser_that_asked_confirms_by_script(client, outbox):
    ask_for_link(client)
    page = client.get(link_path(outbox[-1]))
    assert b"form.submit()" in page.content
    assert b'name="t"' in page.content and b"<button" in page.content  # works without script too
    assert b'action="/auth/link/"' in page.content  # the token goes in the body, not in another URL


def test_another_browser_must_click_and_sees_whose_account(outbox, client):
    ask_for_link(client)
    page = Client().get(link_path(outbox[-1]))
    assert b"form.submit()" not in page.content
    assert b"a***@example.com" in page.content


def test_a_link_asked_for_through_the_api_shows_the_account_and_waits_for_a_click(api, outbox):
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "ada@example.com", "URI": "https://app.example.com/auth/link/"})
    page = Client().get(link_path(outbox[-1]))
    assert page.status_code == 200
    assert b"a***@example.com" in page.content and b"form.submit()" not in page.content


def test_confirm_logs_in_sets_cookies_and_redirects_with_303(client, outbox):
    ask_for_link(client)
    response = confirm(client, token_in(outbox[-1]))
    assert response.status_code == 303
    assert response["Location"] == "/auth/account/"
    assert response["Referrer-Policy"] == "no-referrer" and "no-store" in response["Cache-Control"]
    for name in ("DS", "DSR"):
        assert response.cookies[name]["httponly"] is True
        assert response.cookies[name]["samesite"] == "Strict"
    account = client.get("/auth/account/")
    assert account.status_code == 200 and b"ada@example.com" in account.content


def test_redirect_goes_where_the_link_was_bound_not_where_the_request_says(client, outbox):
    ask_for_link(client)
    response = confirm(client, token_in(outbox[-1]), QUERY_STRING="next=https://evil.net/")
    assert response["Location"] == "/auth/account/"


def test_a_post_without_this_browsers_ticket_consumes_nothing(client, outbox):
    """A cross-site form post (login CSRF) arrives without the Lax browser cookie, so its ticket fails."""
    ask_for_link(client)
    attacker = Client()
    page = attacker.post(LANDING, {"t": token_in(outbox[-1])})
    ticket = re.search(rb'name="ticket" value="([^"]*)"', page.content).group(1).decode()
    forged = client.post(LANDING, {"t": token_in(outbox[-1]), "ticket": ticket})
    assert forged.status_code == 200 and b"Confirm sign-in" in forged.content and "DS" not in forged.cookies
    assert PendingLink.objects.get().consumed_at is None


def test_double_click_in_the_same_browser_gets_the_same_session(client, outbox):
    ask_for_link(client)
    first = confirm(client, token_in(outbox[-1]))
    second = confirm(client, token_in(outbox[-1]))
    assert second.status_code == 303
    assert claims(second.cookies["DSR"].value)["sid"] == claims(first.cookies["DSR"].value)["sid"]


def test_preview_then_click_in_the_same_browser_auto_confirms_again(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    page = client.get(link_path(outbox[-1]))
    assert page.status_code == 200 and b"form.submit()" in page.content


def test_a_used_link_in_another_browser_shows_the_used_page(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    response = confirm(Client(), token_in(outbox[-1]))
    assert response.status_code == 410
    assert b"already used" in response.content and b'href="/auth/login/"' in response.content
    assert "DS" not in response.cookies


def test_the_same_browser_after_the_replay_window_is_sent_on_while_signed_in_and_warned_once_out(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    PendingLink.objects.update(consumed_at=timezone.now() - timedelta(seconds=61))
    still_signed_in = confirm(client, token_in(outbox[-1]))
    assert still_signed_in.status_code == 303 and still_signed_in["Location"] == "/auth/account/"
    client.post("/auth/logout/")
    response = confirm(client, token_in(outbox[-1]))
    assert response.status_code == 410 and b"already used" in response.content


def test_an_expired_link_shows_the_expired_page_with_a_way_to_ask_again(client, outbox):
    ask_for_link(client)
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    for response in (client.get(link_path(outbox[-1])), confirm(client, token_in(outbox[-1]))):
        assert response.status_code == 410
        assert b"expired" in response.content and b'id="ask-again"' in response.content


@pytest.mark.parametrize("token", ["", "nonsense", "x" * 500])
def test_an_invalid_token_shows_the_invalid_page(client, token):
    response = confirm(client, token)
    assert response.status_code == 400
    assert b"does not work" in response.content and b'id="ask-again"' in response.content


def test_signed_in_as_someone_else_asks_before_switching(client, outbox):
    ask_for_link(client, "bob@example.com")
    confirm(client, token_in(outbox[-1]))
    ask_for_link(client, "ada@example.com")
    page = client.get(link_path(outbox[-1]))
    assert b"You are signed in as" in page.content and b"form.submit()" not in page.content
    confirm(client, token_in(outbox[-1]))
    account = client.get("/auth/account/")
    assert b"ada@example.com" in account.content and b"bob@example.com" not in account.content


def test_token_in_fragment_never_reaches_a_get(client, outbox, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "TOKEN_IN_FRAGMENT": True}
    ask_for_link(client)
    url = outbox[-1].url
    assert "#t=" in url and "t" not in parse_qs(urlsplit(url).query)
    page = client.get(link_path(outbox[-1]))
    assert page.status_code == 200 and b"location.hash" in page.content
    review = client.post(LANDING, {"t": token_in(outbox[-1]), "action": "review"})
    assert review.status_code == 200 and b"form.submit()" in review.content
    assert PendingLink.objects.get().consumed_at is None
    assert confirm(client, token_in(outbox[-1])).status_code == 303


def test_with_no_default_url_links_go_to_the_landing_page(api, outbox, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DEFAULT_REDIRECT_URL": ""}
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "ada@example.com"})
    assert outbox[-1].url.startswith("https://app.example.com/auth/link/?t=")


def test_backend_authenticates_a_token_once(api, outbox):
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "ada@example.com"})
    request = RequestFactory().post("/mine/")
    user = authenticate(request, token=token_of(outbox[-1]))
    assert user is not None and user.email == "ada@example.com"
    assert claims(request.magiclink_tokens.session_jwt)["sub"] == str(user.pk)
    assert authenticate(RequestFactory().post("/mine/"), token=token_of(outbox[-1])) is None


def test_backend_uses_a_cross_device_link_only_with_its_number(api, outbox):
    answer = api.post("/v1/auth/magiclink/signup-in/email",
                      {"loginId": "ada@example.com", "loginOptions": {"crossDevice": True}}).json()
    assert authenticate(RequestFactory().post("/mine/"), token=token_of(outbox[-1])) is None
    assert PendingLink.objects.get().consumed_at is None
    user = authenticate(RequestFactory().post("/mine/"), token=token_of(outbox[-1]), number=answer["code"])
    assert user is not None and user.email == "ada@example.com"
def test_a_token_the_api_refuses_for_too_many_tries_does_not_log_in_on_the_landing_page(api, client, outbox,
                                                                                        limits, signed_up):
    """The red team's replay: a token the API refused with E062705 still logged in through the landing page."""
    from magiclink_auth.models import Profile

    limits(VERIFY_ATTEMPTS_PER_TOKEN=3)
    signed_up("ada@example.com")
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])
    Profile.objects.update(status=Profile.Status.DISABLED)  # a bulk update: the link itself stays valid
    codes = [api.post(VERIFY, {"token": token}).json()["errorCode"] for _ in range(4)]
    assert codes == ["E062109"] * 3 + ["E062705"]
    Profile.objects.update(status=Profile.Status.ENABLED)

    page = client.get(f"{LANDING}?t={token}")
    assert page.status_code == 429 and b"Too many tries" in page.content and int(page["Retry-After"]) >= 1
    confirmed = confirm(client, token)
    assert confirmed.status_code == 429 and "DS" not in confirmed.cookies
    assert PendingLink.objects.get(token_hash=hash_token(token)).consumed_at is None


def test_the_landing_page_shares_the_apis_verify_limit_per_ip(api, client, limits):
    limits(VERIFY_RATE_PER_IP="3/hour")
    assert api.post(VERIFY, {"token": "x" * 43}).status_code == 401
    assert client.get(f"{LANDING}?t={'y' * 43}").status_code == 400
    assert client.post(LANDING, {"t": "z" * 43, "action": "review"}).status_code == 400
    limited = client.get(f"{LANDING}?t={'w' * 43}")
    assert limited.status_code == 429 and b"Too many tries" in limited.content
    assert api.post(VERIFY, {"token": "v" * 43}).json()["errorCode"] == "E062704"
