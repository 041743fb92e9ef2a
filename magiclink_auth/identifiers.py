"""Login IDs: normalise and validate email addresses and phone numbers, and mask them for responses.

Emails are matched case-insensitively (``casefold``) but a message is always sent to the address stored
for the login ID, never to the one typed: ``mıke@example.org`` (dotless ı) must not reach ``mike@``
(CVE-2019-19844). Addresses that NFKC normalisation would change (fullwidth ``＠``, the Kelvin sign,
ligatures) are refused outright rather than folded, because folding is how homoglyphs sneak in.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .errors import ErrorKey, MagicLinkError
from .models import Method

__all__ = [
    "EMAIL", "SMS", "is_mixed_script", "normalize_email", "normalize_phone", "normalize", "mask_email",
    "mask_phone", "counting_key",
]

# The delivery methods, as models.Method names them.
EMAIL = Method.EMAIL
SMS = Method.SMS
MAX_EMAIL_LENGTH = 254


def _has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in value)


# Scripts that may share one domain label (UTS #39 "highly restrictive"): Japanese, Chinese and Korean
# names mix Han with kana, Bopomofo or Hangul, and Latin; any other mix is how look-alike domains are made.
_SCRIPT_MIXES = [
    {"LATIN", "CJK", "HIRAGANA", "KATAKANA"}, {"LATIN", "CJK", "BOPOMOFO"}, {"LATIN", "CJK", "HANGUL"},
]


def _scripts(label: str) -> set[str]:
    """The scripts of a label's letters, named as Unicode names them (LATIN, CYRILLIC, GREEK, CJK, ...)."""
    return {unicodedata.name(ch, "UNKNOWN").split(" ")[0] for ch in label if ch.isalpha()}


def is_mixed_script(domain: str) -> bool:
    """True when a label of ``domain`` mixes scripts, as ``pаypal.com`` with a Cyrillic ``а`` does
    (typed as such or as its punycode ``xn--pypal-4ve.com``)."""
    for label in domain.split("."):
        if label.lower().startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except ValueError:
                return True
        scripts = _scripts(label)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_MIXES):
            return True
    return False


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
        raise MagicLinkError(ErrorKey.INVALID_EMAIL)
    try:
        validate_email(value)
    except ValidationError:
        raise MagicLinkError(ErrorKey.INVALID_EMAIL) from None
    if value.endswith("]"):
        # An IP-literal domain (`a@[127.0.0.1]`): mail to a bare address, never an address a site owns.
        raise MagicLinkError(ErrorKey.INVALID_EMAIL)
    if is_mixed_script(value.rpartition("@")[2]):
        raise MagicLinkError(ErrorKey.CONFUSABLE_ADDRESS)
    return value.casefold()


def normalize_phone(value: str) -> str:
    """Return a phone number in E.164. Only international numbers (``+`` and a country code) are taken."""
    value = (value or "").strip()
    if not value or len(value) > 32 or _has_control_chars(value) or unicodedata.normalize("NFKC", value) != value:
        raise MagicLinkError(ErrorKey.INVALID_PHONE)
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise MagicLinkError(ErrorKey.INVALID_PHONE) from None
    if not phonenumbers.is_possible_number(number):
        raise MagicLinkError(ErrorKey.INVALID_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(method: str, value: str) -> str:
    return normalize_email(value) if method == EMAIL else normalize_phone(value)


def counting_key(method: str, login_id: str) -> str:
    """The form of a normalised login ID that rate limits count: one mailbox, one count.

    For counting only, never for delivery or matching: ``"x"@``, ``x+tag@`` and ``x@`` reach one mailbox
    at most providers, and an internationalised domain and its punycode are one domain.
    """
    if method != EMAIL:
        return login_id
    local, _, domain = login_id.rpartition("@")
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = re.sub(r"\\(.)", r"\1", local[1:-1])
    local = local.partition("+")[0] or local
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # a label the idna codec refuses (too long): count it as typed
    return f"{local}@{domain}"


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = number.lstrip("+")
    return "+" + "*" * max(len(digits) - 4, 0) + digits[-4:]


def mask(method: str, address: str) -> str:
    return mask_email(address) if method == EMAIL else mask_phone(address)
