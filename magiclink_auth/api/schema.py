"""The OpenAPI 3 description of the API (drf-spectacular), served at ``v1/openapi.json``.

Each view carries ``@extend_schema(**SCHEMAS[...])``; the response bodies here are what the views render
(``users.user_json``, ``keys.jwks``, ``views.jwt_response``) and the error responses list, per status, the
protocol codes an endpoint can answer, read from the ``ERRORS`` table so the two cannot drift apart.
"""

from __future__ import annotations

from collections import defaultdict

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from ..errors import ERRORS
from ..models import Method
from .serializers import (
    MyTenantsSerializer,
    PendingSessionSerializer,
    SelectTenantSerializer,
    SignUpSerializer,
    StartSerializer,
    UpdateEmailSerializer,
    UpdatePhoneSerializer,
    VerifySerializer,
)

__all__ = ["AutoSchema", "SCHEMAS", "OpenAPIView"]

SECURITY_SCHEME = "projectId"


class ErrorSerializer(serializers.Serializer):
    errorCode = serializers.CharField(help_text="The protocol error code, e.g. E062501 (see README).")
    errorDescription = serializers.CharField(help_text="What the code means.")
    errorMessage = serializers.CharField(help_text="Detail for this failure; never a secret.")


class MaskedAddressSerializer(serializers.Serializer):
    maskedEmail = serializers.CharField(required=False, help_text="Email starts: the masked address.")
    maskedPhone = serializers.CharField(required=False, help_text="SMS starts: the masked number.")
    pendingRef = serializers.CharField(
        required=False, help_text="Enchanted links, and `loginOptions.crossDevice`: poll `pending-session` with it."
    )
    code = serializers.CharField(
        required=False,
        help_text="With `loginOptions.crossDevice` and for updates: the number to show the person. Opened "
                  "anywhere but where it was asked, the link is used only by someone who types it (verify's `code`).",
    )
    linkId = serializers.CharField(required=False, help_text="Enchanted links: the number to show the person.")


class UserTenantSerializer(serializers.Serializer):
    tenantId = serializers.CharField()
    roleNames = serializers.ListField(child=serializers.CharField(), required=False)


class UserJsonSerializer(serializers.Serializer):
    userId = serializers.CharField()
    loginIds = serializers.ListField(child=serializers.CharField())
    name = serializers.CharField(allow_blank=True)
    givenName = serializers.CharField(allow_blank=True)
    middleName = serializers.CharField(allow_blank=True)
    familyName = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    verifiedEmail = serializers.BooleanField()
    verifiedPhone = serializers.BooleanField()
    roleNames = serializers.ListField(child=serializers.CharField())
    userTenants = UserTenantSerializer(many=True)
    customAttributes = serializers.DictField()
    status = serializers.ChoiceField(choices=["enabled", "disabled", "invited"])
    createdTime = serializers.IntegerField(help_text="Epoch seconds.")
    picture = serializers.CharField(allow_blank=True)


class JWTResponseSerializer(serializers.Serializer):
    sessionJwt = serializers.CharField()
    refreshJwt = serializers.CharField()
    cookieDomain = serializers.CharField(allow_blank=True)
    cookiePath = serializers.CharField()
    cookieMaxAge = serializers.IntegerField(help_text="Seconds the refresh JWT stays valid.")
    cookieExpiration = serializers.IntegerField(help_text="Epoch seconds the refresh JWT expires.")
    user = UserJsonSerializer()
    firstSeen = serializers.BooleanField()


class SignInSerializer(serializers.Serializer):
    userId = serializers.CharField()
    loginTime = serializers.IntegerField(help_text="Epoch seconds.")
    city = serializers.CharField(allow_blank=True, help_text="Empty: no geolocation here.")
    country = serializers.CharField(allow_blank=True, help_text="Empty: no geolocation here.")
    ip = serializers.CharField(allow_blank=True)


class TenantSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    customAttributes = serializers.DictField()


class TenantListSerializer(serializers.Serializer):
    tenants = TenantSerializer(many=True)


