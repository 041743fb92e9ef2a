"""System checks of the browser-login settings (magiclink_auth.E020-E023, W020-W021)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from magiclink_auth.checks import check_browser_login

MIDDLEWARE = "magiclink_auth.middleware.MagicLinkSessionMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def ids() -> set[str]:
    return {problem.id for problem in check_browser_login()}


def configure(settings, **values):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, **values}


def test_the_example_configuration_passes():
    assert ids() == set()


def test_host_prefix_with_a_domain_is_an_error(settings):
    configure(settings, COOKIE_HOST_PREFIX=True, COOKIE_DOMAIN=".example.com")
    assert "magiclink_auth.E020" in ids()


def test_middleware_before_django_authentication_is_an_error(settings):
    rest = [m for m in settings.MIDDLEWARE if m not in {MIDDLEWARE, AUTH}]
    settings.MIDDLEWARE = [*rest, MIDDLEWARE, AUTH]
    assert "magiclink_auth.E021" in ids()


@pytest.mark.parametrize(("name", "seconds"), [("CONFIRM_REPLAY_WINDOW", -1), ("PENDING_POLL_INTERVAL", 0)])
def test_bad_windows_are_errors(settings, name, seconds):
    configure(settings, **{name: seconds})
    assert "magiclink_auth.E022" in ids()


def test_a_long_replay_window_is_a_warning(settings):
    configure(settings, CONFIRM_REPLAY_WINDOW=timedelta(minutes=10))
    assert "magiclink_auth.W020" in ids()


def test_middleware_without_the_backend_is_a_warning(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert "magiclink_auth.W021" in ids()


def test_host_prefix_names_the_cookies(settings, client, db, outbox):
    from .web_helpers import ask_for_link, confirm, token_in

    configure(settings, COOKIE_HOST_PREFIX=True)
    asked = ask_for_link(client)
    confirmed = confirm(client, token_in(outbox[-1]), secure=True)
    assert confirmed.status_code == 303
    for response, name in ((asked, "__Host-mlb"), (confirmed, "__Host-DS"), (confirmed, "__Host-DSR")):
        assert response.cookies[name]["secure"] and response.cookies[name]["path"] == "/"
        assert not response.cookies[name]["domain"]


@pytest.mark.django_db  # Django 6.1's check command also runs the database checks
def test_manage_py_check_runs_them(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    with pytest.raises(Exception, match="W021"):
        call_command("check", fail_level="WARNING")


@pytest.mark.parametrize("values", [{"NUMBER_MATCH_DIGITS": 1}, {"NUMBER_MATCH_DIGITS": 9},
                                    {"NUMBER_MATCH_ATTEMPTS": 0}, {"NUMBER_MATCH_ATTEMPTS": 50}])
def test_number_matching_settings_out_of_range_are_an_error(settings, values):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, **values}
    assert "magiclink_auth.E023" in ids()
