"""Update email / update phone through HTTP: the link to the new address, login IDs, merges, notices, and
the links a change or a disable outdates."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from magiclink_auth import signals
from magiclink_auth.models import AccountMerge, LoginId, PendingLink, Profile
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

VERIFY = "/v1/auth/magiclink/verify"
UPDATE_EMAIL = "/v1/auth/magiclink/update/email"
UPDATE_PHONE = "/v1/auth/magiclink/update/phone"
UPDATE_PHONE_SMS = "/v1/auth/magiclink/update/phone/sms"


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def update_email(api, refresh, email="ada.new@example.com", login_id="ada@example.com", **options):
    return api.post(UPDATE_EMAIL, {"loginId": login_id, "email": email, **options}, refresh=refresh)


def verify_last(api, outbox):
    return api.post(VERIFY, {"token": token_of(outbox[-1])})


def test_update_email_sends_the_link_to_the_new_address(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    response = update_email(api, refresh)
    assert response.status_code == 200 and response.json() == {"maskedEmail": "a***@example.com"}
    message = outbox[-1]
    assert (message.recipient, message.purpose, message.channel) == (
        "ada.new@example.com",
        "update_email",
        "email",
    )
    assert message.url.startswith("https://app.example.com/welcome?t=")


def test_verify_makes_the_new_email_the_verified_contact_but_not_a_login_id(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh, email="Ada.New@Example.com")
    body = verify_last(api, outbox).json()
    assert body["user"]["email"] == "ada.new@example.com" and body["user"]["verifiedEmail"] is True
    assert body["user"]["loginIds"] == ["ada@example.com"]
    # The Django user's email follows, unless it is the username (the custom user model's case).
    user = get_user_model().objects.get()
    expected = "ada@example.com" if user.USERNAME_FIELD == "email" else "ada.new@example.com"
    assert user.email == expected
    me = api.get("/v1/auth/me", refresh=body["refreshJwt"]).json()
    assert me["email"] == "ada.new@example.com"


def test_add_to_login_ids_lets_the_user_sign_in_with_the_new_email(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh, addToLoginIDs=True)
    body = verify_last(api, outbox).json()
    assert body["user"]["loginIds"] == ["ada@example.com", "ada.new@example.com"]
    assert api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada.new@example.com"}).status_code == 200
    assert verify_last(api, outbox).json()["user"]["userId"] == body["user"]["userId"]


def test_the_old_address_is_told_of_the_change(api, outbox, signed_up):
    refresh = signed_up(name="Ada")["refreshJwt"]
    update_email(api, refresh)
    verify_last(api, outbox)
    notice = outbox[-1]
    assert (notice.recipient, notice.purpose, notice.url) == ("ada@example.com", "email_changed", "")
    from magiclink_auth.delivery.base import render

    assert render(notice, "subject.txt") == "Your email address was changed"
    text = render(notice, "body.txt")
    assert "Hello Ada," in text and "a***@example.com" in text and "ada.new" not in text


def test_no_notice_when_the_site_turns_it_off(api, outbox, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "NOTIFY_OLD_ADDRESS": False}
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh)
    sent = len(outbox)
    verify_last(api, outbox)
    assert len(outbox) == sent


def test_update_needs_a_refresh_jwt(api, outbox, signed_up):
    signed_up()
    assert error_of(update_email(api, None)) == (401, "E061301")
    assert error_of(update_email(api, "a.b.c")) == (401, "E061302")


def test_update_of_a_revoked_session_is_refused(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    api.post("/v1/auth/logout", {}, refresh=refresh)
    assert error_of(update_email(api, refresh)) == (401, "E061303")


def test_update_of_another_users_login_id_is_refused(api, outbox, signed_up):
    signed_up("bob@example.com")
    refresh = signed_up()["refreshJwt"]
    assert error_of(update_email(api, refresh, login_id="bob@example.com")) == (403, "E062111")
    assert error_of(update_email(api, refresh, login_id="nobody@example.com")) == (403, "E062111")
    assert error_of(update_email(api, refresh, login_id="not an id")) == (403, "E062111")


def test_update_to_an_invalid_or_missing_address_is_refused(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    assert error_of(update_email(api, refresh, email="not-an-email")) == (400, "E062101")
    response = api.post(UPDATE_EMAIL, {"loginId": "ada@example.com"}, refresh=refresh)
    assert error_of(response) == (400, "E011002")
    response = api.post(UPDATE_PHONE, {"loginId": "ada@example.com", "phone": "12"}, refresh=refresh)
    assert error_of(response) == (400, "E062102")


def test_disabled_user_cannot_start_an_update(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    Profile.objects.update(status=Profile.Status.DISABLED)
    assert error_of(update_email(api, refresh)) == (403, "E062109")


def test_address_of_another_user_is_refused_at_start(api, outbox, signed_up):
    signed_up("bob@example.com")
    refresh = signed_up()["refreshJwt"]
    sent = len(outbox)
    assert error_of(update_email(api, refresh, email="BOB@example.com")) == (409, "E062110")
    assert len(outbox) == sent


def test_address_taken_after_the_link_was_sent_is_refused_at_verify(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh, email="bob@example.com")
    token = token_of(outbox[-1])
    signed_up("bob@example.com")
    assert error_of(api.post(VERIFY, {"token": token})) == (409, "E062110")


def test_verify_after_the_session_ended_is_refused(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh)
    api.post("/v1/auth/logout", {}, refresh=refresh)
    assert error_of(verify_last(api, outbox)) == (401, "E061303")
    assert Profile.objects.get().email == "ada@example.com"


@pytest.fixture
def merge_events():
    events = []

    def record(**kwargs):
        events.append(kwargs)

    signals.accounts_merged.connect(record)
    yield events
    signals.accounts_merged.disconnect(record)


def test_merge_into_the_existing_user_when_asked(api, outbox, signed_up, merge_events):
    bob = signed_up("bob@example.com", givenName="Bob")
    ada = signed_up(name="Ada Lovelace", givenName="Ada", familyName="Lovelace")
    Profile.objects.filter(user_id=bob["user"]["userId"]).update(custom_attributes={"plan": "pro", "a": 1})
    Profile.objects.filter(user_id=ada["user"]["userId"]).update(custom_attributes={"plan": "free", "b": 2})
    update_email(api, ada["refreshJwt"], email="bob@example.com", onMergeUseExisting=True)
    body = verify_last(api, outbox).json()
    user = body["user"]
    assert user["userId"] == bob["user"]["userId"]
    assert sorted(user["loginIds"]) == ["ada@example.com", "bob@example.com"]
    # The kept user's values win; its blanks are filled from the merged user.
    assert (user["givenName"], user["name"], user["familyName"]) == ("Bob", "Ada Lovelace", "Lovelace")
    assert user["customAttributes"] == {"plan": "pro", "a": 1, "b": 2}
    assert user["email"] == "bob@example.com" and user["verifiedEmail"] is True
    # The merged account's sessions end and it can no longer be used.
    assert error_of(api.post("/v1/auth/refresh", {}, refresh=ada["refreshJwt"])) == (401, "E061303")
    assert api.post("/v1/auth/refresh", {}, refresh=bob["refreshJwt"]).status_code == 200
    merged = get_user_model().objects.get(pk=ada["user"]["userId"])
    assert merged.is_active is False and merged.magiclink_profile.status == "disabled"
    # Signing in with the merged account's address now reaches the kept user.
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})
    assert verify_last(api, outbox).json()["user"]["userId"] == bob["user"]["userId"]
    record = AccountMerge.objects.get()
    assert (str(record.kept_user_id), str(record.merged_user_id)) == (
        bob["user"]["userId"],
        ada["user"]["userId"],
    )
    assert record.address == "bob@example.com" and record.moved_login_ids == ["ada@example.com"]
    assert record.link.purpose == "update_email"
    (event,) = merge_events
    assert event["merge"] == record and str(event["kept_user"].pk) == bob["user"]["userId"]


def test_merge_into_a_disabled_user_is_refused(api, outbox, signed_up):
    bob = signed_up("bob@example.com")
    ada = signed_up()
    update_email(api, ada["refreshJwt"], email="bob@example.com", onMergeUseExisting=True)
    Profile.objects.filter(user_id=bob["user"]["userId"]).update(status=Profile.Status.DISABLED)
    assert error_of(verify_last(api, outbox)) == (403, "E062109")
    assert not AccountMerge.objects.exists()


@pytest.mark.parametrize("path", [UPDATE_PHONE, UPDATE_PHONE_SMS])
def test_update_phone_on_both_paths(api, outbox, signed_up, path):
    refresh = signed_up()["refreshJwt"]
    response = api.post(
        path,
        {"loginId": "ada@example.com", "phone": "+1 (415) 555-2671", "addToLoginIDs": True},
        refresh=refresh,
    )
    assert response.status_code == 200 and response.json() == {"maskedPhone": "+*******2671"}
    message = outbox[-1]
    assert (message.recipient, message.channel, message.purpose) == ("+14155552671", "sms", "update_phone")
    user = verify_last(api, outbox).json()["user"]
    assert user["phone"] == "+14155552671" and user["verifiedPhone"] is True
    assert user["loginIds"] == ["ada@example.com", "+14155552671"]


def test_old_phone_is_told_of_the_change(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    api.post(UPDATE_PHONE, {"loginId": "ada@example.com", "phone": "+14155552671"}, refresh=refresh)
    verify_last(api, outbox)
    api.post(UPDATE_PHONE, {"loginId": "ada@example.com", "phone": "+14155550000"}, refresh=refresh)
    verify_last(api, outbox)
    notice = outbox[-1]
    assert (notice.recipient, notice.channel, notice.purpose) == ("+14155552671", "sms", "phone_changed")


def test_template_id_and_options_reach_the_update_message(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh, templateId="promo", templateOptions={"product": "Acme"})
    message = outbox[-1]
    assert message.template_id == "promo" and message.context["options"] == {"product": "Acme"}


def sign_in_token(api, outbox, login_id="ada@example.com"):
    assert api.post("/v1/auth/magiclink/signin/email", {"loginId": login_id}).status_code == 200
    return token_of(outbox[-1])


def test_a_link_made_before_the_contact_changed_is_refused(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    old_link = sign_in_token(api, outbox)
    update_email(api, refresh)
    verify_last(api, outbox)
    assert error_of(api.post(VERIFY, {"token": old_link})) == (401, "E062507")
    assert api.post(VERIFY, {"token": sign_in_token(api, outbox)}).status_code == 200


def test_a_second_pending_update_is_outdated_by_the_first_verified(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh, email="one@example.com")
    first = token_of(outbox[-1])
    update_email(api, refresh, email="two@example.com")
    second = token_of(outbox[-1])
    assert api.post(VERIFY, {"token": second}).status_code == 200
    assert error_of(api.post(VERIFY, {"token": first})) == (401, "E062507")


@pytest.mark.parametrize("how", ["status", "is_active"])
def test_a_link_made_before_a_disable_is_refused_after_re_enabling(api, outbox, signed_up, how):
    signed_up()
    old_link = sign_in_token(api, outbox)
    user = get_user_model().objects.get()
    profile = Profile.objects.get()
    if how == "status":
        profile.status = Profile.Status.DISABLED
        profile.save()
        assert error_of(api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com"})) == (
            403,
            "E062109",
        )
        profile.status = Profile.Status.ENABLED
        profile.save()
    else:
        user.is_active = False
        user.save()
        user.is_active = True
        user.save()
    assert error_of(api.post(VERIFY, {"token": old_link})) == (401, "E062507")
    assert api.post(VERIFY, {"token": sign_in_token(api, outbox)}).status_code == 200


def test_disabled_user_cannot_verify_an_update(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    update_email(api, refresh)
    Profile.objects.update(status=Profile.Status.DISABLED)
    assert error_of(verify_last(api, outbox)) == (403, "E062109")


def test_invited_user_becomes_enabled_on_first_verify(api, outbox, signed_up):
    signed_up()
    profile = Profile.objects.get()
    profile.status, profile.first_verified_at = Profile.Status.INVITED, None
    profile.save()
    body = api.post(VERIFY, {"token": sign_in_token(api, outbox)}).json()
    assert body["user"]["status"] == "enabled" and body["firstSeen"] is True


def test_an_update_link_is_not_a_sign_in_link_for_someone_else(api, outbox, signed_up):
    ada = signed_up()
    update_email(api, ada["refreshJwt"], email="new@example.com")
    body = verify_last(api, outbox).json()
    assert body["user"]["userId"] == ada["user"]["userId"]
    assert not LoginId.objects.filter(value="new@example.com").exists()
    assert PendingLink.objects.filter(purpose="update_email").get().consumed_at <= timezone.now() + timedelta(
        0
    )
