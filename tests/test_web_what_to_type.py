"""The sign-in page says what to type when the input is not an address, in a person's words."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["not-an-email", "Ada Lovelace", "ada"])
def test_input_that_is_neither_an_email_nor_a_phone_says_what_to_type(client, outbox, typed):
    response = client.post("/auth/login/", {"login_id": typed})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Type an email address (name@example.com) or a phone number with its country code" in html
    assert "phone number is invalid" not in html
    assert outbox == []


def test_a_phone_number_without_its_country_code_is_told_to_add_it(client, outbox):
    html = client.post("/auth/login/", {"login_id": "415 555"}).content.decode()
    assert "type it with its country code, such as +1 415 555 2671" in html


def test_a_broken_email_is_told_the_form_of_one(client, outbox):
    html = client.post("/auth/login/", {"login_id": "ada@"}).content.decode()
    assert "type it as name@example.com" in html
