"""Rate limits: each answers 429 with its own code and Retry-After, and counts what the docs say it counts."""

import secrets

import pytest

from magiclink_auth.models import PendingLink, Profile, RefreshSession

from .conftest import PROJECT_ID, token_of

pytestmark = pytest.mark.django_db

SIGNIN = "/v1/auth/magiclink/signin/email"
SIGNUP = "/v1/auth/magiclink/signup/email"
SIGNUP_IN = "/v1/auth/magiclink/signup-in/email"
VERIFY = "/v1/auth/magiclink/verify"


def assert_limited(response, code: str, *, at_most: int) -> int:
    assert response.status_code == 429, response.content
    assert response.json()["errorCode"] == code
    assert set(response.json()) == {"errorCode", "errorDescription", "errorMessage"}
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= at_most
    return retry_after


def test_start_calls_are_limited_per_ip(api, limits, outbox):
    limits(START_RATE_PER_IP="3/hour")
    for n in range(3):
        assert api.post(SIGNUP_IN, {"loginId": f"u{n}@example.com"}).status_code == 200
    assert_limited(api.post(SIGNUP_IN, {"loginId": "u9@example.com"}), "E062701", at_most=3600)
    assert len(outbox) == 3


def test_per_ip_limit_counts_refused_calls_too(api, limits):
    limits(START_RATE_PER_IP="2/hour")
    for _ in range(2):
        assert api.post(SIGNIN, {"loginId": "nobody@example.com"}).status_code == 404
    assert_limited(api.post(SIGNUP_IN, {"loginId": "a@example.com"}), "E062701", at_most=3600)


