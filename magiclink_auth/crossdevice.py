"""Links that act for someone other than whoever opens them: pending references, number matching, and
binding a link to the browser that asked for it.

Three kinds of link act for another device or session: a cross-device sign-in (the session goes to the tab
that polls with a ``pendingRef``), an email or phone update (the address joins the account of the session
that asked), and a merge. Anyone who can make the site send a genuine message can ask for one, so the click
of the person at the address must not be enough. The design (docs/security.md, "Number matching"):

- ``begin(link, browser=...)`` is called when such a link is made. It records the requesting browser, makes
  the pending reference (cross-device only) and a short **number**, and returns both in a ``Handover``: the
  requester is shown the number (the start call's ``code``, the "check your inbox" page).
- ``confirm(link, opener)`` is called before the link is consumed. An ``Opener`` says who is opening it: the
  browser, the session it is signed in with, the number it offers. The browser that asked (or, for an
  account change, the session that asked) needs nothing more; anyone else must offer the number. Each wrong
  number counts; at ``NUMBER_MATCH_ATTEMPTS`` the link is voided, so it cannot be guessed at leisure.
  ``always=True`` asks for the number even from the requester (merges: see account_changes.py).
- ``settle(link, session, first_seen)`` hands the verified session to the pending reference, and
  ``collect(pending_ref)`` gives it to the polling tab, once.

The number is given back by typing it. Another confirmation of the same number plugs in through the same
``confirm``: an enchanted link sends several links, each labelled with a number, and the verify of the one
picked calls ``confirm(link, Opener(number=<that link's label>), tries=1)``, so one wrong pick kills it.

The number is stored as a keyed hash (HMAC with the site's key, salted by the link): it is short, so a
plain hash would be reversed by trying them all, but without ``SECRET_KEY`` a database copy tells nothing.
Wrong tries are counted with an atomic ``UPDATE ... SET number_tries = number_tries + 1`` outside the verify
transaction, so a refused verify cannot roll its count back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from . import sessions
from .conf import app_settings
from .cookies import browser_cookie_name
from .errors import ErrorKey, MagicLinkError
from .models import BrowserLogin, PendingLink, RefreshSession
from .tokens import hash_token, link_lifetime

__all__ = [
    "Handover", "Opener", "Collected", "browser_id", "begin", "decoy", "requires_number", "confirm", "settle",
    "collect", "new_number",
]

NUMBER_SALT = "magiclink_auth.crossdevice.number"
MAX_BROWSER_ID = 64


@dataclass(frozen=True)
class Handover:
    """What the requester is given: the reference to poll with (cross-device only) and the number to match."""

    pending_ref: str | None = None
    number: str | None = None


@dataclass(frozen=True)
class Opener:
    """Who is opening (confirming) a link.

    ``browser``: the hash of the browser's id cookie ("" when unknown, as for a server calling the API);
    ``session_id``: the magic-link session that browser or caller is signed in with; ``user_id``: the user
    signed in; ``number``: the number offered ("" for none).
    """

    browser: str = ""
    session_id: str = ""
    user_id: Any = None
    number: str = ""


@dataclass(frozen=True)
class Collected:
    tokens: sessions.IssuedTokens
    first_seen: bool


def browser_id(request: HttpRequest | None, *, create: bool = True) -> str:
    """The hash of this browser's id cookie. Without one, ``create`` gives the browser a new id for the rest
    of the request (a page then sets the cookie); otherwise "" (an API caller is no browser we know)."""
    if request is None:
        return ""
    raw = request.COOKIES.get(browser_cookie_name()) or getattr(request, "_magiclink_new_browser", "")
    if not raw or len(raw) > MAX_BROWSER_ID:
        if not create:
            return ""
        raw = secrets.token_urlsafe(24)
        request._magiclink_new_browser = raw
    return hash_token(raw)


def new_number(digits: int | None = None) -> str:
    """A number of ``digits`` digits without a leading zero (``NUMBER_MATCH_DIGITS`` by default)."""
    digits = digits or app_settings.NUMBER_MATCH_DIGITS
    low = 10 ** (digits - 1)
    return str(low + secrets.randbelow(9 * low))


def _digest(link_id: int, number: str) -> str:
    return salted_hmac(NUMBER_SALT, f"{link_id}:{number}", algorithm="sha256").hexdigest()


def begin(link: PendingLink, *, browser: str, cross_device: bool, digits: int | None = None,
          number: str | None = None) -> Handover:
    """Bind a new link to the browser that asked, with a number (``number``: one chosen by the caller, as an
    enchanted link's right label); with ``cross_device`` a pending reference."""
    pending_ref = secrets.token_urlsafe(32) if cross_device else None
    number = number or new_number(digits)
    BrowserLogin.objects.update_or_create(link=link, defaults={
        "requester_browser": browser,
        "pending_ref_hash": hash_token(pending_ref) if pending_ref else None,
        "number_hash": _digest(link.pk, number),
        "number_tries": 0,
    })
    return Handover(pending_ref=pending_ref, number=number)


def _decoys():
    return caches[app_settings.THROTTLE_CACHE]


def _decoy_key(pending_ref: str) -> str:
    return f"magiclink:decoy_ref:{hash_token(pending_ref)}"


def decoy(*, cross_device: bool, digits: int | None = None) -> Handover:
    """The answer of an enumeration-safe call that made no link: a number, and a pending reference that polls
    as pending for a link's lifetime as a real one does until confirmed, so neither tells anything."""
    pending_ref = secrets.token_urlsafe(32) if cross_device else None
    if pending_ref:
        _decoys().set(_decoy_key(pending_ref), True, int(link_lifetime().total_seconds()))
    return Handover(pending_ref=pending_ref, number=new_number(digits))


def _handover_of(link: PendingLink) -> BrowserLogin | None:
    try:
        return link.browser_login  # loaded with the link by find_link: no query
    except BrowserLogin.DoesNotExist:
        return None


def _is_requester(link: PendingLink, row: BrowserLogin, opener: Opener) -> bool:
    if row.requester_browser and opener.browser and constant_time_compare(row.requester_browser, opener.browser):
        return True
    asked_from = (link.login_options or {}).get("sessionId")
    return bool(asked_from and opener.session_id and str(opener.session_id) == str(asked_from))


def requires_number(link: PendingLink, opener: Opener, *, always: bool = False) -> bool:
    """Whether ``opener`` must give the link's number before the link may be used."""
    row = _handover_of(link)
    if row is None or not row.number_hash:
        return False
    return always or not _is_requester(link, row, opener)


def tries_left(link: PendingLink) -> int:
    row = _handover_of(link)
    used = row.number_tries if row is not None else 0
    return max(app_settings.NUMBER_MATCH_ATTEMPTS - used, 0)


def _clean(number: str) -> str:
    return "".join(ch for ch in str(number or "") if not ch.isspace())[:16]


def confirm(link: PendingLink, opener: Opener, *, always: bool = False, tries: int | None = None) -> None:
    """Let ``opener`` use the link, or raise: E062901 (the number is needed), E062902 (wrong number),
    E062903 (too many wrong numbers: the link is voided). ``tries`` overrides ``NUMBER_MATCH_ATTEMPTS``."""
    if not requires_number(link, opener, always=always):
        return
    row = _handover_of(link)
    limit = tries or app_settings.NUMBER_MATCH_ATTEMPTS
    offered = _clean(opener.number)
    if row.number_tries >= limit:
        raise MagicLinkError(ErrorKey.NUMBER_ATTEMPTS_EXCEEDED)
    if not offered:
        raise MagicLinkError(ErrorKey.NUMBER_REQUIRED)
    if constant_time_compare(row.number_hash, _digest(link.pk, offered)):
        return
    BrowserLogin.objects.filter(pk=row.pk).update(number_tries=F("number_tries") + 1)
    row.refresh_from_db(fields=["number_tries"])
    if row.number_tries >= limit:
        PendingLink.objects.filter(pk=link.pk, consumed_at=None, voided_at=None).update(voided_at=timezone.now())
        raise MagicLinkError(ErrorKey.NUMBER_ATTEMPTS_EXCEEDED)
    left = limit - row.number_tries
    tries = "try" if left == 1 else "tries"
    raise MagicLinkError(ErrorKey.NUMBER_WRONG, f"That is not the number. {left} {tries} left.")


def settle(link: PendingLink, session: RefreshSession, first_seen: bool) -> None:
    """After a verify: the session is what the waiting tab collects (``collect``)."""
    if _handover_of(link) is None:
        return
    BrowserLogin.objects.filter(link=link).update(session=session, confirmed_at=timezone.now(), first_seen=first_seen)


def collect(pending_ref: str) -> Collected:
    """Hand the waiting tab its session, once. E062503 until the link is confirmed."""
    row = (
        BrowserLogin.objects.select_related("link", "session__user")
        .filter(pending_ref_hash=hash_token(pending_ref)).first()
    )
    now = timezone.now()
    if row is None and _decoys().get(_decoy_key(pending_ref)):
        raise MagicLinkError(ErrorKey.PENDING)
    if row is None or row.link.voided_at is not None or row.link.expires_at <= now:
        raise MagicLinkError(ErrorKey.PENDING_REF_INVALID)
    if row.collected_at is not None:
        raise MagicLinkError(ErrorKey.PENDING_REF_USED)
    if row.session is None:
        raise MagicLinkError(ErrorKey.PENDING)
    if not BrowserLogin.objects.filter(pk=row.pk, collected_at=None).update(collected_at=now):
        raise MagicLinkError(ErrorKey.PENDING_REF_USED)
    return Collected(sessions.tokens_for(row.session), row.first_seen)
