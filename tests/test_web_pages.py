"""The sign-in pages: ask for a link, check your inbox (resend), signed in, sign out, dev outbox."""

from __future__ import annotations

import json

import pytest
from django.test import Client, TestCase

from magiclink_auth.models import RefreshSession

from .web_helpers import ask_for_link, confirm, link_path, token_in

pytestmark = pytest.mark.django_db

START, CHECK, ACCOUNT = "/auth/login/", "/auth/check/", "/auth/account/"
LOGOUT, OUTBOX = "/auth/logout/", "/auth/dev/outbox/"


def test_the_sign_in_page_has_a_labelled_field(client):
    page = client.get(START)
    assert page.status_code == 200
    assert b'<label for="login_id">' in page.content and b'id="login_id"' in page.content


def test_the_front_page_sends_a_visitor_to_sign_in(client):
    assert client.get("/")["Location"] == START


def test_asking_by_email_leads_to_the_check_page_with_the_masked_address(client, outbox):
    response = ask_for_link(client, "Ada@Example.com")
    assert response.status_code == 303 and response["Location"] == CHECK
    page = client.get(CHECK)
    assert b"Check your inbox" in page.content and b"a***@example.com" in page.content
    assert outbox[-1].recipient == "ada@example.com"
    assert "mlb" in response.cookies and response.cookies["mlb"]["httponly"]


def test_asking_by_phone_says_check_your_phone(client, outbox):
    ask_for_link(client, "+14155550123")
    page = client.get(CHECK)
    assert b"Check your phone" in page.content and outbox[-1].channel == "sms"


@pytest.mark.parametrize(("login_id", "message"), [("", b"Enter your email"), ("not an email@", b"invalid")])
def test_a_bad_address_is_shown_on_the_sign_in_page(client, outbox, login_id, message):
    response = ask_for_link(client, login_id)
    assert response.status_code == 400 and message in response.content and b'role="alert"' in response.content
    assert outbox == []


def resend(client):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(CHECK, {"action": "resend"})


def test_resend_waits_for_the_cooldown(client, outbox, limits):
    limits(RESEND_COOLDOWN=60)  # tests/settings.py turns it off for every other test
    ask_for_link(client)
    early = resend(client)
    assert early.status_code == 429 and 55 <= int(early["Retry-After"]) <= 60
    assert b"You can ask for another in" in early.content and len(outbox) == 1
    again = ask_for_link(client)  # the sign-in page keeps the same cooldown for the same address
    assert again.status_code == 429 and len(outbox) == 1
    assert ask_for_link(client, "bob@example.com").status_code == 303


def test_the_pages_share_the_api_start_limit_per_client_ip(client, api, outbox, limits):
    limits(START_RATE_PER_IP="3/hour")
    assert api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "eve@example.com"}).status_code == 200
    assert ask_for_link(client, "ada@example.com").status_code == 303
    assert ask_for_link(client, "bob@example.com").status_code == 303
    refused = ask_for_link(client, "cyd@example.com")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 3600
    assert len(outbox) == 3 and all(message.recipient != "cyd@example.com" for message in outbox)


def test_resend_sends_a_new_link_and_the_old_one_stops_working(client, outbox):
    ask_for_link(client)
    first = outbox[-1]
    page = resend(client)
    assert b"A new link is on its way" in page.content and len(outbox) == 2
    stale = confirm(client, token_in(first))
    assert stale.status_code == 410 and b'id="ask-again"' in stale.content


def test_the_check_page_without_a_request_goes_back_to_sign_in(client):
    assert client.get(CHECK)["Location"] == START


def test_continuing_before_the_link_is_opened_says_so(client, outbox):
    ask_for_link(client)
    response = client.post(CHECK, {"action": "continue"})
    assert response.status_code == 409 and b"not confirmed yet" in response.content


def test_the_account_page_needs_a_sign_in(client):
    assert client.get(ACCOUNT)["Location"] == START


def test_the_account_page_shows_the_user_and_their_login_ids(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    page = client.get(ACCOUNT)
    assert b"You are signed in" in page.content
    assert b"ada@example.com (verified)" in page.content and b'id="logout"' in page.content


def test_sign_out_clears_both_cookies_and_revokes_the_session(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    response = client.post(LOGOUT)
    assert response.status_code == 303 and response["Location"].startswith(START)
    assert response.cookies["DS"]["max-age"] == 0 and response.cookies["DSR"]["max-age"] == 0
    assert RefreshSession.objects.get().revoked_reason == "logout"
    assert client.get(ACCOUNT)["Location"] == START


def test_the_dev_outbox_is_hidden_without_debug(client, outbox):
    ask_for_link(client)
    assert client.get(OUTBOX).status_code == 404


def test_the_dev_outbox_lists_links_from_memory_and_file_backends(client, outbox, settings, tmp_path):
    settings.DEBUG = True
    path = tmp_path / "outbox.jsonl"
    path.write_text(json.dumps({"to": "+14155550123", "channel": "sms", "purpose": "signin",
                                "url": "https://app.example.com/auth/link/?t=fromfile"}) + "\n")
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY": {
        "email": {"BACKEND": "magiclink_auth.delivery.dev.MemoryBackend", "OPTIONS": {}},
        "sms": {"BACKEND": "magiclink_auth.delivery.dev.FileBackend", "OPTIONS": {"PATH": str(path)}},
    }}
    ask_for_link(client)
    page = Client().get(OUTBOX)
    assert page.status_code == 200
    assert outbox[-1].url.replace("&", "&amp;").encode() in page.content
    assert b"t=fromfile" in page.content and b"+14155550123" in page.content


def test_opening_the_link_from_the_outbox_lands_on_the_confirm_page(client, outbox):
    ask_for_link(client)
    assert client.get(link_path(outbox[-1])).status_code == 200


def test_the_dev_outbox_answers_only_loopback_clients_even_in_debug(settings, outbox):
    """A server started with DEBUG on an open interface must not hand live links to the network."""
    settings.DEBUG = True
    ask_for_link(Client(), "ada@example.com")
    assert Client(REMOTE_ADDR="127.0.0.1").get(OUTBOX).status_code == 200
    assert Client(REMOTE_ADDR="::1").get(OUTBOX).status_code == 200
    assert Client(REMOTE_ADDR="192.168.1.20").get(OUTBOX).status_code == 404


def test_the_example_site_runs_without_debug_unless_asked(monkeypatch):
    import importlib
    import os

    import example_project.settings as example

    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    try:
        assert importlib.reload(example).DEBUG is False
        monkeypatch.setenv("DJANGO_DEBUG", "1")
        assert importlib.reload(example).DEBUG is True
    finally:
        os.environ["DJANGO_DEBUG"] = "0"
        importlib.reload(example)


def test_readmes_example_command_binds_debug_to_loopback():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    command = re.search(r"<!-- example-command -->\s*```sh\n(.*?)\n```", readme, re.S).group(1)
    assert "DJANGO_DEBUG=1" in command and re.search(r"runserver 127\.0\.0\.1:\d+$", command)