class JWKSerializer(serializers.Serializer):
    kty = serializers.CharField(help_text="`EC` (ES256), `OKP` (EdDSA) or `RSA` (RS256).")
    alg = serializers.CharField(help_text="`ES256`, `EdDSA` or `RS256`.")
    kid = serializers.CharField(help_text="The key's RFC 7638 thumbprint.")
    use = serializers.CharField()
    crv = serializers.CharField(required=False, help_text="EC and OKP keys: `P-256` or `Ed25519`.")
    x = serializers.CharField(required=False, help_text="EC and OKP keys.")
    y = serializers.CharField(required=False, help_text="EC keys.")
    n = serializers.CharField(required=False, help_text="RSA keys.")
    e = serializers.CharField(required=False, help_text="RSA keys.")


class JWKSetSerializer(serializers.Serializer):
    keys = JWKSerializer(many=True)


# ``{}``: the session calls take an empty object (any members are ignored); logout answers one, since the
# Node SDK parses every body as JSON.
EMPTY_REQUEST = {"application/json": {"type": "object", "description": "`{}`; members are ignored."}}
EMPTY_RESPONSE = OpenApiResponse(
    {"type": "object", "properties": {}, "additionalProperties": False}, description="`{}`"
)


# Failures any endpoint can answer: the body, the Authorization header, the rate limits.
COMMON = ["bad_request", "body_too_large", "unsupported_media_type", "project_id_missing",
          "project_id_mismatch", "rate_limited"]
BODY = ["missing_arguments", "invalid_arguments"]
# A call that sends a message: the address checks, the redirect allow-list, the message limits.
SEND = [*COMMON, *BODY, "invalid_request", "invalid_email", "invalid_phone", "confusable_address",
        "uri_missing", "uri_not_allowed", "template_options_invalid", "user_disabled", "resend_cooldown",
        "login_id_rate_limited", "sms_country_not_allowed", "sms_prefix_rate_limited", "sms_budget_exhausted"]
START = [*SEND, "custom_claims_reserved", "custom_claims_too_large"]
REFRESH = [*COMMON, "refresh_token_missing", "refresh_token_invalid", "session_revoked",
           "refresh_token_reused"]
# Step-up and MFA sign-ins present the refresh JWT of the session they elevate.
ELEVATION = ["elevation_refresh_missing", "elevation_wrong_user", "mfa_factor_present",
             "refresh_token_invalid", "session_revoked", "refresh_token_reused"]


