"""STAFF_LINK_LOGIN: the admin's login page offers staff a sign-in link; everyone else learns nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client, TestCase

from tests.test_existing_users import site_user, superuser
from tests.web_helpers import confirm, token_in

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/magiclink_auth/loginid/"
OFFER = "Email me a sign-in link"


@pytest.fixture
def offered(settings, limits):
    limits(STAFF_LINK_LOGIN=True)


def ask(client: Client, email: str):
    page = client.get(LOGIN)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return page, client.post("/auth/staff-link/", {"email": email, "next": "/admin/magiclink_auth/loginid/"})


def test_off_by_default_the_login_page_is_the_admins_own(client):
    assert OFFER not in client.get(LOGIN).content.decode()
    assert client.post("/auth/staff-link/", {"email": "root@example.com"}).status_code == 404
    assert "magiclink_auth.W115" not in {m.id for m in run_checks()}


def test_on_a_system_check_explains_the_trade_off(offered):
    warnings = [m for m in run_checks() if m.id == "magiclink_auth.W115"]
    assert warnings and "without the password" in warnings[0].msg


def test_a_staff_user_gets_a_link_that_opens_the_admin_page_they_asked_for(client, offered, outbox):
    admin = superuser("Root@Example.com")
    page, answer = ask(client, "ROOT@example.com")
    assert OFFER in page.content.decode()
    assert answer.status_code == 303 and answer["Location"].startswith("/admin/login/?next=")
    assert "a sign-in link is on its way" in client.get(answer["Location"]).content.decode()
    assert [m.recipient for m in outbox] == ["Root@example.com"]
    done = confirm(client, token_in(outbox[-1]))
    assert done.status_code == 303 and done["Location"] == "/admin/magiclink_auth/loginid/"
    assert client.get(done["Location"]).status_code == 200
    assert client.get("/auth/account/").context["user"].pk == admin.pk
    assert get_user_model()._default_manager.count() == 1


@pytest.mark.parametrize("who", ["non-staff", "unknown", "inactive staff"])
def test_any_other_address_gets_the_same_answer_and_nothing_is_sent(offered, outbox, who):
    superuser("root@example.com")
    if who == "non-staff":
        site_user("member@example.com")
    elif who == "inactive staff":
        site_user("member@example.com", username="old-admin", is_staff=True, is_active=False)
    staff_browser, other_browser = Client(), Client()
    _, staff_answer = ask(staff_browser, "root@example.com")
    sent = len(outbox)
    _, other_answer = ask(other_browser, "member@example.com")
    assert len(outbox) == sent == 1
    assert other_answer.status_code == staff_answer.status_code
    assert other_answer["Location"] == staff_answer["Location"]
    staff_page = staff_browser.get(staff_answer["Location"]).content.decode()
    other_page = other_browser.get(other_answer["Location"]).content.decode()
    assert "a sign-in link is on its way" in staff_page
    assert without_csrf_tokens(other_page) == without_csrf_tokens(staff_page)


def without_csrf_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_a_malformed_address_is_told_so(client, offered, outbox):
    _, answer = ask(client, "not-an-email")
    assert "The email address is invalid" in client.get(answer["Location"]).content.decode()
    assert outbox == []
