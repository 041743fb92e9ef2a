"""SMS pumping guard: country allow-list, cap per destination prefix, site-wide budget; and their checks."""

import pytest
from django.conf import settings as django_settings

from magiclink_auth.checks import check_abuse_limits

pytestmark = pytest.mark.django_db

SMS = "/v1/auth/magiclink/signup-in/sms"


def check_ids():
    return {problem.id for problem in check_abuse_limits()}


def test_by_default_no_country_is_allowed(api, settings, outbox):
    settings.MAGICLINK_AUTH = {
        key: value for key, value in settings.MAGICLINK_AUTH.items() if key != "SMS_ALLOWED_COUNTRY_CODES"
    }
    response = api.post(SMS, {"loginId": "+14155550123"})
    assert response.status_code == 400 and response.json()["errorCode"] == "E062707"
    assert outbox == []
    assert "magiclink_auth.W030" in check_ids()


def test_country_outside_the_allow_list_is_refused(api, limits, outbox):
    limits(SMS_ALLOWED_COUNTRY_CODES=["+1"])
    refused = api.post(SMS, {"loginId": "+44 20 7946 0958"})
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E062707"
    assert "+44" in refused.json()["errorMessage"]
    assert api.post(SMS, {"loginId": "+14155550123"}).status_code == 200
    assert [m.recipient for m in outbox] == ["+14155550123"]


def test_email_is_not_subject_to_the_sms_guard(api, limits):
    limits(SMS_ALLOWED_COUNTRY_CODES=[], SMS_RATE_SITEWIDE="1/hour")
    for n in range(3):
        response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": f"u{n}@example.com"})
        assert response.status_code == 200


def test_cap_per_destination_prefix(api, limits, outbox):
    limits(SMS_RATE_PER_PREFIX="2/hour", SMS_PREFIX_DIGITS=7)
    for number in ("+14155550101", "+14155550102"):
        assert api.post(SMS, {"loginId": number}).status_code == 200
    limited = api.post(SMS, {"loginId": "+14155550103"})
    assert limited.status_code == 429 and limited.json()["errorCode"] == "E062708"
    assert 1 <= int(limited["Retry-After"]) <= 3600
    # Another block of numbers is not affected.
    assert api.post(SMS, {"loginId": "+14156660101"}).status_code == 200
    assert len(outbox) == 3


def test_site_wide_budget(api, limits, outbox):
    limits(SMS_RATE_SITEWIDE="3/hour")
    for number in ("+14155550101", "+442079460958", "+33612345678"):
        assert api.post(SMS, {"loginId": number}).status_code == 200
    limited = api.post(SMS, {"loginId": "+4915112345678"})
    assert limited.status_code == 429 and limited.json()["errorCode"] == "E062709"
    assert 1 <= int(limited["Retry-After"]) <= 3600
    assert len(outbox) == 3
    assert api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com"}).status_code == 200


def test_only_sms_sent_count(api, limits, outbox):
    limits(SMS_RATE_SITEWIDE="1/hour", ENUMERATION_SAFE=False)
    for _ in range(3):
        assert api.post("/v1/auth/magiclink/signin/sms", {"loginId": "+14155550101"}).status_code == 404
    assert api.post(SMS, {"loginId": "+14155550101"}).status_code == 200
    assert api.post(SMS, {"loginId": "+14155550102"}).json()["errorCode"] == "E062709"


def test_enumeration_safe_notices_count_like_links(api, limits, outbox):
    limits(SMS_RATE_SITEWIDE="1/hour", ENUMERATION_SAFE=True)
    assert api.post("/v1/auth/magiclink/signin/sms", {"loginId": "+14155550101"}).status_code == 200
    assert api.post(SMS, {"loginId": "+14155550102"}).json()["errorCode"] == "E062709"
    assert len(outbox) == 1