def error_responses(*keys: str) -> dict[int, OpenApiResponse]:
    """Per HTTP status, the error JSON and the codes answered with it."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        spec = ERRORS[key]
        by_status[spec.status].append(f"`{spec.code}` {spec.description}")
    return {
        status: OpenApiResponse(ErrorSerializer, description="Error. Codes: " + "; ".join(lines) + ".")
        for status, lines in sorted(by_status.items())
    }


METHOD = OpenApiParameter(
    "method", OpenApiTypes.STR, OpenApiParameter.PATH, enum=Method.values, description="Delivery method."
)
AUTH = [{SECURITY_SCHEME: []}]


START_DESCRIPTION = (
    "Stores a single-use link (its token's hash only) and queues its delivery by email or SMS; the link is "
    "`URI` (or the default redirect URL) with `t=<token>` added, and `URI` must be in the allow-list. "
    "Answers `maskedEmail` for email and `maskedPhone` for SMS."
)


def _start(request_serializer, summary: str, *errors: str) -> dict:
    return {
        "summary": summary, "description": START_DESCRIPTION, "tags": ["magic link"],
        "request": request_serializer, "parameters": [METHOD], "auth": AUTH,
        "responses": {200: MaskedAddressSerializer, **error_responses(*START, *errors)},
    }


def _exchange(request_serializer, summary: str, description: str, *errors: str) -> dict:
    """A call that answers the JWT response for proof of a link (its token, or a pending reference)."""
    return {"summary": summary, "description": description, "tags": ["magic link"],
            "request": request_serializer, "auth": AUTH,
            "responses": {200: JWTResponseSerializer, **error_responses(*COMMON, *BODY, *errors)}}


def _update(request_serializer, address: str) -> dict:
    return {
        "summary": f"Send a link that adds or changes the signed-in user's {address}",
        "description": f"Authorised by the refresh JWT (`Bearer <projectId>:<refreshJwt>`); the `{address}` "
                       "becomes the user's once the link is verified. Answers like a start call.",
        "tags": ["account"], "request": request_serializer, "auth": AUTH,
        "responses": {200: MaskedAddressSerializer, **error_responses(
            *SEND, *REFRESH, "address_in_use", "login_id_not_yours", "update_rate_limited",
            "update_ip_rate_limited",
        )},
    }


def _enchanted(schema: dict) -> dict:
    """A magic-link start or update call that sends a numbered set and also answers linkId and pendingRef."""
    return {**schema, "tags": ["enchanted link"], "description": schema["description"] + (
        " Enchanted link: the message carries several links, each labelled with a number; the answer adds "
        "`linkId`, the number to show, and `pendingRef`, to collect the session with once the link with "
        "that number is verified.")}


def _session(summary: str, description: str, response, *errors: str) -> dict:
    return {"summary": summary,
            "description": description + " Authorization: `Bearer <projectId>:<refreshJwt>`.",
            "tags": ["session"], "request": EMPTY_REQUEST, "auth": AUTH,
            "responses": {200: response, **error_responses(*REFRESH, *errors)}}


MGMT = [*COMMON, "management_key_missing", "management_key_invalid"]


def _mgmt(summary: str, description: str, response, *errors: str, request=None) -> dict:
    return {"summary": summary,
            "description": description + " Authorization: `Bearer <projectId>:<managementKey>`.",
            "tags": ["management"], "request": request, "auth": AUTH,
            "responses": {200: response, **error_responses(*MGMT, *errors)}}


def _object(description: str, **properties: str) -> OpenApiResponse:
    return OpenApiResponse({"type": "object", "properties": {
        name: {"type": kind} for name, kind in properties.items()}}, description=description)


USER_ANSWER = _object("`{\"user\": <user JSON with \"test\">}`", user="object")
CREATE_ERRORS = ("missing_arguments", "invalid_arguments", "invalid_email", "invalid_phone",
                 "user_already_exists")
LINK_ERRORS = ("missing_arguments", "invalid_arguments", "user_not_found", "uri_missing", "uri_not_allowed",
               "custom_claims_reserved", "custom_claims_too_large")

SCHEMAS = {
    "signup": _start(SignUpSerializer, "Send a sign-up link", "user_already_exists"),
    "signin": _start(StartSerializer, "Send a sign-in link", "user_not_found", *ELEVATION),
    "signup-in": _start(StartSerializer, "Send a sign-in link, or a sign-up link to a new login ID"),
    "verify": _exchange(
        VerifySerializer, "Exchange a link's token for a session",
        "Consumes the link (once: a second verify of the same token fails) and answers the JWT response, "
        "also set as the `DS` and `DSR` cookies. `firstSeen` is true on a user's first verify only.",
        "link_invalid", "link_expired", "link_used", "link_superseded", "link_wrong_purpose", "link_stale",
        "user_disabled", "verify_rate_limited", "verify_attempts_exceeded", "number_required", "number_wrong",
        "number_attempts_exceeded", "merge_needs_owner",
    ),
    "pending-session": _exchange(
        PendingSessionSerializer, "Collect the session of a link confirmed on another device",
        "The tab that asked for a link with `loginOptions.crossDevice` polls with its `pendingRef`: "
        "`E062503` until the link is confirmed on any device, then the JWT response (and cookies), once.",
        "pending", "pending_ref_invalid", "pending_ref_used",
    ),
    "enchanted-signup": _enchanted(_start(SignUpSerializer, "Send a set of numbered sign-up links",
                                          "user_already_exists")),
    "enchanted-signin": _enchanted(_start(StartSerializer, "Send a set of numbered sign-in links",
                                          "user_not_found", *ELEVATION)),
    "enchanted-signup-in": _enchanted(_start(StartSerializer, "Send a set of numbered sign-in or sign-up links")),
    "enchanted-update-email": _enchanted(_update(UpdateEmailSerializer, "email")),
    "enchanted-update-phone": _enchanted(_update(UpdatePhoneSerializer, "phone")),
    "enchanted-verify": {**_exchange(
        VerifySerializer, "Verify a link of an enchanted set",
        "The link with the number the waiting side shows completes that side's session (collected with "
        "`pending-session`) and answers `{}`; a link with another number kills the whole set (`E062530`), "
        "after which every link of it answers `E062531`.",
        "link_invalid", "link_expired", "link_used", "link_superseded", "link_wrong_purpose", "link_stale",
        "user_disabled", "verify_rate_limited", "verify_attempts_exceeded", "enchanted_wrong_link",
        "enchanted_set_void",
    ), "responses": {200: EMPTY_RESPONSE, **error_responses(
        *COMMON, *BODY, "link_invalid", "link_expired", "link_used", "link_superseded", "link_wrong_purpose",
        "link_stale", "user_disabled", "verify_rate_limited", "verify_attempts_exceeded", "enchanted_wrong_link",
        "enchanted_set_void")}, "tags": ["enchanted link"]},
    "enchanted-pending-session": {**_exchange(
        PendingSessionSerializer, "Collect the session of a verified enchanted link",
        "`E062503` until the link with the right number is verified, then the JWT response, once; "
        "`E062531` once a wrong number killed the set.",
        "pending", "pending_ref_invalid", "pending_ref_used", "enchanted_set_void",
    ), "tags": ["enchanted link"]},
    "update-email": _update(UpdateEmailSerializer, "email"),
    "update-phone": _update(UpdatePhoneSerializer, "phone"),
    "refresh": _session(
        "Rotate the refresh JWT and issue a new session JWT",
        "The presented refresh JWT stops working. Presenting a rotated-out one again revokes the whole "
        "session (`E061304`), except within a few seconds of its rotation (a concurrent double refresh).",
        JWTResponseSerializer, "refresh_rate_limited",
    ),
    "logout": _session("Revoke this session", "Answers `{}` and clears the cookies.", EMPTY_RESPONSE),
    "logoutall": _session("Revoke every session of the user", "Answers `{}` and clears the cookies.",
                          EMPTY_RESPONSE),
    "me": {**_session("The signed-in user", "The user JSON.", UserJsonSerializer), "request": None},
    "history": {**_session(
        "The user's recent sign-ins", "From the audit log, newest first (at most 50).",
        SignInSerializer(many=True),
    ), "request": None},
    "my-tenants": {**_session(
        "The user's tenants", "`{\"dct\": true}`: the tenant selected in this session; `{\"ids\": [...]}`: "
        "those of the ids the user belongs to. From `TENANTS_PROVIDER`.", TenantListSerializer,
        "missing_arguments", "invalid_arguments",
    ), "request": MyTenantsSerializer},
    "select-tenant": {**_session(
        "Select the tenant the session works in",
        "Rotates the session as refresh does; the new session JWT (and every later one) carries the "
        "tenant id as `dct`.", JWTResponseSerializer, "missing_arguments", "invalid_arguments",
        "tenant_not_member", "refresh_rate_limited",
    ), "request": SelectTenantSerializer},
    "try-refresh": _session(
        "Refresh if there is a live session, else answer `{}`",
        "As refresh, but a missing, invalid or revoked refresh JWT answers `{}` with status 200.",
        OpenApiResponse({"oneOf": [{"$ref": "#/components/schemas/JWTResponse"},
                                   {"type": "object", "properties": {}, "additionalProperties": False}]},
                        description="The JWT response, or `{}` when there is no live session"),
        "refresh_rate_limited",
    ),
    "mgmt-license": _mgmt("The license the SDKs ask for when built with a management key",
                          "Answers `{\"rateLimitTier\": \"\"}`.", _object("", rateLimitTier="string")),
    "mgmt-user-create": _mgmt("Create a user", "Descope's create body; verified only where "
                              "`verifiedEmail` / `verifiedPhone` say so.", USER_ANSWER, *CREATE_ERRORS,
                              request=EMPTY_REQUEST),
    "mgmt-user-create-test": _mgmt("Create a test user", "As create; test links are generated only for "
                                   "test users.", USER_ANSWER, *CREATE_ERRORS, request=EMPTY_REQUEST),
    "mgmt-user-load": _mgmt("Load a user", "Query `loginId` or `userId`.", USER_ANSWER, "missing_arguments",
                            "user_not_found"),
    "mgmt-user-delete": _mgmt("Delete a user", "`loginId` or `userId`; deleting nobody succeeds.",
                              EMPTY_RESPONSE, "missing_arguments", request=EMPTY_REQUEST),
    "mgmt-user-delete-all-test": _mgmt("Delete every test user", "", EMPTY_RESPONSE),
    "mgmt-generate-magiclink": _mgmt(
        "A magic link for a test user, answered instead of sent", "`{\"link\", \"loginId\"}`.",
        _object("", link="string", loginId="string"), *LINK_ERRORS, "not_a_test_user",
        "channel_not_supported", "login_id_mismatch", request=EMPTY_REQUEST),
    "mgmt-generate-enchantedlink": _mgmt(
        "An enchanted link for a test user, answered instead of sent",
        '`{"link", "loginId", "pendingRef"}`: the link with the right number; verify it with '
        "`enchantedlink/verify`, then collect with `pendingRef`.",
        _object("", link="string", loginId="string", pendingRef="string"), *LINK_ERRORS, "not_a_test_user",
        request=EMPTY_REQUEST),
    "mgmt-embedded-link": _mgmt(
        "A sign-in token for a user, to verify with `magiclink/verify`", "`{\"token\"}`.",
        _object("", token="string"), *LINK_ERRORS, request=EMPTY_REQUEST),
    "mgmt-signup-embedded-link": _mgmt(
        "A sign-up token for a new login ID, to verify with `magiclink/verify`", "`{\"token\"}`.",
        _object("", token="string"), *LINK_ERRORS, "user_already_exists", request=EMPTY_REQUEST),
    "keys": {
        "summary": "The public signing keys (JWK set)",
        "description": "Every key that signs or signed live tokens, for verifying session JWTs offline.",
        "tags": ["keys"], "request": None, "auth": AUTH,
        "responses": {200: JWKSetSerializer, **error_responses(*COMMON)},
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "magiclink_auth API",
    "DESCRIPTION": (
        "Passwordless magic-link login, compatible with the Descope magic-link API. Every request carries "
        "`Authorization: Bearer <projectId>`, or `Bearer <projectId>:<refreshJwt>` for the session calls; "
        "every error is the JSON object `{errorCode, errorDescription, errorMessage}`."
    ),
    "VERSION": "1",
    "APPEND_COMPONENTS": {"securitySchemes": {SECURITY_SCHEME: {
        "type": "http", "scheme": "bearer",
        "description": "`<projectId>`, or `<projectId>:<refreshJwt>` for refresh, logout, logoutall and me.",
    }}},
    "ENUM_NAME_OVERRIDES": {},
}


class OpenAPIView(SpectacularJSONAPIView):
    """The schema of this app's endpoints only, with the prefix the site mounted them under as server URL."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    schema = None  # the schema view is not part of the API it describes
    urlconf = "magiclink_auth.urls"  # the API, and the cross-device endpoint routed beside it
    custom_settings = SPECTACULAR_SETTINGS

    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        mount = request.path[: -len("v1/openapi.json")]
        if mount != "/":
            response.data["servers"] = [{"url": mount.rstrip("/")}]
        return response
