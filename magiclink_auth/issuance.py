"""Issuing a link: the one service every flow that sends one goes through (sign-up, sign-in, the staff
link, email and phone updates), and the answer made instead where enumeration safety sends nothing.

A link is made, bound to the browser that asked, stored with its delivery state (one INSERT) and queued,
in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import agents, crossdevice, enchanted, limits, signals
from .errors import MagicLinkError
from .identifiers import EMAIL, SMS, mask
from .models import PendingLink
from .network import client_ip
from .redirects import add_token, resolve_redirect_uri
from .tasks import delivery_fields, message_context, queue_delivery
from .tokens import create_link, lock, new_token
from .users import get_profile

__all__ = [
    "RequestMeta", "StartResult", "LoginOptions", "issue_link", "answer_without_link", "describe_request",
    "format_utc", "UPDATE_PURPOSES",
]

# Links that change an account's contact (of this method); they act for the session that asked, so they are
# always bound to it.
UPDATE_PURPOSES = {PendingLink.Purpose.UPDATE_EMAIL: EMAIL, PendingLink.Purpose.UPDATE_PHONE: SMS}


@dataclass(frozen=True)
class RequestMeta:
    """What a flow may know of the request: enough to record, nothing to build a URL from."""

    ip: str | None = None
    user_agent: str = ""
    request: Any = None
    # Who is asking for or opening a link (crossdevice.py): its browser, session and the number it offers.
    opener: crossdevice.Opener = field(default_factory=crossdevice.Opener)

    @classmethod
    def of(cls, request, *, ip: str | None = None, opener: crossdevice.Opener | None = None) -> RequestMeta:
        """From a Django request (or none); ``ip`` when the caller knows the client better than REMOTE_ADDR;
        ``opener`` when the caller knows more than the browser cookie (a session, a number)."""
        if request is None:
            return cls(opener=opener or crossdevice.Opener())
        return cls(
            ip=ip or client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],  # the width of the stored column
            request=request,
            opener=opener or crossdevice.Opener(browser=crossdevice.browser_id(request)),
        )


@dataclass(frozen=True)
class StartResult:
    method: str
    masked_address: str
    # None when no link was made: an enumeration-safe answer (notices.py).
    link: PendingLink | None
    # For a link that acts for another device or session: the pending reference and the number to match.
    handover: crossdevice.Handover = field(default_factory=crossdevice.Handover)
    # An enchanted link's number to show the waiting side (``linkId``); "" for a magic link.
    link_number: str = ""


@dataclass(frozen=True)
class LoginOptions:
    custom_claims: dict[str, Any] = field(default_factory=dict)
    template_id: str = ""
    template_options: dict[str, str] = field(default_factory=dict)
    revoke_other_sessions: bool = False
    locale: str = ""
    stepup: bool = False
    mfa: bool = False
    # Hand the session to the tab that asked (a pending reference), once the link is confirmed anywhere.
    cross_device: bool = False
    # Set by the enchanted-link calls, never from a request body: send a set of numbered links (it implies
    # cross_device: the set's right number is the handover's number).
    enchanted: bool = False

    @classmethod
    def from_request_data(cls, data: dict | None) -> LoginOptions:
        """From a validated ``loginOptions`` object of a request body (absent or null: the defaults)."""
        data = data or {}
        return cls(
            custom_claims=data.get("customClaims") or {},
            template_id=data.get("templateId") or "",
            template_options=data.get("templateOptions") or {},
            revoke_other_sessions=bool(data.get("revokeOtherSessions")),
            locale=data.get("locale") or "",
            stepup=bool(data.get("stepup")),
            mfa=bool(data.get("mfa")),
            cross_device=bool(data.get("crossDevice")),
        )

    def as_stored(self) -> dict[str, Any]:
        return {
            "customClaims": self.custom_claims,
            "templateId": self.template_id,
            "templateOptions": self.template_options,
            "revokeOtherSessions": self.revoke_other_sessions,
            "locale": self.locale,
        }


def issue_link(
    *, purpose: str, method: str, login_id: str, target: str, user, uri: str | None,
    options: LoginOptions, meta: RequestMeta, user_data: dict[str, Any] | None = None,
    extra_options: dict[str, Any] | None = None, notice: str = "", extra_context: dict[str, Any] | None = None,
    refusal: str = "",
) -> StartResult:
    """Make, bind and queue a link: the one way every flow (sign-up, sign-in, update) issues one.

    With ``refusal`` (an enumeration-safe answer that must not send), the same work is done, so the answer
    takes as long, but the link is born void and is never sent: the reason is recorded as its delivery
    error, for the admin."""
    redirect_uri = resolve_redirect_uri(uri)
    who = limits.requester(method, login_id, meta)
    # The message's context and the token come first, so the link is stored with its delivery in one INSERT.
    context = message_context(method, target, name=_greeting_name(user, method, target),
                              template_options=options.template_options, notice=notice, extra=extra_context,
                              asked=describe_request(meta, cross_device=options.cross_device))
    token = new_token()
    allowance = claim = None
    handover = crossdevice.Handover()
    choice = enchanted.new_numbers() if options.enchanted else None
    if choice:
        extra_options = {**(extra_options or {}), enchanted.OPTION: choice}
    # Sealed before the transaction: on SQLite it holds the database's write lock, which the work in it
    # keeps every other writer waiting for.
    delivery = delivery_fields(add_token(redirect_uri, token), context, refusal=refusal)
    try:
        # One transaction, one commit: the lock, the older links voided, the link with its delivery state,
        # the audit row of link_requested (its receivers run inside: a failing one leaves no half-made link).
        with transaction.atomic():
            # One link at a time per login ID: the cooldown is decided and older links voided under the lock.
            lock(who.key)
            limits.check_cooldown(purpose, who)
            if refusal:
                # A void link holds no cooldown of its own: claim it as an answer without a link does.
                claim = limits.claim_cooldown(purpose, who)
            allowance = limits.allow(method, login_id, who)
            link, _ = create_link(
                token=token,
                purpose=purpose,
                method=method,
                login_id=login_id,
                target=target,
                user=user,
                user_data=user_data or {},
                redirect_uri=redirect_uri,
                login_options={**options.as_stored(), **(extra_options or {})},
                requester_ip=meta.ip,
                requester_user_agent=meta.user_agent[:512],
                limit_key=who.key,
                requester_known=who.known,
                **delivery,
            )
            if choice:
                enchanted.add_decoys(link, token)
            if options.cross_device or choice or purpose in UPDATE_PURPOSES:
                # The link acts for the device or session that asked: bind it there, with a number to match
                # (an enchanted set's right label: picking it is giving the number).
                handover = crossdevice.begin(link, browser=meta.opener.browser,
                                             cross_device=options.cross_device or bool(choice),
                                             number=str(choice["number"]) if choice else None)
                if refusal and handover.pending_ref:
                    # A void link's reference would poll as invalid; a decoy polls as pending, as a live one.
                    handover = crossdevice.Handover(crossdevice.decoy(cross_device=True).pending_ref,
                                                    handover.number)
            queue_delivery(link)
            # Inside the transaction, so that a failure here (the audit log, a receiver) leaves no link behind
            # and the 503 it answers is true: nothing was queued.
            signals.link_requested.send(sender=PendingLink, link=link, request=meta.request)
    except BaseException:
        if allowance is not None:
            allowance.give_back()  # no message was made: it counts against no limit
        limits.release_cooldown(claim)
        raise
    return StartResult(method=method, masked_address=mask(method, target), link=link, handover=handover,
                       link_number=str(choice["number"]) if choice else "")


def _greeting_name(user, method: str, target: str) -> str:
    """The user's name, only in mail to an address they verified: a name chosen at sign-up (or by whoever
    asked) is never printed in a genuine message to an address that has not confirmed it is theirs."""
    if user is None:
        return ""
    profile = get_profile(user)
    field = "email" if method == EMAIL else "phone"
    verified = getattr(profile, f"verified_{field}") and getattr(profile, field) == target
    return profile.name if verified else ""


def describe_request(meta: RequestMeta, *, cross_device: bool = False) -> dict[str, Any]:
    """What a message says of the request: a browser and system name, the time, and whether the link signs
    in the device that asked. Never the IP or the raw User-Agent (attacker-chosen text)."""
    return {**agents.describe(meta.user_agent), "at": format_utc(timezone.now()), "cross_device": cross_device}


def format_utc(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def answer_without_link(method: str, login_id: str, uri: str | None, meta: RequestMeta,
                         options: LoginOptions) -> StartResult:
    """The success answer where no link is made: the URI is checked and the limits count as for a link
    (the cooldown claimed as a sign-in link would hold it), so neither the answer nor a later 429 tells
    the caller which case this was."""
    resolve_redirect_uri(uri)
    who = limits.requester(method, login_id, meta)
    claim = limits.claim_cooldown(PendingLink.Purpose.SIGN_IN, who)
    try:
        limits.allow(method, login_id, who)
    except MagicLinkError:
        limits.release_cooldown(claim)
        raise
    cross_device = options.cross_device or options.enchanted
    handover = crossdevice.decoy(cross_device=True) if cross_device else crossdevice.Handover()
    return StartResult(method=method, masked_address=mask(method, login_id), link=None, handover=handover,
                       link_number=enchanted.link_number(None) if options.enchanted else "")
