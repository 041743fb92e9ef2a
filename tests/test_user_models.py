"""The app works with any AUTH_USER_MODEL. CI runs the whole suite twice: with Django's own user, and with
``--ds=tests.custom_user.settings`` (UUID primary key, email as USERNAME_FIELD, no username)."""

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import token_of

pytestmark = pytest.mark.django_db


def test_user_id_is_the_users_primary_key(signed_up):
    body = signed_up("grace@example.com")
    user = get_user_model().objects.get(pk=body["user"]["userId"])
    assert user.get_username() == "grace@example.com"
    assert not user.has_usable_password()


def test_phone_sign_up_creates_a_user_without_an_email(api, outbox):
    api.post("/v1/auth/magiclink/signup/sms", {"loginId": "+14155550199", "user": {"name": "Grace"}})
    body = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    user = get_user_model().objects.get(pk=body["user"]["userId"])
    assert body["user"]["phone"] == "+14155550199" and body["user"]["email"] == ""
    assert user.get_username()  # something unique was chosen for USERNAME_FIELD


def test_two_phone_users_get_distinct_usernames(api, outbox):
    for number in ("+14155550101", "+14155550102"):
        api.post("/v1/auth/magiclink/signup/sms", {"loginId": number})
        assert api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).status_code == 200
    assert get_user_model().objects.count() == 2
