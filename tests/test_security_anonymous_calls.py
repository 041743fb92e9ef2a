"""What an anonymous caller (or one with a self-made account) could learn or shape through a start call:
findings 6 (enumeration through account options), 7 (claims and revocation in the victim's session),
14 (a disabled user told apart by the work done) and 16 (an attacker's name in genuine mail)."""

from __future__ import annotations

import re

import jwt as pyjwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from magiclink_auth.delivery.base import render
from magiclink_auth.models import PendingLink, Profile, RefreshSession

from .conftest import PROJECT_ID, sdk_refused, token_of

pytestmark = pytest.mark.django_db

SIGN_IN = "/v1/auth/magiclink/signin/email"
SIGN_UP = "/v1/auth/magiclink/signup/email"
SIGN_UP_IN = "/v1/auth/magiclink/signup-in/email"
VERIFY = "/v1/auth/magiclink/verify"


@pytest.fixture
def safe(limits):
    limits(ENUMERATION_SAFE=True)


def answer(response) -> tuple[int, str]:
    return response.status_code, response.json().get("errorCode", "")


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


# Finding 6: account-dependent options answer alike for known and unknown addresses -----------------------


@pytest.mark.parametrize("path", [SIGN_IN, SIGN_UP, SIGN_UP_IN])
@pytest.mark.parametrize("option", ["stepup", "mfa", "revokeOtherSessions"])
def test_account_options_answer_alike_for_a_registered_and_an_unknown_address(api, safe, signed_up, outbox,
                                                                              path, option):
    signed_up("victim@example.com")
    mine = signed_up("mallory@example.com")["refreshJwt"]
    sent = len(outbox)
    for refresh in (None, mine):
        known = api.post(path, {"loginId": "victim@example.com", "loginOptions": {option: True}}, refresh=refresh)
        unknown = api.post(path, {"loginId": "nobody@example.com", "loginOptions": {option: True}},
                           refresh=refresh)
        assert answer(known) == answer(unknown), (refresh is not None, known.content, unknown.content)
        assert known.status_code in (401, 403)
    assert len(outbox) == sent


# Finding 7: an anonymous call cannot shape the victim's session -----------------------------------------


def test_custom_claims_from_a_stranger_land_under_nsec_only(api, signed_up, outbox):
    signed_up("victim@example.com")
    forged = {"email": "mallory@example.com", "email_verified": True, "role": "admin", "scope": "admin",
              "acr": "urn:mace:incommon:iap:silver", "auth_time": 1}
    # The tenant the session acts for is chosen only through tenant/select: refused outright as a claim.
    refused = api.post(SIGN_IN, {"loginId": "victim@example.com", "loginOptions": {"customClaims": {"dct": "T1"}}})
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E062601"
    api.post(SIGN_IN, {"loginId": "victim@example.com", "loginOptions": {"customClaims": forged}})
    victims = api.post(VERIFY, {"token": token_of(outbox[-1])}).json()
    session = claims_of(victims["sessionJwt"])
    assert session["nsec"] == forged
    assert not set(forged) & set(session)


def test_custom_claims_under_nsec_through_the_python_sdk(descope, outbox, api):
    from descope import DeliveryMethod, LoginOptions

    descope.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "victim@example.com", "http://localhost/x")
    descope.magiclink.verify(token_of(outbox[-1]))
    descope.magiclink.sign_in(DeliveryMethod.EMAIL, "victim@example.com", "http://localhost/x",
                              LoginOptions(custom_claims={"role": "admin"}))
    session = descope.magiclink.verify(token_of(outbox[-1]))["sessionToken"]
    assert session["nsec"] == {"role": "admin"} and "role" not in session


def test_revoke_other_sessions_from_a_stranger_is_refused_and_logs_nobody_out(api, signed_up, outbox):
    victim = signed_up("victim@example.com")
    sent = len(outbox)
    stranger = api.post(SIGN_IN, {"loginId": "victim@example.com", "loginOptions": {"revokeOtherSessions": True}})
    assert stranger.status_code == 401 and stranger.json()["errorCode"] == "E062905"
    assert len(outbox) == sent
    assert api.post("/v1/auth/refresh", {}, refresh=victim["refreshJwt"]).status_code == 200


def test_revoke_other_sessions_from_a_stranger_through_the_python_sdk(descope, outbox, api):
    from descope import DeliveryMethod, LoginOptions

    descope.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, "victim@example.com", "http://localhost/x")
    descope.magiclink.verify(token_of(outbox[-1]))
    with sdk_refused(401, "E062905"):
        descope.magiclink.sign_in(DeliveryMethod.EMAIL, "victim@example.com", "http://localhost/x",
                                  LoginOptions(revoke_other_sessions=True))
    assert RefreshSession.objects.filter(revoked_at=None).count() == 1


# Finding 14: a disabled user's sign-in does the same work as an enabled user's ---------------------------


def test_a_disabled_users_sign_in_runs_the_same_statements_as_an_enabled_users(api, safe, signed_up, outbox):
    """Time is not asserted (bench/disabled_timing.py measures it); the work is, statement for statement."""
    signed_up("on@example.com")
    signed_up("off@example.com")
    Profile.objects.filter(user__login_ids__value="off@example.com").update(status=Profile.Status.DISABLED)
    kinds = {}
    for address in ("on@example.com", "off@example.com"):
        api.post(SIGN_IN, {"loginId": address})  # warm: both have had a link before
        # The request's own statements: delivery runs after the commit, in a worker (not run here).
        with CaptureQueriesContext(connection) as captured:
            response = api.client.post(SIGN_IN, {"loginId": address}, content_type="application/json",
                                       HTTP_AUTHORIZATION=f"Bearer {PROJECT_ID}")
        assert response.status_code == 200
        # The first words of each statement, its quoted values (the login ID's lock key) left out.
        kinds[address] = [" ".join(re.sub(r"'[^']*'", "?", query["sql"]).split()[:3])
                          for query in captured.captured_queries
                          if not query["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert kinds["on@example.com"] == kinds["off@example.com"]
    disabled_links = PendingLink.objects.filter(login_id="off@example.com", purpose="signin")
    assert all(link.voided_at and link.delivery_status == "failed" for link in disabled_links)
    assert not [m for m in outbox if m.recipient == "off@example.com" and m.purpose == "signin"]


# Finding 16: an attacker-chosen name never reaches an address that has not verified it -------------------


def test_a_name_given_at_sign_up_is_not_printed_in_the_mail_to_the_unverified_address(api, outbox):
    name = "Support team: call +1 555 0100 now"
    api.post(SIGN_UP, {"loginId": "victim@example.com", "user": {"name": name}})
    message = outbox[-1]
    assert message.context["name"] == ""
    assert "Support team" not in render(message, "body.txt") and "Support team" not in render(message, "body.html")


def test_the_name_of_a_verified_address_still_greets_its_owner(api, outbox, signed_up):
    signed_up("ada@example.com", name="Ada")
    api.post(SIGN_IN, {"loginId": "ada@example.com"})
    assert render(outbox[-1], "body.txt").startswith("Hello Ada,")


def test_an_update_link_to_a_new_address_carries_no_name(api, outbox, signed_up):
    refresh = signed_up("ada@example.com", name="Ada")["refreshJwt"]
    api.post("/v1/auth/magiclink/update/email", {"loginId": "ada@example.com", "email": "other@example.com"},
             refresh=refresh)
    assert outbox[-1].recipient == "other@example.com" and "Ada" not in render(outbox[-1], "body.txt")
