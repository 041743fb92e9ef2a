"""The middleware: request.user from the DS cookie, transparent refresh from DSR, clean logout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from magiclink_auth import jwts
from magiclink_auth.middleware import MagicLinkSessionMiddleware
from magiclink_auth.models import RefreshSession

from .web_helpers import claims

pytestmark = pytest.mark.django_db

ACCOUNT = "/auth/account/"


def expired_session_jwt(sub: str) -> str:
    return jwts.encode(jwts.SESSION, {"sub": sub}, issued_at=timezone.now() - timedelta(hours=1),
                       lifetime=timedelta(minutes=10))


def test_a_valid_session_cookie_signs_the_request_in(client, signed_up):
    signed_up("ada@example.com")
    response = client.get(ACCOUNT)
    assert response.status_code == 200 and b"ada@example.com" in response.content
    assert "DS" not in response.cookies  # nothing to refresh


def test_validating_the_session_cookie_makes_no_database_query(client, signed_up, django_assert_num_queries):
    body = signed_up("ada@example.com")
    seen = {}

    def view(request):
        seen["sub"] = request.magiclink_claims["sub"]
        return HttpResponse()

    request = RequestFactory().get("/", HTTP_COOKIE=f"DS={body['sessionJwt']}")
    with django_assert_num_queries(0):
        MagicLinkSessionMiddleware(view)(request)
    assert seen["sub"] == body["user"]["userId"]
    assert request.user.email == "ada@example.com"  # loaded lazily, on use


def test_an_expired_session_with_a_valid_refresh_refreshes_transparently(client, signed_up):
    body = signed_up("ada@example.com")
    client.cookies["DS"] = expired_session_jwt(body["user"]["userId"])
    response = client.get(ACCOUNT)
    assert response.status_code == 200 and b"ada@example.com" in response.content
    new_session, new_refresh = response.cookies["DS"].value, response.cookies["DSR"].value
    assert claims(new_session)["exp"] > timezone.now().timestamp()
    assert claims(new_refresh)["sid"] == claims(body["refreshJwt"])["sid"]
    assert claims(new_refresh)["jti"] != claims(body["refreshJwt"])["jti"]  # rotated
    assert response.cookies["DS"]["httponly"] and response.cookies["DSR"]["httponly"]
    assert client.get(ACCOUNT).status_code == 200


def test_a_revoked_refresh_logs_the_browser_out_cleanly(client, signed_up):
    body = signed_up("ada@example.com")
    RefreshSession.objects.update(revoked_at=timezone.now(), revoked_reason="admin")
    client.cookies["DS"] = expired_session_jwt(body["user"]["userId"])
    response = client.get(ACCOUNT)
    assert response.status_code == 302 and response["Location"] == "/auth/login/"
    assert response.cookies["DS"]["max-age"] == 0 and response.cookies["DSR"]["max-age"] == 0


def test_a_forged_session_cookie_without_refresh_is_cleared(client, signed_up):
    signed_up("ada@example.com")
    client.cookies["DS"] = "a.b.c"
    del client.cookies["DSR"]
    response = client.get(ACCOUNT)
    assert response.status_code == 302
    assert response.cookies["DS"]["max-age"] == 0


def test_a_revoked_refresh_ends_the_django_login_of_the_landing_page(client, outbox):
    from .web_helpers import ask_for_link, confirm, token_in

    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    assert client.get(ACCOUNT).status_code == 200
    RefreshSession.objects.update(revoked_at=timezone.now(), revoked_reason="admin")
    client.cookies["DS"] = "expired.or.gone"
    assert client.get(ACCOUNT).status_code == 302
    del client.cookies["DS"], client.cookies["DSR"]
    assert client.get(ACCOUNT).status_code == 302  # the Django session was flushed too


def test_a_link_followed_from_another_site_keeps_the_landing_page_login(client, outbox):
    """The DS/DSR cookies are SameSite=Strict: a browser leaves them off a navigation from a mail client or
    another site, and sends Django's (Lax) session cookie. That click must not sign the person out; the
    login lasts as long as its magic-link session does."""
    from .web_helpers import ask_for_link, confirm, token_in

    ask_for_link(client)
    confirm(client, token_in(outbox[-1]))
    del client.cookies["DS"], client.cookies["DSR"]  # what a cross-site navigation sends
    page = client.get(ACCOUNT)
    assert page.status_code == 200 and "You are signed in" in page.content.decode()
    RefreshSession.objects.update(revoked_at=timezone.now(), revoked_reason="logout_all")  # signed out elsewhere
    assert client.get(ACCOUNT).status_code == 302
    assert client.get(ACCOUNT).status_code == 302  # the Django session was flushed


def test_without_cookies_a_password_login_is_left_alone(client, django_user_model):
    user = django_user_model(**{django_user_model.USERNAME_FIELD: "admin@example.com"},
                             is_staff=True, is_superuser=True)
    user.set_password("pw")
    user.save()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/").status_code == 200


def test_reading_request_user_costs_one_query(client, signed_up, django_assert_num_queries):
    body = signed_up("ada@example.com")

    def view(request):
        return HttpResponse(f"{request.user.email} {request.user.pk} {request.user.is_authenticated}")

    request = RequestFactory().get("/", HTTP_COOKIE=f"DS={body['sessionJwt']}")
    with django_assert_num_queries(1):
        response = MagicLinkSessionMiddleware(view)(request)
    assert response.content.decode() == f"ada@example.com {body['user']['userId']} True"


@pytest.mark.parametrize("sub", ["deleted", "987654321", "not-a-user-id", "00000000-0000-0000-0000-000000000000"])
def test_a_signed_session_jwt_naming_no_user_of_this_site_is_anonymous(client, signed_up, django_user_model, sub):
    """A user deleted while their session JWT lives, or a sub of another type than the site's primary key."""
    body = signed_up("ada@example.com")
    if sub == "deleted":
        sub = body["user"]["userId"]
        django_user_model.objects.filter(pk=sub).delete()
    session_jwt = jwts.encode(jwts.SESSION, {"sub": sub}, issued_at=timezone.now(), lifetime=timedelta(minutes=10))

    def view(request):
        return HttpResponse(f"{request.user.is_authenticated}")

    request = RequestFactory().get("/", HTTP_COOKIE=f"DS={session_jwt}")
    assert MagicLinkSessionMiddleware(view)(request).content == b"False"
