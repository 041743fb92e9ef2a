"""Input limits: sizes, lengths, nesting, characters, unicode tricks: refused with a code or neutralised.

Never a 500, never HTML, and nothing stored or sent for a refused request.
"""

import json
import re

import pytest

from magiclink_auth.models import PendingLink

from .conftest import token_of

pytestmark = pytest.mark.django_db

SIGNUP = "/v1/auth/magiclink/signup/email"


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["errorCode"] == code
    return response.json()


def with_options(**options):
    return {"loginId": "ada@example.com", "loginOptions": options}


# Body size.

def test_body_just_over_the_limit_is_refused_before_parsing(api, outbox):
    body = json.dumps({"loginId": "ada@example.com", "pad": "x" * 16 * 1024})
    assert_error(api.post(SIGNUP, raw=body), 413, "E011005")
    assert outbox == []


def test_body_under_the_limit_is_taken(api):
    body = json.dumps({"loginId": "ada@example.com", "pad": "x" * 15 * 1024})
    assert api.post(SIGNUP, raw=body).status_code == 200


def test_body_limit_is_a_setting(api, limits):
    limits(MAX_BODY_BYTES=1024)
    assert_error(api.post(SIGNUP, {"loginId": "ada@example.com", "pad": "x" * 2048}), 413, "E011005")


@pytest.mark.parametrize("path", ["/v1/auth/magiclink/verify", "/v1/auth/refresh", "/v1/auth/logout"])
def test_three_megabytes_to_any_endpoint_get_the_error_json(api, path):
    assert_error(api.post(path, raw=json.dumps({"token": "x" * (3 * 1024 * 1024)})), 413, "E011005")


# Shape.

def test_deep_nesting_is_a_parse_error_not_a_crash(api):
    assert_error(api.post(SIGNUP, raw="[" * 5000 + "]" * 5000), 400, "E011001")


def test_nesting_in_custom_claims_is_bounded(api, outbox):
    claims = {}
    for _ in range(20):
        claims = {"a": claims}
    assert_error(api.post(SIGNUP, with_options(customClaims=claims)), 400, "E011001")
    assert outbox == []


@pytest.mark.parametrize("raw", [
    '{"loginId": "ada@example.com", "loginOptions": {"customClaims": {"k": "\\u0000"}}}',
    '{"loginId": "ada@example.com", "loginOptions": {"customClaims": {"k": "\\ud800"}}}',
    '{"loginId": "ada@example.com", "loginOptions": {"customClaims": {"\\udfff": 1}}}',
    '{"loginId": "ada@example.com", "\\u0000": 1}',
    '{"loginId": "ada@example.com", "user": {"name": "a\\ud83d"}}',
])
def test_nul_and_lone_surrogates_anywhere_are_refused(api, outbox, raw):
    body = assert_error(api.post(SIGNUP, raw=raw), 400, "E011004")
    assert "NUL or a lone surrogate" in body["errorMessage"]
    assert not PendingLink.objects.exists() and outbox == []


def test_a_proper_surrogate_pair_is_an_ordinary_character(api, signed_up):
    assert signed_up("ada@example.com", name="Ada \U0001f600")["user"]["name"] == "Ada \U0001f600"


# Lengths.

@pytest.mark.parametrize("body", [
    {"loginId": "a" * 321},
    {"loginId": "ada@example.com", "user": {"name": "n" * 151}},
    {"loginId": "ada@example.com", "user": {"familyName": "n" * 151}},
    {"loginId": "ada@example.com", "URI": "https://app.example.com/" + "p" * 2048},
    with_options(templateOptions={"product": "p" * 501}),
    with_options(templateOptions={f"o{n}": "v" for n in range(21)}),
    with_options(templateId="t" * 65),
    with_options(locale="en-" + "x" * 40),
])
def test_over_long_fields_are_refused(api, outbox, body):
    assert_error(api.post(SIGNUP, body), 400, "E011004")
    assert outbox == []


def test_over_long_email_has_its_own_code(api):
    assert_error(api.post(SIGNUP, {"loginId": "a" * 250 + "@example.com"}), 400, "E062101")


def test_custom_claims_over_4_kb_are_refused(api):
    assert_error(api.post(SIGNUP, with_options(customClaims={"k": "v" * 4100})), 400, "E062602")


def test_over_long_token_is_refused(api):
    assert_error(api.post("/v1/auth/magiclink/verify", {"token": "t" * 129}), 400, "E011004")


