"""DRF authentication by Bearer session JWT or DS cookie (CSRF-checked), and the step-up permission."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from magiclink_auth import sessions

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_urls")]


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_bearer_session_jwt_authenticates(signed_up):
    body = signed_up("ada@example.com")
    response = Client().get("/api/whoami", **bearer(body["sessionJwt"]))
    assert response.status_code == 200
    assert response.json() == {"userId": body["user"]["userId"], "amr": ["email"]}


@pytest.mark.parametrize("token", ["a.b.c", "not-a-jwt.x.y"])
def test_a_bad_bearer_jwt_is_refused_with_its_code(token):
    response = Client().get("/api/whoami", **bearer(token))
    assert response.status_code == 401 and response.json()["errorCode"] == "E062523"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_refresh_jwt_is_not_a_session(signed_up):
    body = signed_up("ada@example.com")
    response = Client().get("/api/whoami", **bearer(body["refreshJwt"]))
    assert response.status_code == 401 and response.json()["errorCode"] == "E062523"


def test_no_credentials_is_unauthenticated():
    assert Client().get("/api/whoami").status_code == 401


def test_the_cookie_authenticates_a_safe_request(signed_up):
    body = signed_up("ada@example.com")
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["DS"] = body["sessionJwt"]
    assert browser.get("/api/whoami").json()["userId"] == body["user"]["userId"]


def test_a_cookie_authenticated_unsafe_request_needs_csrf(signed_up):
    body = signed_up("ada@example.com")
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["DS"] = body["sessionJwt"]
    refused = browser.post("/api/whoami")
    assert refused.status_code == 403 and refused.json()["errorCode"] == "E062524"
    browser.get("/auth/login/")  # the sign-in page sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    assert browser.post("/api/whoami", HTTP_X_CSRFTOKEN=csrf).status_code == 200


def test_a_bearer_authenticated_unsafe_request_needs_no_csrf(signed_up):
    body = signed_up("ada@example.com")
    response = Client(enforce_csrf_checks=True).post("/api/whoami", **bearer(body["sessionJwt"]))
    assert response.status_code == 200


def test_step_up_permission_refuses_an_ordinary_session(signed_up):
    body = signed_up("ada@example.com")
    response = Client().get("/api/sensitive", **bearer(body["sessionJwt"]))
    assert response.status_code == 403 and response.json()["errorCode"] == "E062525"


def test_step_up_permission_admits_a_step_up_session(signed_up):
    body = signed_up("ada@example.com")
    user = get_user_model().objects.get(pk=body["user"]["userId"])
    session = sessions.open_session(user, amr=["email"], claims={"su": True}, ip=None, user_agent="")
    tokens = sessions.issue_tokens(session, user)
    response = Client().get("/api/sensitive", **bearer(tokens.session_jwt))
    assert response.status_code == 200


def test_a_bearer_request_costs_one_query_the_users_row(signed_up, django_assert_num_queries):
    body = signed_up("ada@example.com")
    client = Client()
    with django_assert_num_queries(1):
        response = client.get("/api/whoami", **bearer(body["sessionJwt"]))
    assert response.status_code == 200


def test_a_cookie_request_loads_the_user_once_for_the_middleware_and_drf(signed_up, django_assert_num_queries):
    body = signed_up("ada@example.com")
    client = Client()
    client.cookies["DS"] = body["sessionJwt"]
    with django_assert_num_queries(1):
        response = client.get("/api/whoami")
    assert response.status_code == 200 and response.json()["userId"] == body["user"]["userId"]


def test_a_cookie_session_of_a_deactivated_user_is_refused(signed_up):
    body = signed_up("ada@example.com")
    get_user_model().objects.filter(pk=body["user"]["userId"]).update(is_active=False)
    client = Client()
    client.cookies["DS"] = body["sessionJwt"]
    response = client.get("/api/whoami")
    assert response.status_code == 401 and response.json()["errorCode"] == "E062523"
