"""The redirect allow-list: a link only ever points at the site's own URLs (the attack matrix of docs/security.md)."""

import pytest

from magiclink_auth.models import PendingLink

pytestmark = pytest.mark.django_db

ALLOWED = [
    "https://app.example.com/",
    "https://app.example.com/x",
    "https://app.example.com/x/y?z=1",
    "https://APP.example.com/x",
    "https://app.example.com:443/x",
    "http://localhost/callback",
]

REFUSED = [
    "https://app.example.com.evil.net/",
    "https://evil.net/?https://app.example.com/",
    "https://app.example.com@evil.net/",
    "https://user:pass@app.example.com/",
    "//evil.net",
    "/relative/path",
    "javascript:alert(1)",
    "http://app.example.com/x",  # plain http outside localhost and DEBUG
    "https://app.example.com:8443/x",
    "ftp://app.example.com/",
    "https://app.example.com\\@evil.net/",
    "https://app.example.com/\r\nx",
    "data:text/html,hi",
]


def _start(api, uri):
    return api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com", "URI": uri})


@pytest.mark.parametrize("uri", ALLOWED)
def test_allowed(api, uri):
    assert _start(api, uri).status_code == 200


@pytest.mark.parametrize("uri", REFUSED)
def test_refused(api, outbox, uri):
    response = _start(api, uri)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E062202"
    assert outbox == [] and not PendingLink.objects.exists()


def test_path_prefix_is_matched_on_a_slash_boundary(api, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REDIRECT_URLS": ["https://app.example.com/auth"]}
    assert _start(api, "https://app.example.com/auth/done").status_code == 200
    assert _start(api, "https://app.example.com/auth").status_code == 200
    assert _start(api, "https://app.example.com/authority").status_code == 400


@pytest.mark.parametrize("uri", [
    "http://localhost/app/%2e%2e/admin/login/",
    "http://localhost/app/%2E%2e/admin/login/",
    "http://localhost/app/../x",
    "http://localhost/app/./../x",
    "http://localhost/app/x/../../admin/",
    "http://localhost/app/..",
    "http://localhost/app/%2f../admin/",
    "http://localhost/app/%5c../admin/",
])
def test_dot_segments_cannot_climb_out_of_a_path_prefix(api, outbox, settings, uri):
    """The red team's escape: with http://host/app allowed, a browser sent the token to /admin/login/."""
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REDIRECT_URLS": ["http://localhost/app"]}
    response = _start(api, uri)
    assert response.status_code == 400 and response.json()["errorCode"] == "E062202"
    assert outbox == [] and not PendingLink.objects.exists()


@pytest.mark.parametrize(("uri", "stored"), [
    ("http://localhost/app/./x", "http://localhost/app/x"),
    ("http://localhost/app/x/../y?next=/a/../b", "http://localhost/app/y?next=/a/../b"),
    ("http://localhost/app/%2e/x", "http://localhost/app/x"),
])
def test_a_link_goes_where_the_allow_list_was_checked(api, outbox, settings, uri, stored):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REDIRECT_URLS": ["http://localhost/app"]}
    assert _start(api, uri).status_code == 200
    assert PendingLink.objects.get().redirect_uri == stored
    assert outbox[-1].url.startswith(stored.partition("?")[0] + "?")


def test_path_is_case_sensitive(api, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REDIRECT_URLS": ["https://app.example.com/auth/"]}
    assert _start(api, "https://app.example.com/AUTH/x").status_code == 400


def test_http_is_allowed_for_any_host_only_under_debug(api, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REDIRECT_URLS": ["http://app.example.com/"]}
    assert _start(api, "http://app.example.com/x").status_code == 400
    settings.DEBUG = True
    assert _start(api, "http://app.example.com/x").status_code == 200


def test_links_are_built_from_the_allow_list_not_the_host_header(api, outbox):
    response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com"},
                        HTTP_HOST="evil.net")
    assert response.status_code == 200
    assert outbox[-1].url.startswith("https://app.example.com/")


def test_poisoned_host_header_is_refused_and_nothing_is_sent(api, outbox, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = api.post("/v1/auth/magiclink/signup-in/email", {"loginId": "a@example.com"},
                        HTTP_HOST="www.example:dr.frankenstein@evil.tld")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E062714"
    assert outbox == []


@pytest.mark.parametrize("path", ["/v1/auth/me", "/v1/auth/magiclink/verify", "/v2/keys/P2testproject",
                                  "/v1/auth/magiclink/pending-session", "/v1/no/such/endpoint"])
def test_a_disallowed_host_gets_the_error_json_on_api_paths(client, settings, path):
    """The red team got Django's HTML 400 on API paths for a Host header outside ALLOWED_HOSTS."""
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.post(path, "{}", content_type="application/json", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["errorCode"] == "E062714"


def test_a_disallowed_host_on_a_page_keeps_djangos_answer(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/auth/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and "json" not in response["Content-Type"]
