"""The official Python SDK (descope 2.16.0) against a live server: update email / phone, step-up, MFA,
custom claims and revokeOtherSessions, including each refusal's error code."""

import json

import pytest
import requests

from magiclink_auth.models import AccountMerge, Profile
from tests.conftest import PROJECT_ID, token_of

pytest.importorskip("descope", reason="the descope SDK is not installed (the [test] extra installs it)")
from descope import AuthException, DeliveryMethod, DescopeClient, LoginOptions

pytestmark = pytest.mark.django_db(transaction=True)

URI = "http://localhost/done"
PHONE = "+14155552671"


@pytest.fixture
def sdk(live_server, settings, outbox):
    """A Descope client pointed at the live server (a local fixture: the shared one may differ)."""
    settings.MAGICLINK_AUTH = {
        **settings.MAGICLINK_AUTH,
        "REDIRECT_URLS": [*settings.MAGICLINK_AUTH["REDIRECT_URLS"], f"{live_server.url}/"],
    }
    return DescopeClient(project_id=PROJECT_ID, base_url=live_server.url)


def code_of(excinfo) -> tuple[int, str]:
    return excinfo.value.status_code, json.loads(excinfo.value.error_message)["errorCode"]


def verify_last(sdk, outbox) -> dict:
    return sdk.magiclink.verify(token_of(outbox[-1]))


def verify_update(live_server, outbox, refresh: str, code: str = "") -> dict:
    """An update link acts for the session that asked, so its verify must show that session (its refresh
    JWT) or the number: the SDK's ``verify(token)`` sends neither, so this is the same call over HTTP."""
    body = {"token": token_of(outbox[-1]), **({"code": code} if code else {})}
    response = requests.post(f"{live_server.url}/v1/auth/magiclink/verify", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {PROJECT_ID}:{refresh}"})
    assert response.status_code == 200, response.text
    return response.json()


def session_claims(response: dict) -> dict:
    return response["sessionToken"]


def refresh_of(response: dict) -> str:
    return response["refreshSessionToken"]["jwt"]


@pytest.fixture
def ada(sdk, outbox):
    sdk.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "ada@example.com", URI)
    return verify_last(sdk, outbox)


def test_update_user_email_and_verify(sdk, live_server, outbox, ada):
    masked = sdk.magiclink.update_user_email(
        "ada@example.com",
        "ada.new@example.com",
        refresh_of(ada),
        add_to_login_ids=True,
        template_options={"x": "y"},
    )
    assert masked == "a***@example.com" and outbox[-1].recipient == "ada.new@example.com"
    with pytest.raises(AuthException) as unproven:
        verify_last(sdk, outbox)
    assert code_of(unproven) == (403, "E062901")
    user = verify_update(live_server, outbox, refresh_of(ada))["user"]
    assert user["email"] == "ada.new@example.com" and user["verifiedEmail"] is True
    assert user["loginIds"] == ["ada@example.com", "ada.new@example.com"]
    assert (outbox[-1].recipient, outbox[-1].purpose) == ("ada@example.com", "email_changed")


def test_update_user_phone_and_verify(sdk, live_server, outbox, ada):
    masked = sdk.magiclink.update_user_phone(DeliveryMethod.SMS, "ada@example.com", PHONE, refresh_of(ada))
    assert masked == "+*******2671" and outbox[-1].recipient == PHONE
    user = verify_update(live_server, outbox, refresh_of(ada))["user"]
    assert (
        user["phone"] == PHONE and user["verifiedPhone"] is True and user["loginIds"] == ["ada@example.com"]
    )


def test_update_refusals(sdk, outbox, ada):
    sdk.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "bob@example.com", URI)
    verify_last(sdk, outbox)
    with pytest.raises(AuthException) as taken:
        sdk.magiclink.update_user_email("ada@example.com", "bob@example.com", refresh_of(ada))
    assert code_of(taken) == (409, "E062110")
    with pytest.raises(AuthException) as not_yours:
        sdk.magiclink.update_user_email("bob@example.com", "x@example.com", refresh_of(ada))
    assert code_of(not_yours) == (403, "E062111")
    with pytest.raises(AuthException) as bad_refresh:
        sdk.magiclink.update_user_email("ada@example.com", "x@example.com", "a.b.c")
    assert code_of(bad_refresh) == (401, "E061302")
    Profile.objects.filter(email="ada@example.com").update(status=Profile.Status.DISABLED)
    with pytest.raises(AuthException) as disabled:
        sdk.magiclink.update_user_email("ada@example.com", "x@example.com", refresh_of(ada))
    assert code_of(disabled) == (403, "E062109")


