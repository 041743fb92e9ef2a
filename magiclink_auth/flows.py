"""The magic-link flows: sign-up, sign-in, sign-up-or-in and verify. Rules only; no HTTP here.

Each start call resolves who the link is for and where it may point, stores the link (hash only), and
queues its delivery; verify consumes the link once and opens a session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import account_changes, agents, crossdevice, elevation, enchanted, limits, signals
from .adapter import get_adapter
from .conf import app_settings
from .errors import MagicLinkError
from .existing_users import SharedAddress, find_owner
from .identifiers import EMAIL, mask, normalize
from .models import PendingLink, Profile
from .network import client_ip
from .notices import ACCOUNT_EXISTS, NO_ACCOUNT, queue_no_account_notice
from .redirects import add_token, resolve_redirect_uri
from .sessions import IssuedTokens, issue_tokens, open_session, revoke_all
from .tasks import delivery_fields, queue_delivery
from .tokens import consume, create_link, find_link, link_lifetime, lock, new_token
from .users import (
    create_user,
    get_profile,
    is_disabled,
    mark_login_id_verified,
    stored_login_id,
)

__all__ = [
    "RequestMeta", "StartResult", "VerifyResult", "LinkPreview", "sign_up", "sign_in", "sign_up_or_in", "verify",
    "preview", "sign_in_staff", "verify_enchanted",
]

logger = logging.getLogger("magiclink_auth")

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
class VerifyResult:
    user: Any
    tokens: IssuedTokens
    first_seen: bool
    link: PendingLink


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

    def as_stored(self) -> dict[str, Any]:
        return {
            "customClaims": self.custom_claims,
            "templateId": self.template_id,
            "templateOptions": self.template_options,
            "revokeOtherSessions": self.revoke_other_sessions,
            "locale": self.locale,
        }


def _send(
    *, purpose: str, method: str, login_id: str, target: str, user, uri: str | None,
    options: LoginOptions, meta: RequestMeta, user_data: dict[str, Any] | None = None,
    extra_options: dict[str, Any] | None = None, notice: str = "", extra_context: dict[str, Any] | None = None,
    refusal: str = "",
) -> StartResult:
    """Make, bind and queue a link. With ``refusal`` (an enumeration-safe answer that must not send), the
    same work is done, so the answer takes as long, but the link is born void and is never sent: the reason
    is recorded as its delivery error, for the admin."""
    redirect_uri = resolve_redirect_uri(uri)
    who = limits.requester(method, login_id, meta)
    # The message's context and the token come first, so the link is stored with its delivery in one INSERT.
    context = {
        "name": _greeting_name(user, method, target),
        "masked_address": mask(method, target),
        "lifetime_minutes": int(link_lifetime().total_seconds() // 60),
        "options": options.template_options,
        "asked": describe_request(meta, cross_device=options.cross_device),
        **(extra_context or {}),
    }
    if notice:
        context["notice"] = notice
    token = new_token()
    allowance = claim = None
    handover = crossdevice.Handover()
    choice = enchanted.new_numbers() if options.enchanted else None
    if choice:
        extra_options = {**(extra_options or {}), enchanted.OPTION: choice}
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
                **delivery_fields(add_token(redirect_uri, token), context, refusal=refusal),
            )
            if choice:
                enchanted.add_decoys(link, token)
            if options.cross_device or choice or purpose in account_changes.UPDATE_PURPOSES:
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


def verify_enchanted(token: str, meta: RequestMeta) -> VerifyResult:
    """Verify a link of an enchanted set: the right number completes the waiting side's session (through
    the pending reference), another kills the set (E062530), and after that every link of it answers
    E062531."""
    enchanted.pick(token, meta.request)
    try:
        return verify(token, meta, enchanted_link=True)
    except MagicLinkError as exc:
        if exc.key == "link_superseded" and enchanted.is_killed(getattr(exc, "link", None)):
            raise MagicLinkError("enchanted_set_void") from None
        raise


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
    return {**agents.describe(meta.user_agent), "at": _utc(timezone.now()), "cross_device": cross_device}


def _utc(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _caller(login_id: str, options: LoginOptions, refresh_jwt: str | None):
    return elevation.caller_session(login_id, stepup=options.stepup, mfa=options.mfa,
                                    revoke=options.revoke_other_sessions, refresh_jwt=refresh_jwt)


def _owner(method: str, login_id: str, uri: str | None, meta: RequestMeta, options: LoginOptions):
    """The user ``login_id`` leads to, or None; ``SharedAddress`` when several existing users have it.

    Enumeration-safe, a shared address answers as success with nothing sent, like a disabled user: the
    caller is not told, and the site's administrator sees the warning of ``manage.py check``.
    """
    try:
        return find_owner(method, login_id), None
    except SharedAddress:
        logger.warning("Start call for %s refused: several existing users have this address",
                       mask(method, login_id))
        if not app_settings.ENUMERATION_SAFE:
            raise
        return None, _answer_without_link(method, login_id, uri, meta, options)


def _who(method: str, login_id: str, options: LoginOptions, refresh_jwt: str | None, uri: str | None,
         meta: RequestMeta):
    """The caller's session (step-up, MFA, revokeOtherSessions), the user the link is for, and the answer
    already given when the address is shared by several existing users (enumeration-safe mode)."""
    caller = _caller(login_id, options, refresh_jwt)
    if caller:
        return caller, caller.user, None
    user, answered = _owner(method, login_id, uri, meta, options)
    return None, user, answered


def sign_up(method: str, login_id: str, *, uri: str | None, user_data: dict[str, Any],
            options: LoginOptions, meta: RequestMeta, refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    caller, user, answered = _who(method, login_id, options, refresh_jwt, uri, meta)
    if answered:
        return answered
    return _sign_up(method, login_id, user, caller, uri=uri, user_data=user_data, options=options, meta=meta)


def _sign_up(method: str, login_id: str, user, caller, *, uri, user_data, options, meta) -> StartResult:
    if user is not None:
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError("user_already_exists")
        # Answer as a sign-up does; the owner gets a sign-in link saying they have an account.
        return _sign_in_existing(method, login_id, user, caller, uri=uri, options=options, meta=meta,
                                 notice=ACCOUNT_EXISTS)
    if not get_adapter().is_open_for_signup(meta.request):
        raise MagicLinkError("invalid_request", "Sign-up is closed")
    return _send(purpose=PendingLink.Purpose.SIGN_UP, method=method, login_id=login_id, target=login_id,
                 user=None, uri=uri, options=options, meta=meta, user_data=user_data)


def _sign_in_existing(method: str, login_id: str, user, caller, *, uri, options, meta,
                      notice: str = "") -> StartResult:
    disabled = is_disabled(user)
    if disabled and not app_settings.ENUMERATION_SAFE:
        raise MagicLinkError("user_disabled")
    raised = elevation.elevation_for(caller, user, method, stepup=options.stepup, mfa=options.mfa)
    # The address stored for the login ID, never the one typed: see identifiers.py.
    target = stored_login_id(user, login_id)
    # Enumeration-safe: a disabled user is sent nothing, and the caller is not told so, by the answer, a
    # later 429 or the time the answer takes (the same work is done: a link born void).
    return _send(purpose=PendingLink.Purpose.SIGN_IN, method=method, login_id=login_id, target=target,
                 user=user, uri=uri, options=options, meta=meta, extra_options=raised, notice=notice,
                 refusal="Not sent: the user is disabled" if disabled else "")


def sign_in(method: str, login_id: str, *, uri: str | None, options: LoginOptions,
            meta: RequestMeta, refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    caller, user, answered = _who(method, login_id, options, refresh_jwt, uri, meta)
    if answered:
        return answered
    if user is None:
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError("user_not_found")
        return _sign_in_unknown(method, login_id, uri=uri, options=options, meta=meta)
    return _sign_in_existing(method, login_id, user, caller, uri=uri, options=options, meta=meta)


def _sign_in_unknown(method: str, login_id: str, *, uri, options, meta) -> StartResult:
    """Enumeration-safe: answer as a sign-in does, and tell the owner there is no account. Where sign-up
    is open they get a sign-up link, made as any link is made so the answer takes the same time."""
    if get_adapter().is_open_for_signup(meta.request):
        return _send(purpose=PendingLink.Purpose.SIGN_UP, method=method, login_id=login_id, target=login_id,
                     user=None, uri=uri, options=options, meta=meta, notice=NO_ACCOUNT)
    answer = _answer_without_link(method, login_id, uri, meta, options)
    queue_no_account_notice(method, login_id, template_options=options.template_options,
                            locale=options.locale)
    return answer


def _answer_without_link(method: str, login_id: str, uri: str | None, meta: RequestMeta,
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


def sign_up_or_in(method: str, login_id: str, *, uri: str | None, options: LoginOptions,
                  meta: RequestMeta, user_data: dict[str, Any] | None = None,
                  refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    caller, user, answered = _who(method, login_id, options, refresh_jwt, uri, meta)
    if answered:
        return answered
    if user is None:
        return _sign_up(method, login_id, None, None, uri=uri, user_data=user_data or {}, options=options,
                        meta=meta)
    return _sign_in_existing(method, login_id, user, caller, uri=uri, options=options, meta=meta)


def sign_in_staff(address: str, *, uri: str, meta: RequestMeta) -> None:
    """The admin login page's "email me a sign-in link": a sign-in link for an active staff user, and for
    any other address nothing, answered alike (the limits count either way), so the page tells no one
    which addresses are staff."""
    login_id = normalize(EMAIL, address)
    try:
        user = find_owner(EMAIL, login_id)
    except SharedAddress:
        user = None
    if user is None or not getattr(user, "is_staff", False) or is_disabled(user):
        logger.info("Staff sign-in link not sent to %s: no active staff user has it", mask(EMAIL, login_id))
        _answer_without_link(EMAIL, login_id, uri, meta, LoginOptions())
        return
    _sign_in_existing(EMAIL, login_id, user, None, uri=uri, options=LoginOptions(), meta=meta)


def _user_for(link: PendingLink):
    if link.purpose == PendingLink.Purpose.SIGN_UP:
        # Someone may have signed up with this address since the link was sent; the link proves
        # ownership of the address either way, so it signs into that account.
        existing = find_owner(link.method, link.login_id)
        return (existing, False) if existing else (create_user(link.method, link.login_id, link.user_data), True)
    if link.purpose != PendingLink.Purpose.SIGN_UP and link.user is not None:
        return link.user, False
    raise MagicLinkError("link_wrong_purpose")


def verify(token: str, meta: RequestMeta, *, enchanted_link: bool = False) -> VerifyResult:
    """Consume a link and open a session. A link that acts for another device or session is used only by
    whoever asked for it or gives its number (``meta.opener``; crossdevice.py). An enchanted link is
    verified only as one (``enchanted_link``), a magic link only as a magic link."""
    link = None
    try:
        link = find_link(token)
        if (enchanted.OPTION in link.login_options) != enchanted_link:
            raise MagicLinkError("link_wrong_purpose")
        if enchanted_link:
            # Opening the link with the right label is giving the number (crossdevice.confirm).
            meta = replace(meta, opener=replace(meta.opener, number=enchanted.link_number(link)))
        # Before the transaction: a wrong number is counted even though this verify fails.
        _confirm_opener(link, meta.opener)
        with transaction.atomic():
            if link.purpose != PendingLink.Purpose.SIGN_IN:
                # Sign-up and update links create or move a login ID: one at a time per login ID, so two
                # live links for one address cannot both create it. Before consume, as start calls lock
                # before voiding, so the two never wait on each other crosswise.
                lock(limits.limit_key(link.method, link.login_id))
            consume(link)
            user, created = _user_for(link)
            if is_disabled(user):
                raise MagicLinkError("user_disabled")
            account_changes.refuse_stale_link(user, link)
            if link.purpose in account_changes.UPDATE_PURPOSES:
                user = account_changes.apply_update(user, link)
            profile = get_profile(user)
            first_seen = created or profile.first_verified_at is None
            now = timezone.now()
            if first_seen:
                Profile.objects.filter(pk=profile.pk, first_verified_at=None).update(first_verified_at=now)
            if profile.status == Profile.Status.INVITED:
                profile.status = Profile.Status.ENABLED
                profile.save(update_fields=["status"])
            # A sign-in of a user found by address (existing_users.py) records the login ID it proved.
            mark_login_id_verified(user, link.login_id, method=link.method,
                                   create=link.purpose not in account_changes.UPDATE_PURPOSES)
            _mark_contact_verified(profile, link)
            options = link.login_options
            session = open_session(
                user,
                amr=elevation.elevated_amr(options, user, link.method),
                claims=elevation.elevated_claims(options),
                ip=meta.ip,
                user_agent=meta.user_agent,
            )
            if options.get("revokeOtherSessions"):
                revoke_all(user, reason="revoke_other_sessions", except_session=session)
            crossdevice.settle(link, session, first_seen)
            # Inside the transaction: the cross-device hand-over and the audit event commit with the session,
            # or the whole verify rolls back and the link stays usable (a cache that fails here too).
            limits.remember(link.method, link.login_id, meta)
            signals.link_verified.send(sender=PendingLink, link=link, user=user, session=session,
                                       first_seen=first_seen)
        # After the commit: the link is consumed and the session stored either way, and the transaction
        # (SQLite's write lock) need not wait on the claims and the signatures.
        tokens = issue_tokens(session, user)
    except MagicLinkError as exc:
        signals.verify_refused.send(sender=PendingLink, reason=exc.key, link=link or getattr(exc, "link", None),
                                    request=meta.request)
        raise
    return VerifyResult(user=user, tokens=tokens, first_seen=first_seen, link=link)


@dataclass(frozen=True)
class LinkPreview:
    """What opening a link will do, in the terms a confirm page words it (nothing is consumed).

    ``kind``: ``"sign_in"`` (this browser signs in as ``account``), ``"other_device"`` (the device that asked
    signs in as ``account``; this one only vouches), ``"update"`` (``account`` joins the account ``joins``)
    or ``"merge"`` (the account ``joins`` asked to join ``account``'s: ``owner_signed_in`` says whether this
    browser is signed in as its owner). ``needs_number``: the opener must type the number shown where the link
    was asked; ``asked``: browser, system and time of that request.
    """

    kind: str
    account: str
    joins: str
    needs_number: bool
    owner_signed_in: bool
    tries_left: int
    asked: dict[str, Any]


def preview(link: PendingLink, opener: crossdevice.Opener) -> LinkPreview:
    owner = account_changes.merge_owner(link)
    if owner is not None:
        kind = "merge"
    elif link.purpose in account_changes.UPDATE_PURPOSES:
        kind = "update"
    elif crossdevice.requires_number(link, opener):
        kind = "other_device"
    else:
        kind = "sign_in"
    requester = link.user if kind in ("update", "merge") else None
    return LinkPreview(
        kind=kind,
        account=mask(link.method, link.target),
        joins=account_changes.masked_account(requester) if requester is not None else "",
        needs_number=crossdevice.requires_number(link, opener, always=owner is not None),
        owner_signed_in=owner is not None and str(opener.user_id) == str(owner.pk),
        tries_left=crossdevice.tries_left(link),
        asked={**agents.describe(link.requester_user_agent),
               "at": _utc(link.created_at)},
    )


def _confirm_opener(link: PendingLink, opener: crossdevice.Opener) -> None:
    """A merge needs the owner of the account it joins, signed in, and the number even from them (the
    requester's screen shows it); any other link that acts for someone else needs the requester or the number."""
    owner = account_changes.merge_owner(link)
    if owner is not None and (opener.user_id is None or str(opener.user_id) != str(owner.pk)):
        raise MagicLinkError("merge_needs_owner")
    crossdevice.confirm(link, opener, always=owner is not None)


def _mark_contact_verified(profile: Profile, link: PendingLink) -> None:
    field = "email" if link.method == "email" else "phone"
    current = getattr(profile, field)
    if current == "" or (current == link.login_id and not getattr(profile, f"verified_{field}")):
        setattr(profile, field, link.login_id)
        setattr(profile, f"verified_{field}", True)
        profile.save(update_fields=[field, f"verified_{field}"])
