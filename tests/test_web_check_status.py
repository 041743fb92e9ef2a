"""The check page's poll: waiting is the normal state, so it neither logs a warning nor shows the browser an
error at each poll; once the link is confirmed elsewhere it signs this browser in."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.web_helpers import ask_for_link, confirm, confirm_with_number, number_shown, token_in

pytestmark = pytest.mark.django_db

STATUS = "/auth/check/status/"


def test_polling_while_the_link_waits_answers_200_and_logs_nothing(client, outbox, caplog):
    ask_for_link(client)
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            response = client.post(STATUS)
            assert response.status_code == 200 and response.json() == {"pending": True}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_poll_after_a_confirm_on_another_device_signs_this_browser_in(client, outbox):
    ask_for_link(client)
    confirm_with_number(Client(), token_in(outbox[-1]), number_shown(client))
    response = client.post(STATUS)
    assert response.status_code == 200 and response.json() == {"next": "/auth/account/"}
    assert {"DS", "DSR"} <= set(response.cookies)
    assert "You are signed in" in client.get("/auth/account/").content.decode()
    assert client.post(STATUS).json() == {"next": "/auth/account/"}


def test_a_poll_that_finds_no_sign_in_waiting_asks_again(client, outbox):
    """A poll sent with the session cookie that a login in another tab just replaced finds nothing: that
    must not end the waiting page's polling."""
    assert client.post(STATUS).json() == {"pending": True}


def test_a_browser_that_confirmed_its_own_link_in_another_tab_is_sent_on(client, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    assert client.post(STATUS).json() == {"next": "/auth/account/"}
