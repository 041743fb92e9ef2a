"""Step-up, MFA, custom claims, revokeOtherSessions, and the roles / permissions / tenants claims (HTTP)."""

import jwt as pyjwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from magiclink_auth.adapter import DefaultAdapter
from magiclink_auth.jwts import RESERVED_CLAIMS
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

VERIFY = "/v1/auth/magiclink/verify"
SIGN_IN = "/v1/auth/magiclink/signin/{}"
PHONE = "+14155552671"


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def sign_in(api, login_id="ada@example.com", method="email", refresh=None, **options):
    return api.post(SIGN_IN.format(method), {"loginId": login_id, "loginOptions": options}, refresh=refresh)


def verify_last(api, outbox):
    return api.post(VERIFY, {"token": token_of(outbox[-1])})


@pytest.fixture
def with_phone(api, outbox, signed_up):
    """A user with an email and a phone login ID, signed in by email: returns the verify JSON."""
    body = signed_up()
    api.post(
        "/v1/auth/magiclink/update/phone",
        {"loginId": "ada@example.com", "phone": PHONE, "addToLoginIDs": True},
        refresh=body["refreshJwt"],
    )
    api.post(VERIFY, {"token": token_of(outbox[-1])}, refresh=body["refreshJwt"])
    return body


def test_step_up_adds_the_method_and_su(api, outbox, with_phone):
    response = sign_in(api, PHONE, "sms", refresh=with_phone["refreshJwt"], stepup=True)
    assert response.status_code == 200
    claims = claims_of(verify_last(api, outbox).json()["sessionJwt"])
    assert claims["su"] is True and claims["amr"] == ["email", "sms"]
    assert claims["sub"] == with_phone["user"]["userId"]


