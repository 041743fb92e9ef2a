"""The management API's calls that end-to-end tests need, authorised as the SDKs send them:
``Authorization: Bearer <projectId>:<managementKey>``. Every other ``/v1/mgmt/`` path answers E011312.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .. import managed_users, management_keys
from ..errors import ErrorKey, MagicLinkError
from ..issuance import LoginOptions
from ..models import Method
from .schema import SCHEMAS
from .serializers import LoginOptionsSerializer, parse
from .views import MagicLinkAPIView, NotFoundView

__all__ = [
    "LicenseView", "CreateUserView", "CreateTestUserView", "LoadUserView", "DeleteUserView",
    "DeleteAllTestUsersView", "GenerateMagicLinkView", "GenerateEnchantedLinkView", "EmbeddedLinkView",
    "SignUpEmbeddedLinkView", "not_supported",
]

# The delivery methods a generated test link may name; the SDKs' others (voice, whatsapp, Embedded)
# are refused with the one code every path uses for them.
METHODS = set(Method)


def _text(max_length: int = 254) -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=max_length)


class CreateUserSerializer(serializers.Serializer):
    loginId = serializers.CharField(max_length=254)
    email = _text()
    phone = _text(32)
    displayName = _text(150)
    givenName = _text(150)
    middleName = _text(150)
    familyName = _text(150)
    picture = _text(1024)
    customAttributes = serializers.DictField(required=False, allow_null=True)
    verifiedEmail = serializers.BooleanField(required=False, allow_null=True)
    verifiedPhone = serializers.BooleanField(required=False, allow_null=True)
    status = _text(10)
    additionalLoginIds = serializers.ListField(child=serializers.CharField(max_length=254), required=False,
                                               allow_null=True, max_length=20)


class UserRefSerializer(serializers.Serializer):
    loginId = _text()
    userId = _text(64)


class GenerateLinkSerializer(serializers.Serializer):
    loginId = serializers.CharField(max_length=254)
    deliveryMethod = serializers.CharField(max_length=16, required=False)
    URI = _text(2048)
    loginOptions = LoginOptionsSerializer(required=False, allow_null=True)


class EmbeddedLinkSerializer(serializers.Serializer):
    loginId = serializers.CharField(max_length=254)
    customClaims = serializers.DictField(required=False, allow_null=True)
    timeout = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class SignUpEmbeddedLinkSerializer(EmbeddedLinkSerializer):
    user = serializers.DictField(required=False, allow_null=True)
    loginOptions = LoginOptionsSerializer(required=False, allow_null=True)


class ManagementAPIView(MagicLinkAPIView):
    """Authorised by a live management key instead of a refresh JWT."""

    management_key = None

    def _check_authorization(self, request: Request) -> None:
        self.management_key = management_keys.authenticate(super()._check_authorization(request))
        return None


@extend_schema(**SCHEMAS["mgmt-license"])
class LicenseView(ManagementAPIView):
    """What the SDKs fetch when built with a management key. No rate-limit tier here: the answer says so,
    and the SDKs then send no license header."""

    def get(self, request: Request) -> Response:
        return Response({"rateLimitTier": ""})


class _CreateView(ManagementAPIView):
    test = False

    def post(self, request: Request) -> Response:
        data = parse(CreateUserSerializer, self.body(request)).validated_data
        user = managed_users.create(data, test=self.test)
        return Response({"user": managed_users.managed_user_json(user)})


@extend_schema(**SCHEMAS["mgmt-user-create"])
class CreateUserView(_CreateView):
    pass


@extend_schema(**SCHEMAS["mgmt-user-create-test"])
class CreateTestUserView(_CreateView):
    test = True


@extend_schema(**SCHEMAS["mgmt-user-load"])
class LoadUserView(ManagementAPIView):
    def get(self, request: Request) -> Response:
        ref = parse(UserRefSerializer, request.query_params.dict()).validated_data
        user = managed_users.load(login_id=ref.get("loginId") or "", user_id=ref.get("userId") or "")
        return Response({"user": managed_users.managed_user_json(user)})


@extend_schema(**SCHEMAS["mgmt-user-delete"])
class DeleteUserView(ManagementAPIView):
    def post(self, request: Request) -> Response:
        ref = parse(UserRefSerializer, self.body(request)).validated_data
        managed_users.delete(login_id=ref.get("loginId") or "", user_id=ref.get("userId") or "")
        return Response({})


@extend_schema(**SCHEMAS["mgmt-user-delete-all-test"])
class DeleteAllTestUsersView(ManagementAPIView):
    def delete(self, request: Request) -> Response:
        managed_users.delete_all_test_users()
        return Response({})


def delivery_method(name: str | None) -> str:
    if (name or "email") not in METHODS:
        raise MagicLinkError(ErrorKey.CHANNEL_NOT_SUPPORTED)
    return name or "email"


@extend_schema(**SCHEMAS["mgmt-generate-magiclink"])
class GenerateMagicLinkView(ManagementAPIView):
    def post(self, request: Request) -> Response:
        data = parse(GenerateLinkSerializer, self.body(request)).validated_data
        method = delivery_method(data.get("deliveryMethod"))
        if managed_users.method_of(data["loginId"]) != method:
            raise MagicLinkError(ErrorKey.LOGIN_ID_MISMATCH)
        login_id, url, _ = managed_users.test_link(
            data["loginId"], uri=data.get("URI"), options=_stored_options(data)
        )
        return Response({"link": url, "loginId": login_id})


@extend_schema(**SCHEMAS["mgmt-generate-enchantedlink"])
class GenerateEnchantedLinkView(ManagementAPIView):
    """The link with the right number, and the pending reference the test waits with."""

    def post(self, request: Request) -> Response:
        data = parse(GenerateLinkSerializer, self.body(request)).validated_data
        login_id, url, pending_ref = managed_users.test_link(
            data["loginId"], uri=data.get("URI"), options=_stored_options(data),
            enchanted_link=True,
        )
        return Response({"link": url, "loginId": login_id, "pendingRef": pending_ref})


@extend_schema(**SCHEMAS["mgmt-embedded-link"])
class EmbeddedLinkView(ManagementAPIView):
    def post(self, request: Request) -> Response:
        data = parse(EmbeddedLinkSerializer, self.body(request)).validated_data
        claims = LoginOptionsSerializer().validate_customClaims(data.get("customClaims"))
        return Response({"token": managed_users.embedded_token(
            data["loginId"], custom_claims=claims, timeout=data.get("timeout") or 0,
        )})


@extend_schema(**SCHEMAS["mgmt-signup-embedded-link"])
class SignUpEmbeddedLinkView(ManagementAPIView):
    def post(self, request: Request) -> Response:
        data = parse(SignUpEmbeddedLinkSerializer, self.body(request)).validated_data
        options = LoginOptions.from_request_data(data.get("loginOptions"))
        return Response({"token": managed_users.embedded_token(
            data["loginId"], custom_claims=options.custom_claims, timeout=data.get("timeout") or 0,
            sign_up_user=sign_up_data(data.get("user") or {}),
        )})


def sign_up_data(user: dict) -> dict[str, str]:
    """The sign-up's user data from the SDK's user object, sent camelCase (Node) or snake_case (Python)."""
    def text(*names: str) -> str:
        return next((str(user[n])[:150] for n in names if isinstance(user.get(n), str) and user[n]), "")

    return {"name": text("name", "displayName", "display_name"), "givenName": text("givenName", "given_name"),
            "middleName": text("middleName", "middle_name"), "familyName": text("familyName", "family_name")}


# Management calls not served here answer the error JSON, whoever asks, as any unknown path does.
not_supported = NotFoundView.as_view(error_key="management_not_supported")


def _stored_options(data: dict) -> dict:
    return LoginOptions.from_request_data(data.get("loginOptions")).as_stored()
