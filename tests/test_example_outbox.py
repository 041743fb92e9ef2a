"""The example site's dev outbox, where email and SMS share one file: each message once, newest first."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web_helpers import ask_for_link

pytestmark = pytest.mark.django_db


def test_a_file_shared_by_email_and_sms_lists_each_message_once_newest_first(client, settings, tmp_path):
    settings.DEBUG = True
    shared = {"BACKEND": "magiclink_auth.delivery.dev.FileBackend",
              "OPTIONS": {"PATH": str(tmp_path / "outbox.jsonl")}}
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "DELIVERY": {"email": shared, "sms": shared}}
    ask_for_link(client, "first@example.com")
    ask_for_link(Client(), "+14155550123")
    html = client.get("/auth/dev/outbox/").content.decode()
    assert html.count("first@example.com") == 1
    assert html.count("+14155550123") == 1
    assert html.index("+14155550123") < html.index("first@example.com")