def test_step_up_with_the_same_method_keeps_amr_and_sets_su(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    sign_in(api, refresh=refresh, stepup=True)
    claims = claims_of(verify_last(api, outbox).json()["sessionJwt"])
    assert claims["su"] is True and claims["amr"] == ["email"]


def test_su_survives_a_refresh_of_the_stepped_up_session(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    sign_in(api, refresh=refresh, stepup=True)
    stepped = verify_last(api, outbox).json()["refreshJwt"]
    refreshed = api.post("/v1/auth/refresh", {}, refresh=stepped).json()
    assert claims_of(refreshed["sessionJwt"])["su"] is True


def test_plain_sign_in_has_no_su(api, outbox, signed_up):
    assert "su" not in claims_of(signed_up()["sessionJwt"])


@pytest.mark.parametrize("option", ["stepup", "mfa"])
def test_step_up_or_mfa_without_a_refresh_jwt_is_refused(api, outbox, signed_up, option):
    signed_up()
    sent = len(outbox)
    assert error_of(sign_in(api, **{option: True})) == (401, "E062801")
    assert error_of(
        api.post(
            "/v1/auth/magiclink/signup-in/email",
            {"loginId": "ada@example.com", "loginOptions": {option: True}},
        )
    ) == (401, "E062801")
    assert len(outbox) == sent


@pytest.mark.parametrize("option", ["stepup", "mfa"])
def test_step_up_or_mfa_with_another_users_refresh_jwt_is_refused(api, outbox, signed_up, option):
    bob = signed_up("bob@example.com")
    signed_up()
    assert error_of(sign_in(api, refresh=bob["refreshJwt"], **{option: True})) == (403, "E062802")


def test_step_up_with_a_revoked_session_is_refused(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    api.post("/v1/auth/logout", {}, refresh=refresh)
    assert error_of(sign_in(api, refresh=refresh, stepup=True)) == (401, "E061303")


def test_step_up_link_is_refused_once_the_session_ended(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    sign_in(api, refresh=refresh, stepup=True)
    api.post("/v1/auth/logout", {}, refresh=refresh)
    assert error_of(verify_last(api, outbox)) == (401, "E061303")


def test_step_up_of_an_unknown_login_id_is_refused_as_another_users_is(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    response = api.post(
        "/v1/auth/magiclink/signup-in/email",
        {"loginId": "new@example.com", "loginOptions": {"stepup": True}},
        refresh=refresh,
    )
    assert error_of(response) == (403, "E062802")


def test_mfa_adds_the_second_factor(api, outbox, with_phone):
    sign_in(api, PHONE, "sms", refresh=with_phone["refreshJwt"], mfa=True)
    claims = claims_of(verify_last(api, outbox).json()["sessionJwt"])
    assert claims["amr"] == ["email", "sms"] and "su" not in claims


def test_mfa_with_a_factor_the_session_has_is_refused(api, outbox, signed_up):
    refresh = signed_up()["refreshJwt"]
    assert error_of(sign_in(api, refresh=refresh, mfa=True)) == (409, "E062803")


def test_custom_claims_reach_session_jwt_not_refresh_jwt(api, outbox, signed_up):
    signed_up()
    sign_in(api, customClaims={"plan": "pro", "nested": {"a": [1, 2]}})
    body = verify_last(api, outbox).json()
    assert claims_of(body["sessionJwt"])["nsec"] == {"plan": "pro", "nested": {"a": [1, 2]}}
    assert "nsec" not in claims_of(body["refreshJwt"])


@pytest.mark.parametrize("claim", sorted(RESERVED_CLAIMS))
def test_reserved_claims_cannot_be_set(api, outbox, signed_up, claim):
    signed_up()
    sent = len(outbox)
    assert error_of(sign_in(api, customClaims={claim: "x"})) == (400, "E062601")
    assert len(outbox) == sent


def test_the_reserved_list_is_the_documented_one():
    documented = {
        "iss",
        "sub",
        "exp",
        "iat",
        "nbf",
        "aud",
        "drn",
        "amr",
        "su",
        "roles",
        "permissions",
        "tenants",
    }
    assert documented <= RESERVED_CLAIMS


def test_custom_claims_over_4_kb_are_refused(api, outbox, signed_up):
    signed_up()
    assert error_of(sign_in(api, customClaims={"blob": "x" * 4100})) == (400, "E062602")
    assert sign_in(api, customClaims={"blob": "x" * 4000}).status_code == 200


def test_custom_claims_must_be_an_object(api, outbox, signed_up):
    signed_up()
    assert error_of(sign_in(api, customClaims=["a"])) == (400, "E011004")


def test_revoke_other_sessions_at_verify(api, outbox, signed_up):
    first = signed_up()["refreshJwt"]
    sign_in(api)
    second = verify_last(api, outbox).json()["refreshJwt"]
    sign_in(api, refresh=second, revokeOtherSessions=True)
    third = verify_last(api, outbox).json()["refreshJwt"]
    for old in (first, second):
        assert error_of(api.post("/v1/auth/refresh", {}, refresh=old)) == (401, "E061303")
    assert api.post("/v1/auth/refresh", {}, refresh=third).status_code == 200


def test_without_revoke_other_sessions_they_stay(api, outbox, signed_up):
    first = signed_up()["refreshJwt"]
    sign_in(api, revokeOtherSessions=False)
    verify_last(api, outbox)
    assert api.post("/v1/auth/refresh", {}, refresh=first).status_code == 200


def test_roles_and_permissions_come_from_django_groups_and_permissions(api, outbox, signed_up):
    signed_up()
    user = get_user_model().objects.get()
    editors = Group.objects.create(name="editors")
    editors.permissions.add(Permission.objects.get(codename="change_group"))
    user.groups.add(editors)
    user.user_permissions.add(Permission.objects.get(codename="view_permission"))
    sign_in(api)
    body = verify_last(api, outbox).json()
    claims = claims_of(body["sessionJwt"])
    assert claims["roles"] == ["editors"]
    assert claims["permissions"] == ["auth.change_group", "auth.view_permission"]
    assert body["user"]["roleNames"] == ["editors"]


def test_a_user_in_no_group_keeps_their_own_permissions_and_a_superuser_all(api, outbox, signed_up):
    """The adapter skips the group-permission query for a user in no group (adapter.py): only that one."""
    signed_up()
    user = get_user_model().objects.get()
    user.user_permissions.add(Permission.objects.get(codename="view_permission"))
    sign_in(api)
    claims = claims_of(verify_last(api, outbox).json()["sessionJwt"])
    assert (claims["roles"], claims["permissions"]) == ([], ["auth.view_permission"])
    get_user_model().objects.filter(pk=user.pk).update(is_superuser=True)
    sign_in(api)
    claims = claims_of(verify_last(api, outbox).json()["sessionJwt"])
    assert claims["roles"] == []
    assert {"auth.change_group", "auth.view_permission", "magiclink_auth.view_pendinglink"} <= set(
        claims["permissions"]
    )


def tenants_of(user):
    return {"t1": {"roles": ["admin"], "permissions": ["billing"]}}


class SiteAdapter(DefaultAdapter):
    def get_roles(self, user):
        return ["from-the-site"]


def test_tenants_come_from_the_configured_provider(api, outbox, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "TENANTS_PROVIDER": f"{__name__}.tenants_of"}
    body = signed_up()
    assert claims_of(body["sessionJwt"])["tenants"] == tenants_of(None)
    assert body["user"]["userTenants"] == [{"tenantId": "t1", "roleNames": ["admin"]}]


def test_an_adapter_replaces_the_roles(api, outbox, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "ADAPTER": f"{__name__}.SiteAdapter"}
    body = signed_up()
    assert claims_of(body["sessionJwt"])["roles"] == ["from-the-site"]
    assert body["user"]["roleNames"] == ["from-the-site"]
