"""Request bodies of the protocol. Unknown keys are ignored; every string has a length limit.

The SDKs send absent and ``null`` interchangeably (Python sends ``"URI": null``, Node omits it), so every
optional field takes both.
"""

from __future__ import annotations

import json
import re

from django.core.validators import RegexValidator
from rest_framework import serializers

from ..errors import ErrorKey, MagicLinkError
from ..jwts import RESERVED_CLAIMS
from ..models import Profile
from ..text import clean

__all__ = [
    "LoginOptionsSerializer", "StartSerializer", "SignUpSerializer", "UpdateEmailSerializer",
    "UpdatePhoneSerializer", "VerifySerializer", "PendingSessionSerializer", "MyTenantsSerializer",
    "SelectTenantSerializer", "parse",
]

MAX_CUSTOM_CLAIMS_BYTES = 4096
MAX_TEMPLATE_OPTIONS = 20
# Template option names end up as template variable names (``{{ options.product }}``).
TEMPLATE_OPTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}\Z")


class CleanCharField(serializers.CharField):
    """Text bound for a mail header or an SMS body: CR/LF, control and bidi characters become spaces."""

    def to_internal_value(self, data):
        return clean(super().to_internal_value(data))


def _optional_char(max_length: int, *, field_class=serializers.CharField, **kwargs) -> serializers.CharField:
    return field_class(required=False, allow_null=True, allow_blank=True, max_length=max_length, **kwargs)


def _optional_text(max_length: int) -> serializers.CharField:
    return _optional_char(max_length, field_class=CleanCharField)


def _template_id() -> serializers.CharField:
    return _optional_char(64, validators=[RegexValidator(r"^[A-Za-z0-9_-]*$")])


def _template_options() -> serializers.DictField:
    return serializers.DictField(child=CleanCharField(max_length=500, allow_blank=True), required=False,
                                 allow_null=True)


class LoginOptionsSerializer(serializers.Serializer):
    stepup = serializers.BooleanField(required=False, allow_null=True)
    mfa = serializers.BooleanField(required=False, allow_null=True)
    customClaims = serializers.DictField(required=False, allow_null=True)
    templateId = _template_id()
    templateOptions = _template_options()
    revokeOtherSessions = serializers.BooleanField(required=False, allow_null=True)
    locale = _optional_char(35, validators=[RegexValidator(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")])
    tenantId = _optional_char(64)
    # Not Descope's: ask for a `pendingRef` to collect the session with once the link is confirmed anywhere.
    crossDevice = serializers.BooleanField(required=False, allow_null=True)

    def validate_customClaims(self, value):
        if not value:
            return {}
        if RESERVED_CLAIMS & set(value):
            reserved = ", ".join(sorted(RESERVED_CLAIMS & set(value)))
            raise MagicLinkError(ErrorKey.CUSTOM_CLAIMS_RESERVED, f"Reserved: {reserved}")
        if len(json.dumps(value).encode()) > MAX_CUSTOM_CLAIMS_BYTES:
            raise MagicLinkError(ErrorKey.CUSTOM_CLAIMS_TOO_LARGE)
        return value

    def validate_templateOptions(self, value):
        if value and len(value) > MAX_TEMPLATE_OPTIONS:
            raise serializers.ValidationError(f"At most {MAX_TEMPLATE_OPTIONS} template options.")
        bad = sorted(name for name in value or {} if not TEMPLATE_OPTION_NAME.match(name))
        if bad:
            raise MagicLinkError(ErrorKey.TEMPLATE_OPTIONS_INVALID, f"Invalid option names: {len(bad)}")
        return value or {}


def _column(name: str) -> int:
    """The width of the profile column a user field is stored in: longer is refused here (E011004), never
    a database error when the link is verified."""
    return Profile._meta.get_field(name).max_length


class UserSerializer(serializers.Serializer):
    name = _optional_text(_column("name"))
    givenName = _optional_text(_column("given_name"))
    middleName = _optional_text(_column("middle_name"))
    familyName = _optional_text(_column("family_name"))
    email = _optional_char(_column("email"))
    phone = _optional_char(_column("phone"))


class StartSerializer(serializers.Serializer):
    # Longer than any valid login ID, so that an over-long address gets the specific invalid-email or
    # invalid-phone code rather than a generic one; the bound still keeps junk out.
    loginId = serializers.CharField(max_length=320)
    URI = _optional_char(2048)
    loginOptions = LoginOptionsSerializer(required=False, allow_null=True)


class SignUpSerializer(StartSerializer):
    user = UserSerializer(required=False, allow_null=True)


class UpdateSerializer(serializers.Serializer):
    loginId = serializers.CharField(max_length=320)
    URI = _optional_char(2048)
    addToLoginIDs = serializers.BooleanField(required=False, allow_null=True)
    onMergeUseExisting = serializers.BooleanField(required=False, allow_null=True)
    templateId = _template_id()
    templateOptions = _template_options()
    validate_templateOptions = LoginOptionsSerializer.validate_templateOptions


class UpdateEmailSerializer(UpdateSerializer):
    email = serializers.CharField(max_length=320)


class UpdatePhoneSerializer(UpdateSerializer):
    phone = serializers.CharField(max_length=64)


class VerifySerializer(serializers.Serializer):
    token = serializers.CharField(max_length=128)
    # Not Descope's: the number shown to whoever asked, for a link that acts for another device or session.
    code = _optional_char(16)


class PendingSessionSerializer(serializers.Serializer):
    pendingRef = serializers.CharField(max_length=128)


class MyTenantsSerializer(serializers.Serializer):
    dct = serializers.BooleanField(required=False, allow_null=True)
    ids = serializers.ListField(child=serializers.CharField(max_length=64), max_length=100, required=False,
                                allow_null=True)


class SelectTenantSerializer(serializers.Serializer):
    tenant = serializers.CharField(max_length=64)


def parse(serializer_class, data):
    """Validate ``data`` or raise the protocol error: E011002 when a required field is missing, else E011004."""
    if not isinstance(data, dict):
        raise MagicLinkError(ErrorKey.BAD_REQUEST)
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer
    missing = sorted(name for name, errors in serializer.errors.items() if _is_required(errors))
    if missing:
        raise MagicLinkError(ErrorKey.MISSING_ARGUMENTS, f"Missing: {', '.join(missing)}")
    raise MagicLinkError(ErrorKey.INVALID_ARGUMENTS, f"Invalid: {', '.join(sorted(serializer.errors))}")


def _is_required(errors) -> bool:
    missing = {"required", "blank", "null"}
    return isinstance(errors, list) and any(getattr(e, "code", "") in missing for e in errors)
