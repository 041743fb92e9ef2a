"""The magic-link flows: sign-up, sign-in, sign-up-or-in and verify. Rules only; no HTTP here.

Each start call resolves who the link is for and where it may point, stores the link (hash only), and
queues its delivery; verify consumes the link once and opens a session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import account_changes, elevation, limits, signals
from .conf import app_settings
from .errors import MagicLinkError
from .identifiers import mask, normalize
from .models import PendingLink, Profile
from .network import client_ip
from .notices import ACCOUNT_EXISTS, NO_ACCOUNT, queue_no_account_notice
from .redirects import add_token, resolve_redirect_uri
from .sessions import IssuedTokens, issue_tokens, open_session, revoke_all
from .tasks import queue_delivery
from .tokens import consume, create_link, find_link, lock
from .users import create_user, find_user, get_profile, is_disabled, mark_login_id_verified, stored_login_id

__all__ = ["RequestMeta", "StartResult", "VerifyResult", "sign_up", "sign_in", "sign_up_or_in", "verify"]

logger = logging.getLogger("magiclink_auth")


@dataclass(frozen=True)
class RequestMeta:
    """What a flow may know of the request: enough to record, nothing to build a URL from."""

    ip: str | None = None
    user_agent: str = ""
    request: Any = None

    @classmethod
    def of(cls, request, *, ip: str | None = None) -> RequestMeta:
        """From a Django request (or none); ``ip`` when the caller knows the client better than REMOTE_ADDR."""
        if request is None:
            return cls()
        return cls(
            ip=ip or client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],  # the width of the stored column
            request=request,
        )


@dataclass(frozen=True)
class StartResult:
    method: str
    masked_address: str
    # None when no link was made: an enumeration-safe answer (notices.py).
    link: PendingLink | None


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
    extra_options: dict[str, Any] | None = None, notice: str = "",
) -> StartResult:
    redirect_uri = resolve_redirect_uri(uri)
    who = limits.requester(method, login_id, meta)
    allowance = None
    try:
        with transaction.atomic():
            # One link at a time per login ID: the cooldown is decided and older links voided under the lock.
            lock(who.key)
            limits.check_cooldown(purpose, who)
            allowance = limits.allow(method, login_id, who)
            link, token = create_link(
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
            )
            profile = get_profile(user) if user is not None else None
            context = {
                "name": (profile.name if profile else (user_data or {}).get("name", "")) or "",
                "masked_address": mask(method, target),
                "lifetime_minutes": int((link.expires_at - link.created_at).total_seconds() // 60),
                "options": options.template_options,
            }
            if notice:
                context["notice"] = notice
            queue_delivery(link, add_token(redirect_uri, token), context)
    except BaseException:
        if allowance is not None:
            allowance.give_back()  # no message was made: it counts against no limit
        raise
    signals.link_requested.send(sender=PendingLink, link=link, request=meta.request)
    return StartResult(method=method, masked_address=mask(method, target), link=link)


def sign_up(method: str, login_id: str, *, uri: str | None, user_data: dict[str, Any],
            options: LoginOptions, meta: RequestMeta) -> StartResult:
    login_id = normalize(method, login_id)
    user = find_user(login_id)
    if user is not None:
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError("user_already_exists")
        # Answer as a sign-up does; the owner gets a sign-in link saying they have an account.
        return _sign_in_existing(method, login_id, user, uri=uri, options=options, meta=meta,
                                 notice=ACCOUNT_EXISTS)
    if not app_settings.ADAPTER().is_open_for_signup(meta.request):
        raise MagicLinkError("invalid_request", "Sign-up is closed")
    return _send(purpose=PendingLink.Purpose.SIGN_UP, method=method, login_id=login_id, target=login_id,
                 user=None, uri=uri, options=options, meta=meta, user_data=user_data)


def _sign_in_existing(method: str, login_id: str, user, *, uri, options, meta,
                      refresh_jwt=None, notice: str = "") -> StartResult:
    if is_disabled(user):
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError("user_disabled")
        # Enumeration-safe: a disabled user is sent nothing, and the caller is not told so (nor by a limit).
        return _answer_without_link(method, login_id, uri, meta)
    raised = elevation.elevation_for(user, method, stepup=options.stepup, mfa=options.mfa,
                                     refresh_jwt=refresh_jwt)
    # The address stored for the login ID, never the one typed: see identifiers.py.
    target = stored_login_id(user, login_id)
    return _send(purpose=PendingLink.Purpose.SIGN_IN, method=method, login_id=login_id, target=target,
                 user=user, uri=uri, options=options, meta=meta, extra_options=raised, notice=notice)


def sign_in(method: str, login_id: str, *, uri: str | None, options: LoginOptions,
            meta: RequestMeta, refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    user = find_user(login_id)
    if user is None:
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError("user_not_found")
        return _sign_in_unknown(method, login_id, uri=uri, options=options, meta=meta)
    return _sign_in_existing(method, login_id, user, uri=uri, options=options, meta=meta,
                             refresh_jwt=refresh_jwt)


def _sign_in_unknown(method: str, login_id: str, *, uri, options, meta) -> StartResult:
    """Enumeration-safe: answer as a sign-in does, and tell the owner there is no account. Where sign-up
    is open they get a sign-up link, made as any link is made so the answer takes the same time."""
    if app_settings.ADAPTER().is_open_for_signup(meta.request):
        return _send(purpose=PendingLink.Purpose.SIGN_UP, method=method, login_id=login_id, target=login_id,
                     user=None, uri=uri, options=options, meta=meta, notice=NO_ACCOUNT)
    answer = _answer_without_link(method, login_id, uri, meta)
    queue_no_account_notice(method, login_id, template_options=options.template_options,
                            locale=options.locale)
    return answer


def _answer_without_link(method: str, login_id: str, uri: str | None, meta: RequestMeta) -> StartResult:
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
    return StartResult(method=method, masked_address=mask(method, login_id), link=None)


def sign_up_or_in(method: str, login_id: str, *, uri: str | None, options: LoginOptions,
                  meta: RequestMeta, user_data: dict[str, Any] | None = None,
                  refresh_jwt: str | None = None) -> StartResult:
    normalized = normalize(method, login_id)
    user = find_user(normalized)
    if user is None:
        if options.stepup or options.mfa:
            raise MagicLinkError("user_not_found")
        return sign_up(method, normalized, uri=uri, user_data=user_data or {}, options=options, meta=meta)
    return _sign_in_existing(method, normalized, user, uri=uri, options=options, meta=meta,
                             refresh_jwt=refresh_jwt)


def _user_for(link: PendingLink):
    if link.purpose == PendingLink.Purpose.SIGN_UP:
        # Someone may have signed up with this address since the link was sent; the link proves
        # ownership of the address either way, so it signs into that account.
        existing = find_user(link.login_id)
        return (existing, False) if existing else (create_user(link.method, link.login_id, link.user_data), True)
    if link.purpose != PendingLink.Purpose.SIGN_UP and link.user is not None:
        return link.user, False
    raise MagicLinkError("link_wrong_purpose")


def verify(token: str, meta: RequestMeta) -> VerifyResult:
    link = None
    try:
        with transaction.atomic():
            link = find_link(token)
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
            mark_login_id_verified(user, link.login_id)
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
        # After the commit: the link is consumed and the session stored either way, and the transaction
        # (SQLite's write lock) need not wait on the claims and the signatures.
        tokens = issue_tokens(session, user)
    except MagicLinkError as exc:
        signals.verify_refused.send(sender=PendingLink, reason=exc.key, link=link or getattr(exc, "link", None),
                                    request=meta.request)
        raise
    limits.remember(link.method, link.login_id, meta)
    signals.link_verified.send(sender=PendingLink, link=link, user=user, session=tokens.session,
                               first_seen=first_seen)
    return VerifyResult(user=user, tokens=tokens, first_seen=first_seen, link=link)


def _mark_contact_verified(profile: Profile, link: PendingLink) -> None:
    field = "email" if link.method == "email" else "phone"
    current = getattr(profile, field)
    if current == "" or (current == link.login_id and not getattr(profile, f"verified_{field}")):
        setattr(profile, field, link.login_id)
        setattr(profile, f"verified_{field}", True)
        profile.save(update_fields=[field, f"verified_{field}"])
