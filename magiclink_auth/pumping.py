"""SMS pumping guard: keep the site from paying for texts sent to numbers an attacker profits from.

Pumping fraud asks for many SMS to premium-rate ranges, usually in a few countries and in blocks of
consecutive numbers. Three defences, checked before a start call sends an SMS:

- an allow-list of country calling codes (``SMS_ALLOWED_COUNTRY_CODES``): none until configured, and a
  system check (W030) says so, because a guess here costs money (development backends that only print or
  file messages, ``reaches_people = False``, take any number);
- a cap per destination prefix (the first ``SMS_PREFIX_DIGITS`` digits of the E.164 number, country code
  included: a block of numbers, not one number) per hour (``SMS_RATE_PER_PREFIX``);
- a site-wide budget of SMS per hour (``SMS_RATE_SITEWIDE``).

Checked by the flows with the per-login-ID limits (``limits.py``), so they hold for every way of starting a
flow; the two caps count SMS actually sent, each with one atomic increment-and-read (``counters.py``), so a
burst of simultaneous requests cannot pass the budget together.
"""

from __future__ import annotations

import phonenumbers

from .conf import app_settings
from .delivery import get_backend
from .errors import ErrorKey, MagicLinkError
from .identifiers import SMS
from .ratelimit import MessageCap

__all__ = ["allowed_country_codes", "country_code", "destination_prefix", "check_country", "sms_caps",
           "SmsPrefixCap", "SmsBudget"]


def allowed_country_codes() -> set[int]:
    return {int(str(code).lstrip("+")) for code in app_settings.SMS_ALLOWED_COUNTRY_CODES}


def country_code(number: str) -> int:
    return phonenumbers.parse(number, None).country_code


def destination_prefix(number: str) -> str:
    return number.lstrip("+")[: max(app_settings.SMS_PREFIX_DIGITS, 1)]


def check_country(number: str) -> None:
    """Refuse (E062707) an SMS to a number outside the allowed countries, when SMS really go out: the
    console and file backends of development take any number."""
    if not get_backend(SMS).reaches_people:
        return
    code = country_code(number)
    if code not in allowed_country_codes():
        raise MagicLinkError(ErrorKey.SMS_COUNTRY_NOT_ALLOWED, f"SMS to +{code} is not enabled")


class SmsPrefixCap(MessageCap):
    scope = "sms_prefix"
    setting = "SMS_RATE_PER_PREFIX"
    error_key = ErrorKey.SMS_PREFIX_RATE_LIMITED


class SmsBudget(MessageCap):
    scope = "sms_budget"
    setting = "SMS_RATE_SITEWIDE"
    error_key = ErrorKey.SMS_BUDGET_EXHAUSTED


def sms_caps(number: str) -> list[MessageCap]:
    return [SmsPrefixCap(destination_prefix(number)), SmsBudget("site")]
