"""The official Python SDK (``descope==2.16.0``), pointed at the live example site, runs whole life cycles.

Nothing here talks to the app except through the SDK: it builds the requests, validates our JWTs against the
JWKs it fetches from ``/v2/keys/<project id>``, and turns our error JSON into its exceptions.
"""

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from magiclink_auth.models import PendingLink, Profile
from tests.conftest import PROJECT_ID, sdk_refused, token_of

pytest.importorskip("descope", reason="the descope SDK is not installed (the [test] extra installs it)")
from descope import DeliveryMethod, LoginOptions, SignUpOptions

pytestmark = pytest.mark.sdk

EMAIL = DeliveryMethod.EMAIL
URI = "https://app.example.com/welcome?from=sdk"


def link_for(outbox, address: str):
    """The last message delivered to ``address``; the link must carry the URI we asked for."""
    messages = [m for m in outbox if m.recipient == address]
    assert messages, f"nothing was delivered to {address}"
    return messages[-1]


def session_of(jwt_response: dict) -> tuple[str, str]:
    return jwt_response["sessionToken"]["jwt"], jwt_response["refreshSessionToken"]["jwt"]


def test_email_life_cycle_sign_up_verify_refresh_me_sign_in_logout(descope, outbox):
    email = "ada@example.com"

    masked = descope.magiclink.sign_up(EMAIL, email, URI, user={"name": "Ada Lovelace"})
    assert masked.endswith("@example.com") and email not in masked

    message = link_for(outbox, email)
    link = urlsplit(message.url)
    assert f"{link.scheme}://{link.netloc}{link.path}" == "https://app.example.com/welcome"
    assert parse_qs(link.query)["from"] == ["sdk"]

    verified = descope.magiclink.verify(token_of(message))
    assert verified["firstSeen"] is True
    assert verified["projectId"] == PROJECT_ID
    assert verified["user"]["email"] == email and verified["user"]["name"] == "Ada Lovelace"
    assert verified["user"]["verifiedEmail"] is True
    user_id = verified["userId"]
    assert user_id == verified["user"]["userId"]
    session, refresh = session_of(verified)
    assert verified["sessionToken"]["amr"] == ["email"]
    assert verified["sessionToken"]["drn"] == "DS" and verified["refreshSessionToken"]["drn"] == "DSR"
    assert verified["cookieData"]["path"] == "/" and verified["cookieData"]["maxAge"] > 0

    claims = descope.validate_session(session)
    assert claims["userId"] == user_id and claims["sessionToken"]["iss"] == PROJECT_ID

    refreshed = descope.refresh_session(refresh)
    new_session, new_refresh = session_of(refreshed)
    assert new_refresh != refresh, "refresh must rotate the refresh JWT"
    assert refreshed["userId"] == user_id
    assert descope.validate_session(new_session)["userId"] == user_id

    me = descope.me(new_refresh)
    assert me["userId"] == user_id and me["loginIds"] == [email] and me["status"] == "enabled"

    masked_again = descope.magiclink.sign_in(EMAIL, email, URI)
    assert masked_again == masked
    second = descope.magiclink.verify(token_of(link_for(outbox, email)))
    assert second["firstSeen"] is False and second["userId"] == user_id
    _, second_refresh = session_of(second)

    descope.logout(second_refresh)
    with sdk_refused(401, "E061303"):
        descope.refresh_session(second_refresh)

    # Logging out one session leaves the other one alive.
    assert descope.me(new_refresh)["userId"] == user_id


def test_sign_up_or_in_creates_then_signs_in(descope, outbox):
    email = "grace@example.com"
    assert descope.magiclink.sign_up_or_in(EMAIL, email, URI).endswith("@example.com")
    first = descope.magiclink.verify(token_of(link_for(outbox, email)))
    assert first["firstSeen"] is True and first["user"]["loginIds"] == [email]

    descope.magiclink.sign_up_or_in(EMAIL, email, URI)
    again = descope.magiclink.verify(token_of(link_for(outbox, email)))
    assert again["firstSeen"] is False and again["userId"] == first["userId"]


def test_sign_in_of_an_unknown_user_is_refused(descope, outbox, settings):
    assert settings.MAGICLINK_AUTH.get("ENUMERATION_SAFE", False) is False
    with sdk_refused(404, "E062108"):
        descope.magiclink.sign_in(EMAIL, "nobody@example.com", URI)
    assert outbox == []


def test_sign_up_of_an_existing_user_is_refused(descope, outbox):
    descope.magiclink.sign_up(EMAIL, "ada@example.com", URI)
    descope.magiclink.verify(token_of(link_for(outbox, "ada@example.com")))
    with sdk_refused(409, "E062107"):
        descope.magiclink.sign_up(EMAIL, "ADA@example.com", URI)
    assert len(outbox) == 1


@pytest.mark.parametrize("uri", ["https://evil.example.net/welcome", "javascript:alert(1)"])
def test_uri_outside_the_allow_list_is_refused(descope, outbox, uri):
    with sdk_refused(400, "E062202"):
        descope.magiclink.sign_up_or_in(EMAIL, "ada@example.com", uri)
    assert outbox == []


def test_no_uri_falls_back_to_the_default_redirect_url(descope, outbox):
    # The SDK sends "URI": null when the caller passes None.
    descope.magiclink.sign_up_or_in(EMAIL, "ada@example.com", None)
    assert link_for(outbox, "ada@example.com").url.startswith("https://app.example.com/welcome?t=")


