"""Users who existed before the app (``createsuperuser``, the site's own sign-up) sign in by the address on
their user row, into their own account: through the API, the official SDK and the sign-in page."""

from __future__ import annotations

import pytest
from descope import DeliveryMethod
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import call_command

from magiclink_auth.models import LoginId
from tests.conftest import token_of
from tests.web_helpers import ask_for_link, confirm, link_path

pytestmark = pytest.mark.django_db

URI = "https://app.example.com/welcome"


def site_user(email: str, *, username: str = "", **extra):
    """A user made the way the site made them before the app: a row, a password, no login ID."""
    User = get_user_model()
    fields = {User.get_email_field_name(): email, **extra}
    if User.USERNAME_FIELD != User.get_email_field_name():
        fields[User.USERNAME_FIELD] = username or email.split("@")[0].lower()
    return User._default_manager.create_user(password="site-password-1", **fields)


def superuser(email: str):
    User = get_user_model()
    options = {User.USERNAME_FIELD: "root", "email": email}
    call_command("createsuperuser", interactive=False, verbosity=0, **options)
    return User._default_manager.get(**{f"{User.get_email_field_name()}__iexact": email})


def users_with(email: str) -> int:
    User = get_user_model()
    return User._default_manager.filter(**{f"{User.get_email_field_name()}__iexact": email}).count()


@pytest.mark.parametrize("start", ["signin", "signup-in"])
def test_an_existing_user_signs_in_by_the_address_on_their_row_in_any_case(api, outbox, start):
    user = site_user("Ada.Lovelace@Example.com")
    response = api.post(f"/v1/auth/magiclink/{start}/email", {"loginId": "ADA.LOVELACE@example.COM", "URI": URI})
    assert response.status_code == 200, response.content
    assert response.json() == {"maskedEmail": "A***@example.com"}
    assert outbox[-1].recipient == "Ada.Lovelace@example.com"  # as the site stored it (Django lowers domains)

    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert verified["user"]["userId"] == str(user.pk)
    assert verified["user"]["loginIds"] == ["ada.lovelace@example.com"]
    assert LoginId.objects.get(user=user).verified
    assert users_with("ada.lovelace@example.com") == 1
    user.refresh_from_db()
    assert user.check_password("site-password-1"), "the site's own login keeps working"


def test_a_sign_up_of_an_existing_users_address_is_a_known_user(api, outbox):
    site_user("grace@example.com")
    response = api.post("/v1/auth/magiclink/signup/email", {"loginId": "Grace@example.com", "URI": URI})
    assert response.status_code == 409 and response.json()["errorCode"] == "E062107"


def test_a_sign_up_link_sent_before_the_site_made_the_user_signs_into_that_user(api, outbox):
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "hedy@example.com", "URI": URI})
    user = site_user("Hedy@example.com")
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert verified["user"]["userId"] == str(user.pk)
    assert users_with("hedy@example.com") == 1


def test_a_createsuperuser_superuser_signs_in_through_the_sdk_and_stays_staff(descope, outbox):
    admin = superuser("Root@Example.com")
    descope.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "root@EXAMPLE.com", URI)
    verified = descope.magiclink.verify(token_of(outbox[-1]))
    assert verified["userId"] == str(admin.pk)
    assert verified["firstSeen"] is True
    descope.magiclink.sign_in(DeliveryMethod.EMAIL, "ROOT@example.com", URI)
    again = descope.magiclink.verify(token_of(outbox[-1]))
    assert again["userId"] == str(admin.pk) and again["firstSeen"] is False
    admin.refresh_from_db()
    assert admin.is_staff and admin.is_superuser
    assert users_with("root@example.com") == 1


def test_a_createsuperuser_superuser_signs_in_on_the_sign_in_page_and_reaches_the_admin(client, outbox):
    admin = superuser("root@example.com")
    assert ask_for_link(client, "ROOT@Example.com").status_code == 303
    done = confirm(client, token_of(outbox[-1]))
    assert done.status_code == 303
    assert client.get("/auth/account/").context["user"].pk == admin.pk
    assert client.get("/admin/").status_code == 200
    assert users_with("root@example.com") == 1


