"""A used link opened in a browser already signed in as its owner says so and goes on to the account,
instead of the "already used … consider who can read your messages" warning meant for strangers."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web_helpers import ask_for_link, confirm, confirm_with_number, link_path, number_shown, token_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in_elsewhere(client, outbox):
    """The browser that asked for a link, signed in because the person confirmed it on another device."""
    ask_for_link(client, "ada@example.com")
    other_device = Client()
    assert b"other device" in confirm_with_number(other_device, token_in(outbox[-1]), number_shown(client)).content
    assert client.post("/auth/check/", {"action": "continue"}).status_code == 303
    return client, outbox[-1]


def test_the_signed_in_owner_opening_the_used_link_is_taken_to_the_account_page(signed_in_elsewhere):
    client, message = signed_in_elsewhere
    response = client.get(link_path(message))
    assert response.status_code == 303 and response["Location"] == "/auth/account/"
    page = client.get(response["Location"])
    assert "You are signed in" in page.content.decode()
    assert "already used" not in page.content.decode()


def test_a_stranger_opening_the_used_link_is_warned(signed_in_elsewhere):
    _, message = signed_in_elsewhere
    response = Client().get(link_path(message))
    assert response.status_code == 410 and "already used" in response.content.decode()


def test_someone_signed_in_as_another_user_opening_the_used_link_is_warned(signed_in_elsewhere, outbox):
    _, message = signed_in_elsewhere
    grace = Client()
    ask_for_link(grace, "grace@example.com")
    confirm(grace, token_in(outbox[-1]))
    response = grace.get(link_path(message))
    assert response.status_code == 410 and "already used" in response.content.decode()
