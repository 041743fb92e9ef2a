"""Bad input of every kind gets a 4xx with the protocol's error JSON and its own code; never a 500 or HTML."""

import json

import pytest

from magiclink_auth.errors import ERRORS
from tests.conftest import PROJECT_ID

SIGNUP = "/v1/auth/magiclink/signup/email"

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"errorCode", "errorDescription", "errorMessage"}
    assert body["errorCode"] == code
    return body


def test_every_error_code_is_distinct():
    codes = [spec.code for spec in ERRORS.values()]
    assert len(codes) == len(set(codes))


def test_missing_authorization_header(client):
    response = client.post(SIGNUP, data={"loginId": "a@example.com"}, content_type="application/json")
    assert_error(response, 401, "E011101")


def test_wrong_project_id(api):
    response = api.post(SIGNUP, {"loginId": "a@example.com"}, project_id="P2someoneelse")
    assert_error(response, 401, "E011102")


def test_non_json_body(api):
    assert_error(api.post(SIGNUP, raw="loginId=a@example.com"), 400, "E011001")


def test_form_encoded_body_is_refused(api):
    response = api.post(SIGNUP, raw="loginId=a", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "E011007")


def test_json_array_instead_of_object(api):
    assert_error(api.post(SIGNUP, raw='[{"loginId": "a@example.com"}]'), 400, "E011001")


def test_missing_login_id(api, outbox):
    body = assert_error(api.post(SIGNUP, {"URI": None}), 400, "E011002")
    assert "loginId" in body["errorMessage"]
    assert outbox == []


def test_login_id_of_wrong_type(api):
    assert_error(api.post(SIGNUP, {"loginId": {"a": 1}}), 400, "E011004")


def test_lone_surrogate_is_refused(api, outbox):
    response = api.post(SIGNUP, raw='{"loginId": "a\\ud800@example.com"}')
    assert_error(response, 400, "E011004")
    assert outbox == []


def test_nul_byte_is_refused(api):
    assert_error(api.post(SIGNUP, {"loginId": "a\u0000@example.com"}), 400, "E011004")


def test_three_megabyte_body_is_refused_as_json(api):
    huge = json.dumps({"loginId": "a@example.com", "user": {"name": "x" * (3 * 1024 * 1024)}})
    assert_error(api.post(SIGNUP, raw=huge), 413, "E011005")


def test_cr_lf_in_name_does_not_reach_the_subject_or_crash(api, outbox, signed_up):
    signed_up("eve@example.com", name="Eve\r\nBcc: all@example.com")
    response = api.post("/v1/auth/magiclink/signin/email", {"loginId": "eve@example.com"})
    assert response.status_code == 200
    assert outbox[-1].context["name"] == "Eve Bcc: all@example.com"


def test_unknown_delivery_method(api):
    assert_error(api.post("/v1/auth/magiclink/signup/pigeon", {"loginId": "a@example.com"}), 400, "E011301")


def test_wrong_http_method_answers_json(api):
    assert_error(api.get("/v1/auth/magiclink/verify"), 405, "E011006")


def test_unknown_api_path_answers_json(api):
    assert_error(api.post("/v1/auth/nothing-here", {}), 404, "E011008")


def test_over_long_login_id(api):
    assert_error(api.post(SIGNUP, {"loginId": "a" * 300 + "@example.com"}), 400, "E062101")
    assert_error(api.post(SIGNUP, {"loginId": "a" * 400 + "@example.com"}), 400, "E011004")


@pytest.mark.parametrize("options", [[], "x", 3])
def test_login_options_of_wrong_type(api, options):
    assert_error(api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com",
                                                                   "loginOptions": options}), 400, "E011004")


def test_null_login_options_and_uri_are_accepted(api):
    response = api.post("/v1/auth/magiclink/signup-in/email",
                        {"loginId": "a@example.com", "URI": None, "loginOptions": None})
    assert response.status_code == 200
    assert response.json() == {"maskedEmail": "a***@example.com"}


def test_template_id_cannot_walk_the_filesystem(api):
    body = {"loginId": "a@example.com", "loginOptions": {"templateId": "../../etc/passwd"}}
    assert_error(api.post("/v1/auth/magiclink/signup-in/email", body), 400, "E011004")


def test_verify_without_token(api):
    assert_error(api.post("/v1/auth/magiclink/verify", {}), 400, "E011002")


def test_refresh_without_token(api):
    assert_error(api.post("/v1/auth/refresh", {}), 401, "E061301")


def test_refresh_with_garbage_token(api):
    assert_error(api.post("/v1/auth/refresh", {}, refresh="not.a.jwt"), 401, "E061302")


def test_keys_for_another_project(api):
    assert_error(api.get("/v2/keys/P2someoneelse"), 401, "E011102")


@pytest.mark.parametrize("path", ["/v1/auth/magiclink/signin/email", "/v1/auth/enchantedlink/signup-in/sms"])
def test_options_on_a_start_path_answers_its_metadata_not_a_500(client, path):
    """Schemathesis found it: a view method named ``options`` shadowed DRF's OPTIONS handler."""
    response = client.options(path, HTTP_AUTHORIZATION=f"Bearer {PROJECT_ID}")
    assert response.status_code == 200 and response.json()["renders"] == ["application/json"]