def test_another_ip_has_its_own_count(api, limits):
    limits(START_RATE_PER_IP="1/hour")
    assert api.post(SIGNUP_IN, {"loginId": "a@example.com"}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert api.post(SIGNUP_IN, {"loginId": "b@example.com"}, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert api.post(SIGNUP_IN, {"loginId": "c@example.com"}, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_forwarded_for_is_ignored_without_proxies(api, limits):
    limits(START_RATE_PER_IP="1/hour")
    api.post(SIGNUP_IN, {"loginId": "a@example.com"}, HTTP_X_FORWARDED_FOR="1.1.1.1")
    response = api.post(SIGNUP_IN, {"loginId": "b@example.com"}, HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert_limited(response, "E062701", at_most=3600)


def test_with_one_proxy_the_client_is_the_last_forwarded_address(api, limits):
    limits(START_RATE_PER_IP="1/hour", NUM_PROXIES=1)
    # The client may prepend anything; the proxy appends the address it saw, and only that counts.
    def start(login_id, forwarded):
        return api.post(SIGNUP_IN, {"loginId": login_id}, HTTP_X_FORWARDED_FOR=forwarded)

    assert start("a@example.com", "9.9.9.9, 1.1.1.1").status_code == 200
    assert_limited(start("b@example.com", "8.8.8.8, 1.1.1.1"), "E062701", at_most=3600)
    assert start("c@example.com", "1.1.1.2").status_code == 200
    assert PendingLink.objects.get(login_id="c@example.com").requester_ip == "1.1.1.2"


def test_resend_cooldown_per_login_id(api, limits, outbox, later):
    limits(RESEND_COOLDOWN=60)
    assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200
    assert_limited(api.post(SIGNUP_IN, {"loginId": "ada@example.com"}), "E062702", at_most=60)
    assert api.post(SIGNUP_IN, {"loginId": "bob@example.com"}).status_code == 200
    assert len(outbox) == 2
    later(61)
    assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200


def test_cooldown_key_is_the_normalised_login_id(api, limits, outbox):
    limits(RESEND_COOLDOWN=60)
    assert api.post(SIGNUP_IN, {"loginId": "Ada@Example.COM"}).status_code == 200
    assert_limited(api.post(SIGNUP_IN, {"loginId": " ada@example.com "}), "E062702", at_most=60)
    assert len(outbox) == 1


def test_cooldown_counts_only_messages_sent(api, limits, outbox):
    """Sign-in refused as unknown, then the sign-up it calls for, at once: nothing was sent in between."""
    limits(RESEND_COOLDOWN=60)
    assert api.post(SIGNIN, {"loginId": "new@example.com"}).status_code == 404
    assert api.post(SIGNUP, {"loginId": "new@example.com"}).status_code == 200
    assert len(outbox) == 1


def test_hourly_cap_per_login_id(api, limits, outbox, later):
    limits(START_RATE_PER_LOGIN_ID="3/hour")
    for _ in range(3):
        assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200
    wait = assert_limited(api.post(SIGNUP_IN, {"loginId": "ADA@example.com"}), "E062703", at_most=3600)
    assert len(outbox) == 3
    later(wait - 2)
    assert_limited(api.post(SIGNUP_IN, {"loginId": "ada@example.com"}), "E062703", at_most=3600)
    later(wait)  # Retry-After says when a message may go again
    assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200


def test_verify_attempts_per_token(api, limits):
    limits(VERIFY_ATTEMPTS_PER_TOKEN=5)
    token = secrets.token_urlsafe(32)
    for _ in range(5):
        assert api.post(VERIFY, {"token": token}).json()["errorCode"] == "E062501"
    assert_limited(api.post(VERIFY, {"token": token}), "E062705", at_most=600)
    # Another token is not affected.
    assert api.post(VERIFY, {"token": secrets.token_urlsafe(32)}).json()["errorCode"] == "E062501"


def test_after_the_attempts_even_the_right_token_fails(api, limits, outbox, signed_up):
    limits(VERIFY_ATTEMPTS_PER_TOKEN=5)
    user_id = signed_up("ada@example.com")["user"]["userId"]
    api.post(SIGNIN, {"loginId": "ada@example.com"})
    token = token_of(outbox[-1])
    Profile.objects.filter(user_id=user_id).update(status=Profile.Status.DISABLED)
    for _ in range(5):
        assert api.post(VERIFY, {"token": token}).json()["errorCode"] == "E062109"
    Profile.objects.filter(user_id=user_id).update(status=Profile.Status.ENABLED)
    sessions = RefreshSession.objects.count()
    assert_limited(api.post(VERIFY, {"token": token}), "E062705", at_most=600)
    assert RefreshSession.objects.count() == sessions
    assert PendingLink.objects.get(pk=outbox[-1].link_id).consumed_at is None


def test_verify_calls_are_limited_per_ip(api, limits):
    limits(VERIFY_RATE_PER_IP="3/hour")
    for _ in range(3):
        assert api.post(VERIFY, {"token": secrets.token_urlsafe(32)}).status_code == 401
    assert_limited(api.post(VERIFY, {"token": secrets.token_urlsafe(32)}), "E062704", at_most=3600)


def test_refresh_is_limited_per_session(api, limits, signed_up):
    limits(REFRESH_RATE_PER_SESSION="2/hour")
    refresh = signed_up("ada@example.com")["refreshJwt"]
    for _ in range(2):
        response = api.post("/v1/auth/refresh", refresh=refresh)
        assert response.status_code == 200
        refresh = response.json()["refreshJwt"]
    assert_limited(api.post("/v1/auth/refresh", refresh=refresh), "E062706", at_most=3600)
    other = signed_up("bob@example.com")["refreshJwt"]
    assert api.post("/v1/auth/refresh", refresh=other).status_code == 200


def test_a_limit_set_to_none_is_off(api, limits):
    limits(START_RATE_PER_IP=None, START_RATE_PER_LOGIN_ID=None)
    for _ in range(40):
        assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200


@pytest.mark.sdk
@pytest.mark.django_db(transaction=True)
def test_python_sdk_raises_rate_limit_exception_with_retry_after(live_server, limits, outbox):
    sdk = pytest.importorskip("descope", reason="the descope SDK is not installed")
    DeliveryMethod, DescopeClient, RateLimitException = sdk.DeliveryMethod, sdk.DescopeClient, sdk.RateLimitException
    limits(RESEND_COOLDOWN=60)
    client = DescopeClient(project_id=PROJECT_ID, base_url=live_server.url)
    uri = "https://app.example.com/verify"
    assert client.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "ada@example.com", uri) == "a***@example.com"
    with pytest.raises(RateLimitException) as raised:
        client.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "ada@example.com", uri)
    assert raised.value.error_type == "API rate limit exceeded"
    assert raised.value.status_code == "E062702"
    assert 1 <= raised.value.rate_limit_parameters["Retry-After"] <= 60


def test_the_cache_holds_no_address(api, limits):
    import hashlib

    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    if not isinstance(cache, LocMemCache):
        pytest.skip("reads the keys of a LocMemCache")
    limits(RESEND_COOLDOWN=60)
    api.post(SIGNUP_IN, {"loginId": "ada@example.com"})
    keys = " ".join(cache._cache)
    assert ":login_id:" in keys
    assert "ada" not in keys and hashlib.sha256(b"ada@example.com").hexdigest()[:40] not in keys


UPDATE_EMAIL = "/v1/auth/magiclink/update/email"


def test_one_session_is_no_relay_for_mail_to_addresses_of_its_choosing(api, limits, outbox, signed_up):
    """The red team sent 45 of 45 update/email calls from one session to arbitrary addresses."""
    limits(UPDATE_RATE_PER_SESSION="5/hour", UPDATE_RATE_PER_IP="100/hour")
    refresh = signed_up("mallory@example.com")["refreshJwt"]
    sent = len(outbox)
    answers = [
        api.post(UPDATE_EMAIL, {"loginId": "mallory@example.com", "email": f"victim{n}@example.net"}, refresh=refresh)
        for n in range(45)
    ]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 40
    assert_limited(answers[-1], "E062712", at_most=3600)
    assert len(outbox) - sent == 5


def test_many_sessions_from_one_ip_share_the_update_limit(api, limits, outbox, signed_up):
    limits(UPDATE_RATE_PER_SESSION="5/hour", UPDATE_RATE_PER_IP="6/hour")
    sessions = [signed_up(f"mallory{n}@example.com")["refreshJwt"] for n in range(3)]
    answers = [
        api.post(UPDATE_EMAIL, {"loginId": f"mallory{n % 3}@example.com", "email": f"v{n}@example.net"},
                 refresh=sessions[n % 3])
        for n in range(9)
    ]
    assert [a.status_code for a in answers] == [200] * 6 + [429] * 3
    assert_limited(answers[-1], "E062713", at_most=3600)
