"""Disabling a user ends every session at once (issue: refresh and `me` kept working for four weeks after
`is_active=False` or the disabled status was saved in the admin)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import NoReverseMatch, reverse

from magiclink_auth.deactivation import disable_users
from magiclink_auth.models import Profile, RefreshSession

pytestmark = pytest.mark.django_db

REFRESH, ME = "/v1/auth/refresh", "/v1/auth/me"


class _Form(HTMLParser):
    """The fields of the admin's change form as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in {"submit", "button", "file"}:
            if attrs.get("type") in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self.fields[name] = attrs.get("value", "on")
            else:
                self.fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self.fields[self._textarea] = self.fields[self._textarea].strip("\n")
            self._textarea = None


def save_in_admin(client, url: str, **changes) -> None:
    """Open the change page, change some fields, and save it as the admin's Save button does."""
    page = client.get(url)
    assert page.status_code == 200
    form = _Form()
    form.feed(page.content.decode())
    fields = {k: v for k, v in form.fields.items() if v is not None}
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    with TestCase.captureOnCommitCallbacks(execute=True):
        saved = client.post(url, fields)
    assert saved.status_code == 302, saved.content.decode()[:3000]


@pytest.fixture
def signed_in(api, signed_up):
    """A user with a live session: its refresh JWT and its DS/DSR cookies in a browser."""
    answer = signed_up("ada@example.com")
    return answer["refreshJwt"], answer["user"]["userId"]


def assert_logged_out_everywhere(api, client, refresh: str) -> None:
    for answer in (api.post(REFRESH, {}, refresh=refresh), api.get(ME, refresh=refresh)):
        assert answer.status_code == 403 and answer.json()["errorCode"] == "E062109"
    assert RefreshSession.objects.filter(revoked_at=None).count() == 0


def test_unticking_active_in_the_admins_user_page_ends_every_session(admin_client, api, client, signed_in):
    refresh, user_id = signed_in
    meta = get_user_model()._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[user_id])
    except NoReverseMatch:
        pytest.skip("the site's user model has no admin page")
    save_in_admin(admin_client, url, is_active=None)
    assert get_user_model().objects.get(pk=user_id).is_active is False
    assert_logged_out_everywhere(api, client, refresh)
    assert RefreshSession.objects.get(user_id=user_id).revoked_reason == "disabled"


def test_saving_the_disabled_status_in_the_admins_profile_page_ends_every_session(admin_client, api, client,
                                                                                  signed_in):
    refresh, user_id = signed_in
    profile = Profile.objects.get(user_id=user_id)
    save_in_admin(admin_client, reverse("admin:magiclink_auth_profile_change", args=[profile.pk]),
                  status="disabled")
    assert Profile.objects.get(pk=profile.pk).status == "disabled"
    assert_logged_out_everywhere(api, client, refresh)


def test_the_admin_action_disables_and_ends_the_sessions(admin_client, api, client, signed_in):
    refresh, user_id = signed_in
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(reverse("admin:magiclink_auth_profile_changelist"), {
            "action": "disable_users", "_selected_action": [str(Profile.objects.get(user_id=user_id).pk)],
        }, follow=True)
    assert "1 session ended" in response.content.decode()
    assert get_user_model().objects.get(pk=user_id).is_active is False
    assert_logged_out_everywhere(api, client, refresh)


def test_the_bulk_helper_disables_and_ends_the_sessions(api, client, signed_in):
    refresh, user_id = signed_in
    assert disable_users(get_user_model().objects.filter(pk=user_id)) == 1
    assert Profile.objects.get(user_id=user_id).status == "disabled"
    assert_logged_out_everywhere(api, client, refresh)


def test_a_bulk_update_that_sends_no_signal_is_still_refused_at_refresh_and_me(api, client, signed_in):
    refresh, user_id = signed_in
    get_user_model().objects.filter(pk=user_id).update(is_active=False)
    assert_logged_out_everywhere(api, client, refresh)


def test_the_middleware_treats_a_disabled_users_cookies_as_signed_out(api, client, outbox, signed_in):
    from .web_helpers import ask_for_link, confirm, token_in

    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    assert client.get("/auth/account/").status_code == 200
    Profile.objects.filter(user__login_ids__value="ada@example.com").update(status="disabled")
    # Its session JWT (DS) is still unexpired, but the user it names is loaded fresh: signed out.
    assert client.get("/auth/account/")["Location"] == "/auth/login/"
