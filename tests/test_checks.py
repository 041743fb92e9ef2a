"""System checks: each misconfiguration is reported by `manage.py check` with its own id."""

from __future__ import annotations

import io
import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from tests.settings import MAGICLINK_AUTH

# Django 6's `check` also runs the database checks.
pytestmark = pytest.mark.django_db

TWILIO = "magiclink_auth.delivery.sms.TwilioBackend"
MEMORY = "magiclink_auth.delivery.dev.MemoryBackend"


def reported(deploy: bool = False, **changes) -> set[str]:
    """The magiclink_auth ids `manage.py check` reports with these MAGICLINK_AUTH changes (outside DEBUG)."""
    with override_settings(MAGICLINK_AUTH={**MAGICLINK_AUTH, **changes}):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("check", stdout=out, stderr=err, deploy=deploy)
        except SystemCheckError as exc:
            text = str(exc)
        else:
            text = out.getvalue() + err.getvalue()
    # The test settings count rate limits and cache the claims in a local-memory cache, which W031 and W041
    # rightly flag; those checks are tested with the rate limits and with the claims cache.
    return set(re.findall(r"magiclink_auth\.[EW]\d{3}", text)) - {"magiclink_auth.W031", "magiclink_auth.W041"}


def test_the_test_settings_pass():
    assert reported() == set()


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"PROJECT_ID": ""}, "magiclink_auth.E001"),
        ({"REDIRECT_URLS": [], "DEFAULT_REDIRECT_URL": ""}, "magiclink_auth.E002"),
        ({"REDIRECT_URLS": ["http://app.example.com/"], "DEFAULT_REDIRECT_URL": ""}, "magiclink_auth.E003"),
        ({"REDIRECT_URLS": ["/relative/"], "DEFAULT_REDIRECT_URL": ""}, "magiclink_auth.E003"),
        ({"DELIVERY": {"email": {"BACKEND": MEMORY}}}, "magiclink_auth.E004"),
        ({"DELIVERY": {"email": {"BACKEND": MEMORY}, "sms": {"BACKEND": ""}}}, "magiclink_auth.E004"),
        (
            {"DELIVERY": {"email": {"BACKEND": "no.such.Backend"}, "sms": {"BACKEND": MEMORY}}},
            "magiclink_auth.E005",
        ),
        (
            {"DELIVERY": {"email": {"BACKEND": MEMORY}, "sms": {"BACKEND": TWILIO, "OPTIONS": {}}}},
            "magiclink_auth.E006",
        ),
        ({"SESSION_LIFETIME": timedelta(weeks=5)}, "magiclink_auth.E007"),
        ({"LINK_LIFETIME": timedelta(seconds=30)}, "magiclink_auth.E008"),
        ({"LINK_LIFETIME": timedelta(days=8)}, "magiclink_auth.E008"),
        ({"DEFAULT_REDIRECT_URL": "https://elsewhere.example/"}, "magiclink_auth.E009"),
        ({"SIGNING_KEYS": ["not a pem"]}, "magiclink_auth.E010"),
        ({"AUDIT_RETENTION": timedelta(0)}, "magiclink_auth.E011"),
        ({"CLEANUP_BATCH_SIZE": 0}, "magiclink_auth.E012"),
        ({"COOKIE_SECURE": False}, "magiclink_auth.W004"),
        ({"AUDIT_LOG": False}, "magiclink_auth.W011"),
        ({"CLEANUP_BATCH_SIZE": 100_000}, "magiclink_auth.W012"),
    ],
)
def test_each_misconfiguration_has_its_check(changes, expected):
    assert expected in reported(**changes)


def test_twilio_with_credentials_passes():
    options = {
        "ACCOUNT_SID": "AC" + "0" * 32,
        "AUTH_TOKEN": "t" * 32,
        "MESSAGING_SERVICE_SID": "MG" + "0" * 32,
    }
    assert (
        reported(DELIVERY={"email": {"BACKEND": MEMORY}, "sms": {"BACKEND": TWILIO, "OPTIONS": options}})
        == set()
    )


def test_twilio_error_names_what_is_missing_but_no_secret():
    with override_settings(
        MAGICLINK_AUTH={
            **MAGICLINK_AUTH,
            "DELIVERY": {
                "email": {"BACKEND": MEMORY},
                "sms": {
                    "BACKEND": TWILIO,
                    "OPTIONS": {"ACCOUNT_SID": "ACsecretish", "AUTH_TOKEN": "hunter2"},
                },
            },
        }
    ):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
    assert "FROM_NUMBER or MESSAGING_SERVICE_SID" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@override_settings(DEBUG=True)
def test_debug_allows_http_redirects_and_insecure_cookies():
    assert (
        reported(REDIRECT_URLS=["http://dev.example.com/"], DEFAULT_REDIRECT_URL="", COOKIE_SECURE=False)
        == set()
    )


def test_every_check_id_is_documented_in_the_readme():
    root = Path(__file__).resolve().parent.parent
    ids = set(re.findall(r"magiclink_auth\.[EW]\d{3}", (root / "magiclink_auth" / "checks.py").read_text()))
    readme = (root / "README.md").read_text()
    assert len(ids) >= 15
    assert {check_id for check_id in ids if f"`{check_id}`" not in readme} == set()


def test_deploy_check_warns_when_cookies_depend_on_an_unseen_https():
    assert "magiclink_auth.W005" not in reported()
    assert "magiclink_auth.W005" in reported(deploy=True)
    assert "magiclink_auth.W005" not in reported(deploy=True, COOKIE_SECURE=True)
    with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        assert "magiclink_auth.W005" not in reported(deploy=True)


def test_a_misspelt_setting_is_reported_with_the_setting_it_resembles():
    with override_settings(MAGICLINK_AUTH={**MAGICLINK_AUTH, "ENUMERATON_SAFE": False}):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
    assert "magiclink_auth.E050" in str(caught.value)
    assert "'ENUMERATON_SAFE'" in str(caught.value)
    assert "Did you mean 'ENUMERATION_SAFE'?" in str(caught.value)



@pytest.fixture
def without_twilio(monkeypatch):
    """The twilio package as absent as on a site that did not install the ``twilio`` extra."""
    for name in [name for name in sys.modules if name == "twilio" or name.startswith("twilio.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "twilio", None)
    monkeypatch.delitem(sys.modules, "magiclink_auth.delivery.sms", raising=False)


def test_the_twilio_backend_without_its_extra_is_a_check_error_naming_the_extra(without_twilio):
    options = {"ACCOUNT_SID": "AC" + "0" * 32, "AUTH_TOKEN": "t" * 32, "FROM_NUMBER": "+15005550006"}
    with override_settings(MAGICLINK_AUTH={**MAGICLINK_AUTH, "DELIVERY": {
            "email": {"BACKEND": MEMORY}, "sms": {"BACKEND": TWILIO, "OPTIONS": options}}}):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
    assert "magiclink_auth.E051" in str(caught.value)
    assert "pip install 'magiclink-auth[twilio]'" in str(caught.value)
    assert "magiclink_auth.E005" not in str(caught.value)


def test_the_twilio_backend_without_its_extra_is_improperly_configured_when_used(without_twilio):
    from magiclink_auth.delivery import get_backend

    with override_settings(MAGICLINK_AUTH={**MAGICLINK_AUTH, "DELIVERY": {
            "email": {"BACKEND": MEMORY}, "sms": {"BACKEND": TWILIO, "OPTIONS": {}}}}):
        with pytest.raises(ImproperlyConfigured, match=r"magiclink-auth\[twilio\]"):
            get_backend("sms")
