"""A crash never puts a token, a JWT or the app's cookies into Django's error report (issue: a crash on the
landing page put the live token and the DS/DSR/mlb cookies into the report; no sensitive_post_parameters,
cookie names outside Django's redaction pattern).

The report is what Django's own ``ExceptionReporter`` renders for the failed request (the text mailed to
ADMINS and its HTML attachment) from the ERROR record logged for it, with the filter the request carries.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.views.debug import ExceptionReporter

from magiclink_auth import signals

from .conftest import ApiClient, token_of
from .web_helpers import LANDING, ask_for_link, confirm, token_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def reports():
    """The error reports a site's ADMINS would be mailed for the test's crashes: what Django's
    AdminEmailHandler builds from each ERROR record with a request (the text and the HTML attachment)."""
    made: list[str] = []

    class Reports(logging.Handler):
        def emit(self, record):
            request = getattr(record, "request", None)
            if record.exc_info and request is not None:
                reporter = ExceptionReporter(request, *record.exc_info, is_email=True)
                made.append(reporter.get_traceback_text() + reporter.get_traceback_html())

    handler = Reports(level=logging.ERROR)
    loggers = [logging.getLogger(name) for name in ("django.request", "magiclink_auth")]
    for logger in loggers:
        logger.addHandler(handler)
    yield made
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def crash_on():
    """Make a signal's receiver raise, as a site's buggy receiver would."""
    connected = []

    def crash(signal):
        def receiver(**kwargs):
            raise RuntimeError("a bug in the site's receiver")

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))

    yield crash
    for signal, receiver in connected:
        signal.disconnect(receiver)


def signed_in_browser(outbox) -> Client:
    browser = Client(raise_request_exception=False)
    ask_for_link(browser, "ada@example.com")
    confirm(browser, token_in(outbox[-1]))
    assert browser.cookies["DS"].value and browser.cookies["DSR"].value and browser.cookies["mlb"].value
    return browser


def assert_clean(report: str, *secrets: str) -> None:
    assert "RuntimeError" in report  # a real report of the crash
    for secret in secrets:
        assert secret and secret not in report
    assert "********************" in report


def test_a_crash_showing_a_link_keeps_its_token_and_the_cookies_out_of_the_report(outbox, reports, crash_on):
    browser = signed_in_browser(outbox)
    ask_for_link(browser, "ada@example.com")
    token = token_in(outbox[-1])
    crash_on(signals.scanner_open_seen)
    other = Client(raise_request_exception=False)  # a browser that did not ask: the open is recorded
    other.cookies = browser.cookies
    other.cookies["mlb"] = "another-browser-id-000000000000"
    response = other.get(f"{LANDING}?t={token}")
    assert response.status_code == 500 and len(reports) == 1
    cookies = [browser.cookies[name].value for name in ("DS", "DSR")] + ["another-browser-id-000000000000"]
    assert_clean(reports[0], token, *cookies)


def test_a_crash_confirming_a_link_keeps_token_ticket_and_cookies_out_of_the_report(outbox, reports, crash_on):
    browser = signed_in_browser(outbox)
    ask_for_link(browser, "ada@example.com")
    token = token_in(outbox[-1])
    crash_on(signals.link_verified)
    response = confirm(browser, token)
    assert response.status_code == 500 and len(reports) == 1
    cookies = [browser.cookies[name].value for name in ("DS", "DSR", "mlb")]
    assert_clean(reports[0], token, *cookies)


def test_a_crash_in_the_api_verify_keeps_the_token_out_of_the_report(api, outbox, reports, crash_on):
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])
    crash_on(signals.link_verified)
    failing = ApiClient(Client(raise_request_exception=False))
    failing.post("/v1/auth/magiclink/verify", {"token": token})
    assert len(reports) == 1
    assert_clean(reports[0], token)


def test_a_crash_in_a_refresh_keeps_the_refresh_jwt_out_of_the_report(api, signed_up, reports, crash_on):
    refresh = signed_up("ada@example.com")["refreshJwt"]
    crash_on(signals.session_refreshed)
    failing = ApiClient(Client(raise_request_exception=False))
    failing.post("/v1/auth/refresh", {}, refresh=refresh)
    assert len(reports) == 1
    assert_clean(reports[0], refresh)