def test_an_existing_user_signs_in_on_the_sign_in_page_into_their_own_account(client, outbox):
    user = site_user("Ada@Example.com")
    ask_for_link(client, "ada@example.com")
    page = client.get(link_path(outbox[-1]))
    assert page.status_code == 200
    confirm(client, token_of(outbox[-1]))
    account = client.get("/auth/account/")
    assert account.context["user"].pk == user.pk
    assert "ada@example.com" in account.content.decode()


def test_two_users_sharing_an_address_are_refused_with_their_own_code(api, outbox):
    site_user("twin@example.com", username="twin1")
    site_user("Twin@Example.com", username="twin2")
    for start in ("signin", "signup-in", "signup"):
        response = api.post(f"/v1/auth/magiclink/{start}/email", {"loginId": "twin@example.com", "URI": URI})
        assert response.status_code == 409
        assert response.json()["errorCode"] == "E062112"
    assert outbox == []
    assert LoginId.objects.count() == 0


def test_a_shared_address_answers_enumeration_safe_exactly_as_an_unknown_one(api, outbox, limits):
    limits(ENUMERATION_SAFE=True)
    api.client.cookies.clear()
    site_user("twin@example.com", username="twin1")
    site_user("TWIN@example.com", username="twin2")
    shared = api.post("/v1/auth/magiclink/signin/email", {"loginId": "twin@example.com", "URI": URI})
    known = site_user("solo@example.com")
    existing = api.post("/v1/auth/magiclink/signin/email", {"loginId": "solo@example.com", "URI": URI})
    assert known.pk
    assert shared.status_code == existing.status_code == 200
    assert shared.content.replace(b"t***", b"s***") == existing.content
    assert [m.recipient for m in outbox] == ["solo@example.com"]


def test_the_check_counts_addresses_shared_by_users_without_a_login_id(db):
    site_user("twin@example.com", username="twin1")
    site_user("Twin@example.com", username="twin2")
    site_user("pair@example.com", username="pair1")
    site_user("PAIR@example.com", username="pair2")
    site_user("solo@example.com")
    warnings = [m for m in run_checks(databases=["default"]) if m.id == "magiclink_auth.W112"]
    assert len(warnings) == 1 and warnings[0].msg.startswith("2 email address(es)")
    assert not [m for m in run_checks() if m.id == "magiclink_auth.W112"], "only with database checks"


def test_an_inactive_existing_user_is_refused_as_a_disabled_user(api, outbox):
    site_user("gone@example.com", is_active=False)
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "gone@example.com", "URI": URI})
    assert response.status_code == 403 and response.json()["errorCode"] == "E062109"
    assert outbox == [] and users_with("gone@example.com") == 1


def test_a_user_with_a_login_id_of_another_address_is_not_found_by_an_old_address(api, outbox, signed_up):
    """Their row may keep an address they gave up: only their login IDs lead to them."""
    signed_up("new@example.com")
    User = get_user_model()
    user = User._default_manager.get(login_ids__value="new@example.com")
    User._default_manager.filter(pk=user.pk).update(**{User.get_email_field_name(): "old@example.com"})
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "old@example.com", "URI": URI})
    assert response.json()["errorCode"] == "E062108"


def test_lookup_by_address_can_be_switched_off(api, outbox, limits):
    limits(LINK_EXISTING_USERS=False)
    site_user("ada@example.com")
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "ada@example.com", "URI": URI})
    assert response.json()["errorCode"] == "E062108"


@pytest.mark.skipif(not hasattr(get_user_model(), "phone"), reason="the user model has no phone field")
def test_an_existing_user_signs_in_by_the_phone_on_their_row(api, outbox):
    user = site_user("tel@example.com", phone="+1 415-555-2671")
    response = api.post("/v1/auth/magiclink/signin/sms", {"loginId": "+14155552671", "URI": URI})
    assert response.status_code == 200, response.content
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert verified["user"]["userId"] == str(user.pk)
    assert set(verified["user"]["loginIds"]) == {"+14155552671"}