def test_a_used_link_is_refused(descope, outbox):
    descope.magiclink.sign_up(EMAIL, "ada@example.com", URI)
    token = token_of(link_for(outbox, "ada@example.com"))
    descope.magiclink.verify(token)
    with sdk_refused(401, "E062504"):
        descope.magiclink.verify(token)


def test_an_unknown_token_is_refused(descope):
    with sdk_refused(401, "E062501"):
        descope.magiclink.verify("not-a-token-we-sent")


def test_logout_all_revokes_every_session_of_the_user(descope, outbox):
    email = "ada@example.com"
    descope.magiclink.sign_up_or_in(EMAIL, email, URI)
    _, first = session_of(descope.magiclink.verify(token_of(link_for(outbox, email))))
    descope.magiclink.sign_in(EMAIL, email, URI)
    _, second = session_of(descope.magiclink.verify(token_of(link_for(outbox, email))))

    # Someone else's session survives.
    descope.magiclink.sign_up_or_in(EMAIL, "grace@example.com", URI)
    _, other = session_of(descope.magiclink.verify(token_of(link_for(outbox, "grace@example.com"))))

    descope.logout_all(second)
    for refresh in (first, second):
        with sdk_refused(401, "E061303"):
            descope.me(refresh)
    assert descope.me(other)["loginIds"] == ["grace@example.com"]


def test_another_project_id_is_refused(live_server, transactional_db):
    from descope import DescopeClient

    stranger = DescopeClient(project_id="P2someoneelse", base_url=live_server.url)
    with sdk_refused(401, "E011102"):
        stranger.magiclink.sign_up_or_in(EMAIL, "ada@example.com", URI)


def test_login_options_reach_the_message_and_the_session(descope, outbox):
    email = "ada@example.com"
    options = SignUpOptions(custom_claims={"plan": "pro"}, template_options={"greeting": "Hello"})
    descope.magiclink.sign_up(EMAIL, email, URI, signup_options=options)
    message = link_for(outbox, email)
    assert message.context["options"] == {"greeting": "Hello"}
    first = descope.magiclink.verify(token_of(message))
    # A start call's claims come from its caller: under `nsec`, as Descope puts them, never the top level.
    assert first["sessionToken"]["nsec"] == {"plan": "pro"} and "plan" not in first["sessionToken"]
    assert descope.validate_session(first["sessionToken"]["jwt"])["sessionToken"]["nsec"]["plan"] == "pro"

    # revokeOtherSessions, asked with the user's own refresh JWT: the new session is the only one left.
    descope.magiclink.sign_in(EMAIL, email, URI, LoginOptions(revoke_other_sessions=True),
                              first["refreshSessionToken"]["jwt"])
    second = descope.magiclink.verify(token_of(link_for(outbox, email)))
    assert "plan" not in second["sessionToken"]
    with sdk_refused(401, "E061303"):
        descope.refresh_session(first["refreshSessionToken"]["jwt"])
    assert descope.me(second["refreshSessionToken"]["jwt"])["loginIds"] == [email]


def test_reserved_custom_claims_are_refused(descope, outbox):
    options = SignUpOptions(custom_claims={"sub": "someone-else"})
    with sdk_refused(400, "E062601"):
        descope.magiclink.sign_up_or_in(EMAIL, "ada@example.com", URI, options)
    assert outbox == []


def test_a_disabled_user_cannot_sign_in(descope, outbox):
    descope.magiclink.sign_up(EMAIL, "ada@example.com", URI)
    descope.magiclink.verify(token_of(link_for(outbox, "ada@example.com")))
    Profile.objects.update(status=Profile.Status.DISABLED)
    with sdk_refused(403, "E062109"):
        descope.magiclink.sign_in(EMAIL, "ada@example.com", URI)


def test_an_expired_link_is_refused(descope, outbox):
    descope.magiclink.sign_up(EMAIL, "ada@example.com", URI)
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with sdk_refused(401, "E062502"):
        descope.magiclink.verify(token_of(link_for(outbox, "ada@example.com")))


def test_a_newer_link_voids_the_older_one(descope, outbox):
    descope.magiclink.sign_up_or_in(EMAIL, "ada@example.com", URI)
    older = token_of(link_for(outbox, "ada@example.com"))
    descope.magiclink.sign_up_or_in(EMAIL, "ada@example.com", URI)
    with sdk_refused(401, "E062505"):
        descope.magiclink.verify(older)
    assert descope.magiclink.verify(token_of(link_for(outbox, "ada@example.com")))["firstSeen"] is True


def test_the_async_client_runs_the_same_life_cycle(live_server, transactional_db, outbox):
    from descope import DescopeClientAsync

    email = "ada@example.com"

    async def life_cycle():
        async with DescopeClientAsync(project_id=PROJECT_ID, base_url=live_server.url) as client:
            assert (await client.magiclink.sign_up_or_in(EMAIL, email, URI)).endswith("@example.com")
            verified = await client.magiclink.verify(token_of(link_for(outbox, email)))
            session, refresh = session_of(verified)
            assert (await client.validate_session(session))["userId"] == verified["userId"]
            _, rotated = session_of(await client.refresh_session(refresh))
            assert rotated != refresh
            assert (await client.me(rotated))["loginIds"] == [email]
            await client.logout(rotated)
            with sdk_refused(401, "E061303"):
                await client.me(rotated)

    asyncio.run(life_cycle())
