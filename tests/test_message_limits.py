"""The limits on messages per login ID: the resend cooldown holds only while the last link is unused, the
owner cannot be locked out by strangers, and one mailbox is one count however it is spelled."""

from __future__ import annotations

import pytest
from django.test import Client

from magiclink_auth.models import PendingLink

from .conftest import token_of
from .web_helpers import ask_for_link, confirm, token_in

pytestmark = pytest.mark.django_db

SIGNIN = "/v1/auth/magiclink/signin/email"
SIGNUP = "/v1/auth/magiclink/signup/email"
SIGNUP_IN = "/v1/auth/magiclink/signup-in/email"
VERIFY = "/v1/auth/magiclink/verify"
OWNER, STRANGER = "127.0.0.1", "10.6.6.6"


@pytest.fixture
def cooldown(limits):
    limits(RESEND_COOLDOWN=60)


def code(response) -> str:
    return response.json().get("errorCode", "") if response.status_code != 200 else ""


# The resend cooldown (issue: a person who signed up, clicked and signed in again within 60 s was refused).

def test_sign_in_right_after_a_used_link_succeeds(api, cooldown, outbox):
    assert api.post(SIGNUP, {"loginId": "ada@example.com"}).status_code == 200
    assert api.post(VERIFY, {"token": token_of(outbox[-1])}).status_code == 200
    again = api.post(SIGNIN, {"loginId": "ada@example.com"})
    assert again.status_code == 200, again.content
    assert len(outbox) == 2 and outbox[-1].purpose == "signin"


def test_a_resend_while_the_link_is_unused_is_held_back(api, cooldown, outbox):
    assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200
    held = api.post(SIGNUP_IN, {"loginId": "ada@example.com"})
    assert held.status_code == 429 and code(held) == "E062702" and 1 <= int(held["Retry-After"]) <= 60
    assert len(outbox) == 1


def test_an_expired_link_holds_nothing_back(api, limits, outbox, later):
    limits(RESEND_COOLDOWN=600, LINK_LIFETIME=60)
    assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200
    later(61)
    assert api.post(SIGNUP_IN, {"loginId": "ada@example.com"}).status_code == 200


def test_the_sign_in_page_also_lets_a_person_back_in_after_using_the_link(client, cooldown, outbox):
    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    assert ask_for_link(client).status_code == 303 and len(outbox) == 2


@pytest.mark.parametrize("case", ["enabled", "disabled", "sign_up_closed"])
def test_answers_for_an_address_with_and_without_an_account_stay_identical_in_every_state(
    api, limits, signed_up, outbox, later, case, monkeypatch
):
    """Enumeration-safe mode: first call, a resend within the cooldown, and after it, answer byte for byte
    alike for an account (enabled or disabled) and for an address without one (sign-up open or closed)."""
    limits(ENUMERATION_SAFE=True, RESEND_COOLDOWN=60)
    signed_up("ada@example.com")
    if case == "disabled":
        from magiclink_auth.models import Profile

        Profile.objects.update(status=Profile.Status.DISABLED)
    if case == "sign_up_closed":
        from magiclink_auth.adapter import DefaultAdapter

        monkeypatch.setattr(DefaultAdapter, "is_open_for_signup", lambda self, request: False)

    def seen(login_id):
        response = api.post(SIGNIN, {"loginId": login_id}, REMOTE_ADDR=STRANGER)
        return response.status_code, response.get("Retry-After"), response.content.replace(
            login_id[:1].encode() + b"***", b"?***")

    for moment in (0, 1, 59, 61, 62):
        later(moment)
        assert seen("ada@example.com") == seen("eve@example.com"), moment


# Lockout (issue: ten anonymous requests, one a minute, spent the victim's hourly cap and voided each link).

