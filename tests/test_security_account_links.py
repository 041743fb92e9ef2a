"""Account takeover with one click on a genuine mail: the merge (finding 2) and the pre-hijack (finding 3).

The attacker knows only the victim's address and has an account of their own. Each test does what the red
team did and shows the attacker now gets nothing: no login ID in the victim's account, no address in the
attacker's, no session for anyone, through the API, the Python SDK and the landing page.
"""

from __future__ import annotations

import pytest
from django.test import Client

from magiclink_auth.models import AccountMerge, LoginId, PendingLink

from .conftest import token_of
from .web_helpers import LANDING, ask_for_link, confirm, confirm_with_number, link_path, token_in

pytestmark = pytest.mark.django_db

VERIFY = "/v1/auth/magiclink/verify"
UPDATE_EMAIL = "/v1/auth/magiclink/update/email"
SIGN_IN = "/v1/auth/magiclink/signin/email"
LANDING_URI = "https://app.example.com/auth/link/"


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def attack_update(api, attacker: dict, victim_address: str, **options) -> dict:
    """The attacker, signed in to their own account, asks to update their email to the victim's address."""
    body = {"loginId": "mallory@example.com", "email": victim_address, "URI": LANDING_URI, **options}
    response = api.post(UPDATE_EMAIL, body, refresh=attacker["refreshJwt"])
    assert response.status_code == 200, response.content
    return response.json()


def sign_in_browser(client: Client, address: str, outbox) -> None:
    """A person signs in to their own account in this browser, through the sign-in pages."""
    ask_for_link(client, address)
    assert confirm(client, token_in(outbox[-1])).status_code == 303


def account_of(api, outbox, address: str) -> str:
    """Whose account a fresh sign-in with ``address`` lands in."""
    api.post(SIGN_IN, {"loginId": address})
    return api.post(VERIFY, {"token": token_of(outbox[-1])}).json()["user"]["userId"]


# Finding 2: merge takeover ------------------------------------------------------------------------------


@pytest.fixture
def merge_attack(api, outbox, signed_up):
    victim = signed_up("victim@example.com")
    attacker = signed_up("mallory@example.com")
    answer = attack_update(api, attacker, "victim@example.com", onMergeUseExisting=True)
    return {"victim": victim, "attacker": attacker, "code": answer["code"], "token": token_of(outbox[-1])}


def test_merge_link_verified_by_the_victims_click_through_the_api_merges_nothing(api, outbox, merge_attack):
    assert outbox[-1].recipient == "victim@example.com"
    clicked = api.post(VERIFY, {"token": merge_attack["token"]})
    assert error_of(clicked) == (403, "E062904")
    # Even with the number (given away by a fooled victim), only the owner signed in can confirm.
    with_code = api.post(VERIFY, {"token": merge_attack["token"], "code": merge_attack["code"]})
    assert error_of(with_code) == (403, "E062904")
    attacker_signed = api.post(VERIFY, {"token": merge_attack["token"], "code": merge_attack["code"]},
                               refresh=merge_attack["attacker"]["refreshJwt"])
    assert error_of(attacker_signed) == (403, "E062904")
    assert not AccountMerge.objects.exists()
    assert account_of(api, outbox, "mallory@example.com") == merge_attack["attacker"]["user"]["userId"]


def test_the_victim_signed_in_still_needs_the_number_they_do_not_have(api, outbox, merge_attack):
    owner = merge_attack["victim"]["refreshJwt"]
    refused = api.post(VERIFY, {"token": merge_attack["token"]}, refresh=owner)
    assert error_of(refused) == (403, "E062901")
    assert not AccountMerge.objects.exists()


def test_the_merge_landing_page_tells_a_signed_out_victim_to_sign_in_and_offers_no_button(outbox, merge_attack):
    victim = Client()
    page = victim.get(link_path(outbox[-1]))
    assert page.status_code == 200 and b"form.submit()" not in page.content
    assert b"m***@example.com" in page.content and b"v***@example.com" in page.content
    assert b'id="sign-in-first"' in page.content and b'id="confirm-button"' not in page.content
    forced = confirm_with_number(victim, merge_attack["token"], merge_attack["code"])
    assert forced.status_code == 403 and "DS" not in forced.cookies
    assert not AccountMerge.objects.exists() and PendingLink.objects.get(purpose="update_email").consumed_at is None


def test_the_merge_landing_page_signed_in_as_the_owner_asks_for_the_number(api, outbox, signed_up):
    client = Client()  # the victim's browser (``api`` has a cookie jar of its own)
    sign_in_browser(client, "victim@example.com", outbox)
    attacker = signed_up("mallory@example.com")
    answer = attack_update(api, attacker, "victim@example.com", onMergeUseExisting=True)
    page = client.get(link_path(outbox[-1]))
    assert b'name="number"' in page.content and b"form.submit()" not in page.content
    assert b"signs in to the account v***@example.com" in page.content
    clicked = confirm(client, token_in(outbox[-1]))
    assert clicked.status_code == 403 and b'id="number-error"' in clicked.content
    assert not AccountMerge.objects.exists()
    # The legitimate owner of both accounts has the number: then, and only then, the merge happens.
    merged = confirm_with_number(client, token_in(outbox[-1]), answer["code"])
    assert merged.status_code == 303 and AccountMerge.objects.count() == 1