def test_configured_allow_list_silences_the_warning(limits):
    limits(SMS_ALLOWED_COUNTRY_CODES=[1, "+44"])
    assert "magiclink_auth.W030" not in check_ids()


@pytest.mark.parametrize("code", [999, "x", "+0"])
def test_invalid_country_code_is_a_configuration_error(limits, code):
    limits(SMS_ALLOWED_COUNTRY_CODES=[1, code])
    assert "magiclink_auth.E030" in check_ids()


@pytest.mark.parametrize("rate", ["10", "10/fortnight", "ten/hour", 5])
def test_invalid_rate_is_a_configuration_error(limits, rate):
    limits(SMS_RATE_PER_PREFIX=rate)
    assert "magiclink_auth.E031" in check_ids()


@pytest.mark.parametrize("setting, value", [
    ("VERIFY_ATTEMPTS_PER_TOKEN", "5"), ("NUM_PROXIES", -1), ("NUM_PROXIES", None), ("SMS_PREFIX_DIGITS", 0),
])
def test_counts_must_be_whole_numbers(limits, setting, value):
    limits(**{setting: value})
    assert "magiclink_auth.E033" in check_ids()


def test_the_defaults_pass_every_check(settings):
    """The default SMS backend prints to the console: no text goes out, so no country list is needed."""
    settings.DEBUG = True
    settings.MAGICLINK_AUTH = {"PROJECT_ID": "P2x", "REDIRECT_URLS": ["https://app.example.com/"]}
    assert check_ids() == set()


def test_a_development_sms_backend_takes_any_number_and_needs_no_country_list(api, limits, tmp_path):
    path = tmp_path / "sms.jsonl"
    sms = {"BACKEND": "magiclink_auth.delivery.dev.FileBackend", "OPTIONS": {"PATH": str(path)}}
    limits(SMS_ALLOWED_COUNTRY_CODES=[], DELIVERY={**django_settings.MAGICLINK_AUTH["DELIVERY"], "sms": sms})
    response = api.post(SMS, {"loginId": "+81 3-1234-5678"})
    assert response.status_code == 200, response.content
    assert "+81312345678" in path.read_text()
    assert "magiclink_auth.W030" not in check_ids()


def test_throttle_cache_must_exist(limits):
    limits(THROTTLE_CACHE="nowhere")
    assert "magiclink_auth.E032" in check_ids()


def test_per_process_cache_is_warned_about_outside_debug(settings):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert "magiclink_auth.W031" in check_ids()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}
    assert "magiclink_auth.W031" in check_ids()  # its incr is a read and a write: not atomic
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/0"}}
    assert "magiclink_auth.W031" not in check_ids()


def test_the_sign_in_pages_share_the_sms_guard(client, limits, outbox):
    from django.test import Client

    from .web_helpers import ask_for_link

    limits(SMS_ALLOWED_COUNTRY_CODES=[1], SMS_RATE_SITEWIDE="1/hour")
    refused = ask_for_link(client, "+442079460958")
    assert refused.status_code == 400 and b"SMS to +44 is not enabled" in refused.content
    assert ask_for_link(client, "+14155550101").status_code == 303
    # Another browser, no session in common: the site-wide budget still holds.
    spent = ask_for_link(Client(), "+14155550199")
    assert spent.status_code == 429 and 1 <= int(spent["Retry-After"]) <= 3600
    assert [m.recipient for m in outbox] == ["+14155550101"]


def test_the_sign_in_pages_share_the_per_address_cooldown(limits, outbox):
    from django.test import Client

    from .web_helpers import ask_for_link

    limits(RESEND_COOLDOWN=60)
    assert ask_for_link(Client(), "ada@example.com").status_code == 303
    # A fresh browser (no session cookie) cannot skip the cooldown the page keeps in its session.
    again = ask_for_link(Client(), "ADA@example.com")
    assert again.status_code == 429 and 1 <= int(again["Retry-After"]) <= 60
    assert len(outbox) == 1
