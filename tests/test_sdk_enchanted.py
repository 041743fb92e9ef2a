"""Enchanted links through the official Python SDK (sync and async): sign-in by email and SMS, sign-up, the
wrong number killing the whole set, mail scanners, update email, and one collection per sign-in."""

from __future__ import annotations

import asyncio

import pytest
from descope import DeliveryMethod

from tests.conftest import PROJECT_ID, sdk_refused, token_of
from tests.enchanted_helpers import numbered_links, right_and_wrong, token

pytestmark = pytest.mark.sdk

URI = "https://app.example.com/welcome"


@pytest.fixture
def ada(descope, outbox):
    """A user who signed up by magic link: returns the verify response (the SDK's JWT response)."""
    descope.magiclink.sign_up(DeliveryMethod.EMAIL, "ada@example.com", URI, user={"name": "Ada"})
    return descope.magiclink.verify(token_of(outbox[-1]))


def test_start_answers_link_id_pending_ref_and_masked_email(descope, outbox, ada):
    started = descope.enchantedlink.sign_in("ada@example.com", URI)
    assert set(started) == {"linkId", "pendingRef", "maskedEmail"}
    assert started["maskedEmail"] == "a***@example.com" and len(started["pendingRef"]) >= 40
    links = numbered_links(outbox[-1])
    assert started["linkId"] in links and len(set(links)) == 3 and len(set(links.values())) == 3
    assert outbox[-1].url == "", "no single link: only the numbered ones"


def test_email_sign_in_completes_the_waiting_session_once(descope, outbox, ada):
    started = descope.enchantedlink.sign_in("ada@example.com", URI)
    with sdk_refused(401, "E062503"):
        descope.enchantedlink.get_session(started["pendingRef"])
    right, _ = right_and_wrong(outbox[-1], started["linkId"])

    assert descope.enchantedlink.verify(right) is None
    session = descope.enchantedlink.get_session(started["pendingRef"])
    assert session["userId"] == ada["userId"] and session["sessionToken"]["amr"] == ["email"]
    assert descope.validate_session(session["sessionToken"]["jwt"])["userId"] == ada["userId"]
    with sdk_refused(401, "E062522"):
        descope.enchantedlink.get_session(started["pendingRef"])
    with sdk_refused(401, "E062504"):
        descope.enchantedlink.verify(right)


def test_sms_sign_in(descope, outbox):
    descope.magiclink.sign_up(DeliveryMethod.SMS, "+14155552671", URI, user={"name": "Sam"})
    user_id = descope.magiclink.verify(token_of(outbox[-1]))["userId"]
    started = descope.enchantedlink.sign_in_with_phone("+14155552671", URI)
    assert started["maskedPhone"] == "+*******2671" and outbox[-1].channel == "sms"
    right, _ = right_and_wrong(outbox[-1], started["linkId"])
    descope.enchantedlink.verify(right)
    session = descope.enchantedlink.get_session(started["pendingRef"])
    assert session["userId"] == user_id and session["sessionToken"]["amr"] == ["sms"]


def test_sign_up_and_sign_up_or_in(descope, outbox):
    started = descope.enchantedlink.sign_up("new@example.com", URI, {"name": "Newt"})
    right, _ = right_and_wrong(outbox[-1], started["linkId"])
    descope.enchantedlink.verify(right)
    first = descope.enchantedlink.get_session(started["pendingRef"])
    assert first["firstSeen"] is True and first["user"]["name"] == "Newt"

    again = descope.enchantedlink.sign_up_or_in("new@example.com", URI)
    descope.enchantedlink.verify(right_and_wrong(outbox[-1], again["linkId"])[0])
    assert descope.enchantedlink.get_session(again["pendingRef"])["userId"] == first["userId"]


