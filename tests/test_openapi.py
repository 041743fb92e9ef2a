"""The OpenAPI schema: served at /v1/openapi.json, covering every endpoint with its bodies and errors."""

import json
import re

import pytest
from django.urls import URLResolver
from rest_framework.views import APIView

from magiclink_auth import urls as app_urls
from magiclink_auth.errors import ERRORS

pytestmark = pytest.mark.django_db

SCHEMA = "/v1/openapi.json"


def api_paths(patterns=None, prefix: str = "") -> set[str]:
    """Every API endpoint the app routes (its DRF views), as OpenAPI paths ({param} for <converter:param>)."""
    paths = set()
    for pattern in app_urls.urlpatterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths |= api_paths(pattern.url_patterns, route)
            continue
        view = getattr(pattern.callback, "cls", None)
        skipped = {"not-found", "mgmt-not-supported", "openapi"}
        if view is None or not issubclass(view, APIView) or pattern.name in skipped:
            continue
        paths.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return paths


@pytest.fixture
def schema(client):
    response = client.get(SCHEMA)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return json.loads(response.content)


def test_schema_is_served_without_credentials_and_lists_every_path(schema):
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == api_paths()
    # The helper above really found the routes, the cross-device one routed outside the API's URLconf too.
    assert {"/v1/auth/magiclink/verify", "/v1/auth/magiclink/pending-session"} <= set(schema["paths"])


def test_every_operation_documents_its_body_success_and_errors(schema):
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"projectId": []}], (method, path)
            responses = operation["responses"]
            assert "200" in responses and {"401", "413", "429"} <= set(responses), (method, path)
            for status, response in responses.items():
                body = response["content"]["application/json"]["schema"]  # every answer is a JSON body
                if status != "200":
                    assert body == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            if method == "post":
                assert "application/json" in operation["requestBody"]["content"], path
    assert set(components["Error"]["properties"]) == {"errorCode", "errorDescription", "errorMessage"}
    assert schema["components"]["securitySchemes"]["projectId"]["scheme"] == "bearer"
    logout = schema["paths"]["/v1/auth/logout"]["post"]["responses"]["200"]["content"]["application/json"]
    assert logout["schema"]["additionalProperties"] is False  # exactly `{}`


def test_error_codes_are_listed_under_their_status(schema):
    verify = schema["paths"]["/v1/auth/magiclink/verify"]["post"]["responses"]
    for key in ("link_invalid", "link_expired", "link_used", "link_superseded"):
        spec = ERRORS[key]
        assert spec.code in verify[str(spec.status)]["description"]
    signup = schema["paths"]["/v1/auth/magiclink/signup/{method}"]["post"]
    assert ERRORS["user_already_exists"].code in signup["responses"]["409"]["description"]
    (method,) = signup["parameters"]
    assert method["schema"]["enum"] == ["email", "sms"]


def test_response_bodies_match_what_the_api_renders(schema, api, signed_up):
    """The documented properties of the JWT response and the user JSON are exactly what verify answers."""
    body = signed_up()
    components = schema["components"]["schemas"]
    jwt_ref = schema["paths"]["/v1/auth/magiclink/verify"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(components[jwt_ref]["properties"]) == set(body)
    assert set(components[jwt_ref]["required"]) == set(body)
    user_ref = components[jwt_ref]["properties"]["user"]["allOf"][0]["$ref"].rsplit("/", 1)[1] \
        if "allOf" in components[jwt_ref]["properties"]["user"] \
        else components[jwt_ref]["properties"]["user"]["$ref"].rsplit("/", 1)[1]
    assert set(components[user_ref]["properties"]) == set(body["user"])
    [jwk] = api.get(f"/v2/keys/{'P2testproject'}").json()["keys"]
    assert set(components["JWK"]["required"]) <= set(jwk) <= set(components["JWK"]["properties"])


def test_schema_follows_the_mount_prefix(client, settings):
    settings.ROOT_URLCONF = "tests.urls_prefixed"
    schema = json.loads(client.get("/auth/v1/openapi.json").content)
    assert schema["servers"] == [{"url": "/auth"}]


def test_start_response_documents_every_key_it_can_answer(schema, api):
    response = api.post("/v1/auth/magiclink/signup-in/email",
                        {"loginId": "ada@example.com", "loginOptions": {"crossDevice": True}})
    assert response.status_code == 200
    start = schema["paths"]["/v1/auth/magiclink/signup-in/{method}"]["post"]["responses"]["200"]
    ref = start["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(response.json()) <= set(schema["components"]["schemas"][ref]["properties"])
