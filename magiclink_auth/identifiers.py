"""Login IDs: normalise and validate email addresses and phone numbers, and mask them for responses.

Emails are matched case-insensitively (``casefold``) but a message is always sent to the address stored
for the login ID, never to the one typed: ``mıke@example.org`` (dotless ı) must not reach ``mike@``
(CVE-2019-19844). Addresses that NFKC normalisation would change (fullwidth ``＠``, the Kelvin sign,
ligatures) are refused outright rather than folded, because folding is how homoglyphs sneak in.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .errors import MagicLinkError

__all__ = ["EMAIL", "SMS", "normalize_email", "normalize_phone", "normalize", "mask_email", "mask_phone"]

EMAIL = "email"
SMS = "sms"
MAX_EMAIL_LENGTH = 254


def _has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in value)


def normalize_email(value: str) -> str:
    """Return the matching key of an email address: trimmed and case-folded."""
    value = (value or "").strip()
    if (
        not value
        or len(value) > MAX_EMAIL_LENGTH
        or value.count("@") != 1
        or _has_control_chars(value)
        or unicodedata.normalize("NFKC", value) != value
    ):
        raise MagicLinkError("invalid_email")
    try:
        validate_email(value)
    except ValidationError:
        raise MagicLinkError("invalid_email") from None
    return value.casefold()


def normalize_phone(value: str) -> str:
    """Return a phone number in E.164. Only international numbers (``+`` and a country code) are taken."""
    value = (value or "").strip()
    if not value or len(value) > 32 or _has_control_chars(value) or unicodedata.normalize("NFKC", value) != value:
        raise MagicLinkError("invalid_phone")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise MagicLinkError("invalid_phone") from None
    if not phonenumbers.is_possible_number(number):
        raise MagicLinkError("invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(method: str, value: str) -> str:
    return normalize_email(value) if method == EMAIL else normalize_phone(value)


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = number.lstrip("+")
    return "+" + "*" * max(len(digits) - 4, 0) + digits[-4:]


def mask(method: str, address: str) -> str:
    return mask_email(address) if method == EMAIL else mask_phone(address)