def test_a_wrong_number_kills_the_whole_set_then_a_fresh_start_works(descope, outbox, ada):
    started = descope.enchantedlink.sign_in("ada@example.com", URI)
    right, wrong = right_and_wrong(outbox[-1], started["linkId"])
    with sdk_refused(401, "E062530"):
        descope.enchantedlink.verify(wrong[0])
    with sdk_refused(401, "E062531"):
        descope.enchantedlink.verify(right)
    with sdk_refused(401, "E062531"):
        descope.enchantedlink.get_session(started["pendingRef"])
    with sdk_refused(401, "E062530"):
        descope.enchantedlink.verify(wrong[1])

    fresh = descope.enchantedlink.sign_in("ada@example.com", URI)
    descope.enchantedlink.verify(right_and_wrong(outbox[-1], fresh["linkId"])[0])
    assert descope.enchantedlink.get_session(fresh["pendingRef"])["userId"] == ada["userId"]


def test_scanner_get_and_head_of_every_link_consume_nothing(descope, outbox, ada, client):
    started = descope.enchantedlink.sign_in("ada@example.com", "http://localhost/auth/enchanted/")
    links = numbered_links(outbox[-1])
    for number, link in links.items():
        path = link.removeprefix("http://localhost")
        page = client.get(path)
        assert page.status_code == 200 and f">{number}<" in page.content.decode()
        assert client.head(path).status_code == 200
    with sdk_refused(401, "E062503"):
        descope.enchantedlink.get_session(started["pendingRef"])
    descope.enchantedlink.verify(token(links[started["linkId"]]))
    assert descope.enchantedlink.get_session(started["pendingRef"])["userId"] == ada["userId"]


def test_enchanted_and_magic_tokens_answer_only_their_own_verify(descope, outbox, ada):
    started = descope.enchantedlink.sign_in("ada@example.com", URI)
    right, _ = right_and_wrong(outbox[-1], started["linkId"])
    with sdk_refused(401, "E062506"):
        descope.magiclink.verify(right)
    descope.magiclink.sign_in(DeliveryMethod.EMAIL, "ada@example.com", URI)
    with sdk_refused(401, "E062506"):
        descope.enchantedlink.verify(token_of(outbox[-1]))


def test_update_user_email_by_enchanted_link(descope, outbox, ada):
    refresh = ada["refreshSessionToken"]["jwt"]
    started = descope.enchantedlink.update_user_email("ada@example.com", "ada.new@example.com", refresh,
                                                      add_to_login_ids=True)
    assert started["maskedEmail"] == "a***@example.com" and outbox[-1].recipient == "ada.new@example.com"
    descope.enchantedlink.verify(right_and_wrong(outbox[-1], started["linkId"])[0])
    session = descope.enchantedlink.get_session(started["pendingRef"])
    assert session["user"]["email"] == "ada.new@example.com"
    assert "ada.new@example.com" in descope.me(session["refreshSessionToken"]["jwt"])["loginIds"]


def test_the_async_client_signs_in_by_enchanted_link(live_server, transactional_db, outbox):
    from descope import DescopeClientAsync

    async def calls():
        async with DescopeClientAsync(project_id=PROJECT_ID, base_url=live_server.url) as client:
            await client.magiclink.sign_up(DeliveryMethod.EMAIL, "ada@example.com", URI)
            user_id = (await client.magiclink.verify(token_of(outbox[-1])))["userId"]
            started = await client.enchantedlink.sign_in("ada@example.com", URI)
            right, wrong = right_and_wrong(outbox[-1], started["linkId"])
            with sdk_refused(401, "E062503"):
                await client.enchantedlink.get_session(started["pendingRef"])
            await client.enchantedlink.verify(right)
            assert (await client.enchantedlink.get_session(started["pendingRef"]))["userId"] == user_id

            again = await client.enchantedlink.sign_in("ada@example.com", URI)
            right, wrong = right_and_wrong(outbox[-1], again["linkId"])
            with sdk_refused(401, "E062530"):
                await client.enchantedlink.verify(wrong[0])
            with sdk_refused(401, "E062531"):
                await client.enchantedlink.verify(right)

    asyncio.run(calls())