def test_the_merge_mail_says_which_account_asks_to_join(api, outbox, merge_attack):
    message = outbox[-1]
    assert (message.context["joins"], message.context["merge"]) == ("m***@example.com", True)


# Finding 3: pre-hijack ----------------------------------------------------------------------------------


@pytest.fixture
def prehijack(api, outbox, signed_up):
    attacker = signed_up("mallory@example.com")
    answer = attack_update(api, attacker, "victim@example.com", addToLoginIDs=True)
    return {"attacker": attacker, "code": answer["code"], "token": token_of(outbox[-1])}


def test_pre_hijack_link_clicked_through_the_api_adds_nothing(api, outbox, prehijack):
    clicked = api.post(VERIFY, {"token": prehijack["token"]})
    assert error_of(clicked) == (403, "E062901")
    assert not LoginId.objects.filter(value="victim@example.com").exists()
    # The victim's own sign-up later makes the victim's own account.
    api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "victim@example.com"})
    mine = api.post(VERIFY, {"token": token_of(outbox[-1])}).json()["user"]["userId"]
    assert mine != prehijack["attacker"]["user"]["userId"]


def test_pre_hijack_landing_page_says_which_account_it_joins_and_asks_for_the_number(outbox, prehijack):
    victim = Client()
    page = victim.get(link_path(outbox[-1]))
    assert b"v***@example.com" in page.content and b"m***@example.com" in page.content
    assert b"to the account" in page.content and b'name="number"' not in page.content  # posts back first
    review = victim.post(LANDING, {"t": prehijack["token"], "action": "review"})
    assert b'name="number"' in review.content and b"form.submit()" not in review.content
    clicked = confirm(victim, prehijack["token"])
    assert clicked.status_code == 403 and "DS" not in clicked.cookies
    assert not LoginId.objects.filter(value="victim@example.com").exists()
    assert PendingLink.objects.get(purpose="update_email").consumed_at is None


def test_pre_hijack_through_the_python_sdk_is_refused(descope, outbox, api, signed_up):
    from descope import AuthException

    attacker = signed_up("mallory@example.com")
    descope.magiclink.update_user_email("mallory@example.com", "victim@example.com", attacker["refreshJwt"],
                                        add_to_login_ids=True)
    with pytest.raises(AuthException) as refused:
        descope.magiclink.verify(token_of(outbox[-1]))
    assert refused.value.status_code == 403 and "E062901" in refused.value.error_message
    assert not LoginId.objects.filter(value="victim@example.com").exists()


def test_the_requester_opening_the_link_in_their_own_signed_in_browser_needs_no_number(outbox, api):
    client = Client()
    sign_in_browser(client, "mallory@example.com", outbox)
    refresh = client.cookies["DSR"].value
    api.post(UPDATE_EMAIL, {"loginId": "mallory@example.com", "email": "m.new@example.com", "URI": LANDING_URI,
                            "addToLoginIDs": True}, refresh=refresh)
    page = client.get(link_path(outbox[-1]))
    assert b"form.submit()" in page.content and b'name="number"' not in page.content
    assert confirm(client, token_in(outbox[-1])).status_code == 303
    assert LoginId.objects.get(value="m.new@example.com").user.login_ids.filter(value="mallory@example.com")


def test_the_requester_on_another_device_types_the_number(outbox, api, signed_up):
    mallory = signed_up("mallory@example.com")
    answer = attack_update(api, mallory, "m.new@example.com", addToLoginIDs=True)
    phone = Client()
    done = confirm_with_number(phone, token_of(outbox[-1]), answer["code"])
    assert done.status_code == 303
    assert str(LoginId.objects.get(value="m.new@example.com").user_id) == mallory["user"]["userId"]


# Finding 6, second half: update to a taken address ------------------------------------------------------


def test_update_to_a_taken_address_answers_like_success_and_tells_the_owner(api, outbox, signed_up, limits):
    limits(ENUMERATION_SAFE=True)
    signed_up("victim@example.com")
    attacker = signed_up("mallory@example.com")
    before = len(outbox)
    taken = api.post(UPDATE_EMAIL, {"loginId": "mallory@example.com", "email": "victim@example.com"},
                     refresh=attacker["refreshJwt"])
    sent = len(outbox)
    free = api.post(UPDATE_EMAIL, {"loginId": "mallory@example.com", "email": "vicky@example.com"},
                    refresh=attacker["refreshJwt"])
    assert (taken.status_code, sorted(taken.json())) == (free.status_code, sorted(free.json())) == (
        200, ["code", "maskedEmail"])
    notice = outbox[sent - 1]
    assert (notice.recipient, notice.purpose, notice.url) == ("victim@example.com", "address_claimed", "")
    assert notice.context["joins"] == "m***@example.com"
    links_to_victim = PendingLink.objects.filter(target="victim@example.com", purpose="update_email")
    assert [link.voided_at is not None for link in links_to_victim] == [True]
    assert [m.url for m in outbox[before:] if m.recipient == "victim@example.com"] == [""]
