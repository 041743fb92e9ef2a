"""Helpers for the browser-side tests: ask for a link as a browser does, and read it from the outbox."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import jwt
from django.test import Client, TestCase

LANDING = "/auth/link/"


def ask_for_link(client: Client, login_id: str = "ada@example.com"):
    """Submit the sign-in page in ``client``'s browser; delivery runs as on commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/auth/login/", {"login_id": login_id})


def link_path(message) -> str:
    """The path and query of a delivered link, as the test client requests it."""
    parts = urlsplit(message.url)
    return f"{parts.path}?{parts.query}"


def token_in(message) -> str:
    parts = urlsplit(message.url)
    return (parse_qs(parts.query).get("t") or parse_qs(parts.fragment).get("t"))[0]


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def confirm(client: Client, token: str, **extra):
    """What the confirm page's form does: post the token with the ticket the page was served with."""
    page = client.post(LANDING, {"t": token, "action": "review"})
    found = re.search(rb'name="ticket" value="([^"]*)"', page.content)
    return client.post(LANDING, {"t": token, "ticket": found.group(1).decode() if found else ""}, **extra)


def number_shown(client: Client) -> str:
    """The number the "check your inbox" page shows to the browser that asked."""
    page = client.get("/auth/check/")
    return re.search(rb'id="number">(\d+)<', page.content).group(1).decode()


def confirm_with_number(client: Client, token: str, number: str, **extra):
    """Confirm as a person on another device does: type the number on the confirm page and submit."""
    page = client.post(LANDING, {"t": token, "action": "review"})
    found = re.search(rb'name="ticket" value="([^"]*)"', page.content)
    ticket = found.group(1).decode() if found else ""
    return client.post(LANDING, {"t": token, "ticket": ticket, "number": number}, **extra)