@pytest.mark.parametrize("name", ["a b", "x" * 65, "__class__", "1st", "o\r\nBcc"])
def test_template_option_names_must_be_short_identifiers(api, outbox, name):
    assert_error(api.post(SIGNUP, with_options(templateOptions={name: "v"})), 400, "E062711")
    assert outbox == []


# Unicode tricks in login IDs.

@pytest.mark.parametrize("email", [
    "ada@p\u0430ypal.com",  # Cyrillic a in a Latin label
    "ada@xn--pypal-4ve.com",  # the same, as punycode
    "ada@\u03b1pple.com",  # Greek alpha
])
def test_look_alike_domains_are_refused(api, outbox, email):
    assert_error(api.post(SIGNUP, {"loginId": email}), 400, "E062710")
    assert outbox == []


@pytest.mark.parametrize("email", ["ada@b\u00fccher.de",
                                   "ada@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"])
def test_single_script_international_domains_are_taken(api, email):
    assert api.post(SIGNUP, {"loginId": email}).status_code == 200


@pytest.mark.parametrize("email", [
    "ada@exa\u200bmple.com",  # zero-width space
    "ada\u2066@example.com",  # left-to-right isolate
    "ada@example.com\u202e",  # right-to-left override
])
def test_invisible_and_bidi_characters_are_refused(api, email):
    assert_error(api.post(SIGNUP, {"loginId": email}), 400, "E062101")


# Text that reaches mail headers and bodies is neutralised.

def test_cr_lf_in_a_name_used_in_the_subject_is_neutralised(api, real_mail):
    # The name is printed only in mail to an address its user verified: sign up, verify, then sign in.
    api.post(SIGNUP, {"loginId": "eve@example.com", "user": {"name": "Eve\r\nBcc: all@example.com"}})
    token = re.search(r"[?&]t=([\w-]+)", real_mail[0].body).group(1)
    assert api.post("/v1/auth/magiclink/verify", {"token": token}).status_code == 200
    real_mail.clear()
    response = api.post("/v1/auth/magiclink/signin/email", {
        "loginId": "eve@example.com",
        "loginOptions": {"templateId": "named", "templateOptions": {"product": "Pro\nTo: x@example.com"}},
    })
    assert response.status_code == 200
    [mail] = real_mail
    assert mail.subject == "Hello Eve Bcc: all@example.com, your Pro To: x@example.com link"
    assert mail.recipients() == ["eve@example.com"]
    assert "\n" not in mail.message()["Subject"]


def test_bidi_override_in_a_name_is_neutralised_in_the_stored_user(api, outbox):
    api.post(SIGNUP, {"loginId": "eve@example.com", "user": {"name": "Eve\u202egnp.exe"}})
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert verified["user"]["name"] == "Eve gnp.exe"


def test_unparseable_forwarded_for_falls_back_to_the_peer(api, limits):
    limits(NUM_PROXIES=1)
    response = api.post(SIGNUP, {"loginId": "ada@example.com"}, HTTP_X_FORWARDED_FOR="not-an-ip")
    assert response.status_code == 200
    assert PendingLink.objects.get().requester_ip == "127.0.0.1"


@pytest.mark.parametrize("length", [21, 25, 32])
def test_a_sign_up_phone_wider_than_its_column_is_refused_with_the_error_json(api, outbox, length):
    """The red team's sign-up with a 21-32 character `user.phone`: accepted, and its link a 500 when verified
    (varchar(20)), on the API and the landing page; anyone could do it to a victim's sign-up."""
    body = {"loginId": "victim@example.com", "user": {"phone": "+1" + "5" * (length - 2)}}
    response = api.post("/v1/auth/magiclink/signup/email", body)
    assert response.status_code == 400 and response.json()["errorCode"] == "E011004"
    assert outbox == []


def test_a_stored_link_with_a_too_wide_phone_is_an_error_page_and_json_not_a_500(api, client, outbox):
    """A link stored before the rule: the verify answers the error JSON, the landing page an error page."""
    from magiclink_auth.models import PendingLink

    from .web_helpers import confirm, token_in

    assert api.post("/v1/auth/magiclink/signup/email", {"loginId": "victim@example.com"}).status_code == 200
    PendingLink.objects.update(user_data={"phone": "+1" + "5" * 30})
    token = token_in(outbox[-1])
    refused = api.post("/v1/auth/magiclink/verify", {"token": token})
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E011004"
    page = confirm(client, token)
    assert page.status_code == 400 and b"<html" in page.content.lower()