def test_update_with_merge_into_the_existing_user(sdk, live_server, outbox, ada):
    sdk.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "bob@example.com", URI)
    bob = verify_last(sdk, outbox)
    # The SDK answers only the masked address; the number is in the HTTP answer (`code`).
    answer = requests.post(
        f"{live_server.url}/v1/auth/magiclink/update/email", timeout=10,
        json={"loginId": "ada@example.com", "email": "bob@example.com", "onMergeUseExisting": True},
        headers={"Authorization": f"Bearer {PROJECT_ID}:{refresh_of(ada)}"},
    ).json()
    # The owner of the account it joins confirms, signed in, with the number.
    merged = verify_update(live_server, outbox, refresh_of(bob), answer["code"])
    assert merged["user"]["userId"] == bob["user"]["userId"]
    assert sorted(merged["user"]["loginIds"]) == ["ada@example.com", "bob@example.com"]
    assert str(AccountMerge.objects.get().merged_user_id) == ada["user"]["userId"]
    with pytest.raises(AuthException) as revoked:
        sdk.refresh_session(refresh_of(ada))
    assert code_of(revoked) == (401, "E061303")


def test_stale_link_after_an_update(sdk, live_server, outbox, ada):
    sdk.magiclink.sign_in(DeliveryMethod.EMAIL, "ada@example.com", URI)
    old = token_of(outbox[-1])
    sdk.magiclink.update_user_email("ada@example.com", "ada.new@example.com", refresh_of(ada))
    verify_update(live_server, outbox, refresh_of(ada))
    with pytest.raises(AuthException) as stale:
        sdk.magiclink.verify(old)
    assert code_of(stale) == (401, "E062507")


@pytest.mark.parametrize("option, su", [("stepup", True), ("mfa", None)])
def test_step_up_or_mfa_with_the_refresh_token_adds_the_factor(sdk, live_server, outbox, ada, option, su):
    sdk.magiclink.update_user_phone(
        DeliveryMethod.SMS, "ada@example.com", PHONE, refresh_of(ada), add_to_login_ids=True
    )
    verify_update(live_server, outbox, refresh_of(ada))
    sdk.magiclink.sign_in(DeliveryMethod.SMS, PHONE, URI, LoginOptions(**{option: True}), refresh_of(ada))
    claims = session_claims(verify_last(sdk, outbox))
    assert claims.get("su") is su and claims["amr"] == ["email", "sms"]


def test_step_up_refusals(sdk, outbox, ada):
    sdk.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "bob@example.com", URI)
    bob = verify_last(sdk, outbox)
    with pytest.raises(AuthException) as other_user:
        sdk.magiclink.sign_in(
            DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(stepup=True), refresh_of(bob)
        )
    assert code_of(other_user) == (403, "E062802")
    with pytest.raises(AuthException) as factor_present:
        sdk.magiclink.sign_in(
            DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(mfa=True), refresh_of(ada)
        )
    assert code_of(factor_present) == (409, "E062803")
    # The SDK itself refuses a step-up without a refresh token; the server does too (see test_elevation).
    with pytest.raises(AuthException) as none:
        sdk.magiclink.sign_in(DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(stepup=True))
    assert none.value.status_code == 400


def test_custom_claims_reach_the_session_jwt(sdk, outbox, ada):
    sdk.magiclink.sign_in(
        DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(custom_claims={"plan": "pro", "seats": 3})
    )
    response = verify_last(sdk, outbox)
    claims = session_claims(response)
    # Under the one namespace claim, as Descope puts a client's claims; never at the top level.
    assert claims["nsec"] == {"plan": "pro", "seats": 3} and "plan" not in claims
    # The SDK's own validation (signature against /v2/keys) sees them too.
    assert sdk.validate_session(response["sessionToken"]["jwt"])["nsec"]["plan"] == "pro"


@pytest.mark.parametrize(
    "claims, code",
    [({"roles": ["admin"]}, "E062601"), ({"su": True}, "E062601"), ({"blob": "x" * 5000}, "E062602")],
)
def test_custom_claims_refusals(sdk, outbox, ada, claims, code):
    with pytest.raises(AuthException) as refused:
        sdk.magiclink.sign_in(
            DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(custom_claims=claims)
        )
    assert code_of(refused) == (400, code)


def test_revoke_other_sessions(sdk, outbox, ada):
    with pytest.raises(AuthException) as anonymous:
        sdk.magiclink.sign_in(
            DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(revoke_other_sessions=True)
        )
    assert code_of(anonymous) == (401, "E062905")
    sdk.magiclink.sign_in(
        DeliveryMethod.EMAIL, "ada@example.com", URI, LoginOptions(revoke_other_sessions=True), refresh_of(ada)
    )
    fresh = verify_last(sdk, outbox)
    with pytest.raises(AuthException) as revoked:
        sdk.refresh_session(refresh_of(ada))
    assert code_of(revoked) == (401, "E061303")
    assert sdk.refresh_session(refresh_of(fresh))["sessionToken"]["sub"] == ada["user"]["userId"]


def test_locale_and_template_through_the_sdk(sdk, outbox, ada):
    sdk.magiclink.sign_in(
        DeliveryMethod.EMAIL,
        "ada@example.com",
        URI,
        LoginOptions(locale="fr", template_id="promo", template_options={"product": "Acme"}),
    )
    message = outbox[-1]
    assert (message.locale, message.template_id, message.context["options"]) == (
        "fr",
        "promo",
        {"product": "Acme"},
    )
