"""Checks for the silent failures of a new site, and a first failed delivery that is loud."""

from __future__ import annotations

import logging
import socket

import pytest
from django.core.checks import run_checks
from django.urls import reverse

from magiclink_auth.models import PendingLink

# The tests set EMAIL_HOST beside MAILERS so the checks are seen on Django 5.2 and 6.x alike; Django 6.1 warns
# that EMAIL_* is deprecated in favour of MAILERS, which is what these tests also set.
pytestmark = pytest.mark.filterwarnings("ignore:The EMAIL_.* setting is deprecated")

SMTP = "django.core.mail.backends.smtp.EmailBackend"
THROUGH_DJANGO_MAIL = {"BACKEND": "magiclink_auth.delivery.email.EmailBackend", "OPTIONS": {}}


def ids(deploy: bool = False) -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=deploy)}


@pytest.fixture
def smtp_to_localhost(settings, limits, mail_backend):
    mail_backend(SMTP)
    settings.EMAIL_HOST = "localhost"
    limits(DELIVERY={**settings.MAGICLINK_AUTH["DELIVERY"], "email": THROUGH_DJANGO_MAIL})


def test_pages_routed_without_the_backend_is_an_error(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert "magiclink_auth.E113" in ids()


def test_pages_routed_with_the_backend_pass(settings):
    assert "magiclink_auth.E113" not in ids()


def test_smtp_to_djangos_default_localhost_is_a_warning_and_an_error_on_deploy(smtp_to_localhost, settings):
    settings.DEBUG = True
    assert "magiclink_auth.W114" in ids()
    assert "magiclink_auth.E114" not in ids()
    assert "magiclink_auth.E114" in ids(deploy=True)


def test_smtp_to_a_real_host_passes(smtp_to_localhost, settings):
    settings.EMAIL_HOST = "smtp.example.com"
    settings.MAILERS = {"default": {"BACKEND": SMTP, "OPTIONS": {"host": "smtp.example.com"}}}
    assert not {"magiclink_auth.W114", "magiclink_auth.E114"} & ids(deploy=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_a_first_failed_delivery_is_logged_as_an_error_and_shows_in_the_admin(
    api, admin_client, smtp_to_localhost, settings, caplog
):
    port = closed_port()
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.MAILERS = {"default": {"BACKEND": SMTP, "OPTIONS": {"host": "127.0.0.1", "port": port}}}
    with caplog.at_level(logging.WARNING, logger="magiclink_auth"):
        response = api.post("/v1/auth/magiclink/signup/email", {"loginId": "ada@example.com"})
    assert response.status_code == 200
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert "a***@example.com" in errors[0] and "ada@example.com" not in errors[0]
    assert "Connection refused" in errors[0]
    link = PendingLink.objects.get()
    assert link.delivery_status == "failed"
    page = admin_client.get(reverse("admin:magiclink_auth_pendinglink_change", args=[link.pk])).content.decode()
    assert "Connection refused" in page and "Failed" in page