def test_strangers_cannot_spend_the_owners_allowance_nor_void_the_owners_link(api, limits, signed_up, outbox,
                                                                              later):
    """The red team's attack: ten anonymous requests, one a minute. The stranger's eleventh is refused;
    the owner's link from before is still live and the owner may still ask for another."""
    limits(RESEND_COOLDOWN=60, LINK_LIFETIME=900, START_RATE_PER_LOGIN_ID="10/hour")
    signed_up("ada@example.com")  # verified from OWNER: that context is the owner's from now on
    assert api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=OWNER).status_code == 200
    owners_link = token_of(outbox[-1])
    answers = []
    for minute in range(11):
        later(minute * 61 + 1)
        answers.append(api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=STRANGER))
    assert [code(answer) for answer in answers] == [""] * 9 + ["E062703"] * 2  # one cap spent at sign-up

    later(11 * 61)
    assert api.post(VERIFY, {"token": owners_link}, REMOTE_ADDR=OWNER).status_code == 200
    assert api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=OWNER).status_code == 200


def test_the_owner_still_gets_a_link_after_strangers_spent_their_allowance(api, limits, signed_up, outbox):
    limits(START_RATE_PER_LOGIN_ID="3/hour")
    signed_up("ada@example.com")  # the sign-up's message was a stranger's: nobody had signed in yet
    answers = [api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=STRANGER) for _ in range(3)]
    assert [code(answer) for answer in answers] == ["", "", "E062703"]
    owners = api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=OWNER)
    assert owners.status_code == 200 and outbox[-1].recipient == "ada@example.com"
    assert api.post(VERIFY, {"token": token_of(outbox[-1])}).status_code == 200


def test_a_strangers_request_is_held_by_the_cooldown_the_owners_is_not(api, cooldown, signed_up, outbox):
    signed_up("ada@example.com")
    assert api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=STRANGER).status_code == 200
    assert code(api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=STRANGER)) == "E062702"
    assert api.post(SIGNIN, {"loginId": "ada@example.com"}, REMOTE_ADDR=OWNER).status_code == 200
    # The owner's request voided the stranger's link; only the owner's is live.
    live = PendingLink.objects.filter(login_id="ada@example.com", consumed_at=None, voided_at=None)
    assert [link.requester_ip for link in live] == [OWNER]


def test_the_browser_that_signed_in_is_the_owners_from_another_address(cooldown, outbox):
    browser = Client(REMOTE_ADDR="10.1.1.1")
    ask_for_link(browser)
    confirm(browser, token_in(outbox[-1]))
    stranger = Client(REMOTE_ADDR="10.2.2.2")
    assert ask_for_link(stranger).status_code == 303
    assert ask_for_link(stranger).status_code == 429  # the stranger's own cooldown
    moved = Client(REMOTE_ADDR="10.3.3.3")
    moved.cookies = browser.cookies  # the same browser on another network
    assert ask_for_link(moved).status_code == 303 and len(outbox) == 3


# One mailbox, one count (issue: `x+1@`, `"x"@` and an IDN domain vs its punycode counted apart).

@pytest.mark.parametrize("spellings", [
    ["ada+1@example.com", "ada+2@example.com", "ada@example.com"],
    ['"ada"@example.com', "ada@example.com", "ada+x@example.com"],
    ["ada@bücher.example", "ada@xn--bcher-kva.example", "ada@BÜCHER.example"],
])
def test_spellings_of_one_mailbox_share_one_count(api, limits, outbox, spellings):
    limits(START_RATE_PER_LOGIN_ID="2/hour")
    statuses = [api.post(SIGNUP_IN, {"loginId": login_id}).status_code for login_id in spellings]
    assert statuses == [200, 200, 429]
    # Counting only: each message went to the address as it was asked for, never to a canonical form.
    assert [m.recipient for m in outbox] == [s.casefold() for s in spellings[:2]]


@pytest.mark.parametrize("address", ["a@[127.0.0.1]", "a@[IPv6:::1]"])
def test_ip_literal_domains_are_refused(api, outbox, address):
    response = api.post(SIGNUP_IN, {"loginId": address})
    assert response.status_code == 400 and code(response) == "E062101" and outbox == []
