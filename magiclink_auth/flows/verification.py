"""Verify: consume a link once and open a session.

A verify finds the link, checks who opens it, then, in one transaction, hands the link to the handler of
its purpose (``VERIFY_BY_PURPOSE``: sign-up, sign-in, email or phone update), which consumes it and answers
the user the session is for; what follows is the same for every purpose: the profile's first verification,
the login ID and contact marked verified, the session opened, the cross-device hand-over settled and the
audit event sent. The JWTs are signed after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import account_changes, crossdevice, elevation, enchanted, limits, signals
from ..errors import ErrorKey, MagicLinkError
from ..existing_users import find_owner
from ..identifiers import EMAIL
from ..issuance import UPDATE_PURPOSES, RequestMeta
from ..models import PendingLink, Profile, RevokeReason
from ..sessions import IssuedTokens, issue_tokens, open_session, revoke_all
from ..tokens import consume, find_link, linked_login_ids, lock
from ..users import create_user, get_profile, is_disabled, mark_login_id_verified
from .link_preview import confirm_opener

__all__ = ["VerifyResult", "verify", "verify_enchanted", "VERIFY_BY_PURPOSE"]


@dataclass(frozen=True)
class VerifyResult:
    user: Any
    tokens: IssuedTokens
    first_seen: bool
    link: PendingLink


def _lock_login_id(link: PendingLink) -> None:
    """Sign-up and update links create or move a login ID: one at a time per login ID, so two live links for
    one address cannot both create it. Before consume, as start calls lock before voiding, so the two never
    wait on each other crosswise."""
    lock(limits.limit_key(link.method, link.login_id))


def _refuse_unusable(user, link: PendingLink) -> None:
    if is_disabled(user):
        raise MagicLinkError(ErrorKey.USER_DISABLED)
    account_changes.refuse_stale_link(user, link)


def _linked_user(link: PendingLink):
    if link.user is None:
        raise MagicLinkError(ErrorKey.LINK_WRONG_PURPOSE)
    return link.user


def _verify_sign_up(link: PendingLink) -> tuple[Any, bool]:
    """The address's account: someone may have signed up with it since the link was sent, and the link
    proves ownership of the address either way, so it signs into that account; else a new user."""
    _lock_login_id(link)
    consume(link)
    existing = find_owner(link.method, link.login_id)
    user, created = (existing, False) if existing else (create_user(link.method, link.login_id, link.user_data), True)
    _refuse_unusable(user, link)
    return user, created


def _verify_sign_in(link: PendingLink) -> tuple[Any, bool]:
    consume(link)
    user = _linked_user(link)
    _refuse_unusable(user, link)
    return user, False


def _verify_update(link: PendingLink) -> tuple[Any, bool]:
    """The address becomes the requester's contact (account_changes.py); a merge answers the account it
    joined."""
    _lock_login_id(link)
    consume(link)
    user = _linked_user(link)
    _refuse_unusable(user, link)
    return account_changes.apply_update(user, link), False


VERIFY_BY_PURPOSE = {
    PendingLink.Purpose.SIGN_UP: _verify_sign_up,
    PendingLink.Purpose.SIGN_IN: _verify_sign_in,
    PendingLink.Purpose.UPDATE_EMAIL: _verify_update,
    PendingLink.Purpose.UPDATE_PHONE: _verify_update,
}


def verify(token: str, meta: RequestMeta, *, enchanted_link: bool = False) -> VerifyResult:
    """Consume a link and open a session. A link that acts for another device or session is used only by
    whoever asked for it or gives its number (``meta.opener``; crossdevice.py). An enchanted link is
    verified only as one (``enchanted_link``), a magic link only as a magic link."""
    link = None
    try:
        link = find_link(token)
        if (enchanted.OPTION in link.login_options) != enchanted_link:
            raise MagicLinkError(ErrorKey.LINK_WRONG_PURPOSE)
        if enchanted_link:
            # Opening the link with the right label is giving the number (crossdevice.confirm).
            meta = replace(meta, opener=replace(meta.opener, number=enchanted.link_number(link)))
        # Before the transaction: a wrong number is counted even though this verify fails.
        confirm_opener(link, meta.opener)
        handler = VERIFY_BY_PURPOSE.get(link.purpose)
        if handler is None:
            raise MagicLinkError(ErrorKey.LINK_WRONG_PURPOSE)
        with transaction.atomic():
            user, created = handler(link)
            first_seen = _record_verification(user, link, created)
            options = link.login_options
            session = open_session(
                user,
                amr=elevation.elevated_amr(options, user, link.method),
                claims=elevation.elevated_claims(options),
                ip=meta.ip,
                user_agent=meta.user_agent,
            )
            if options.get("revokeOtherSessions"):
                revoke_all(user, reason=RevokeReason.REVOKE_OTHER_SESSIONS, except_session=session)
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
        signals.verify_refused.send(sender=PendingLink, reason=exc.key, link=link or exc.link,
                                    request=meta.request)
        raise
    return VerifyResult(user=user, tokens=tokens, first_seen=first_seen, link=link)


def _record_verification(user, link: PendingLink, created: bool) -> bool:
    """The profile's first verification and status, the login ID and contact the link proved; answers
    whether this is the user's first verified sign-in."""
    profile = get_profile(user)
    first_seen = created or profile.first_verified_at is None
    if first_seen:
        Profile.objects.filter(pk=profile.pk, first_verified_at=None).update(first_verified_at=timezone.now())
    if profile.status == Profile.Status.INVITED:
        profile.status = Profile.Status.ENABLED
        profile.save(update_fields=["status"])
    # A sign-in of a user found by address (existing_users.py) records the login ID it proved. A sign-in
    # changed no login ID since the link was read: the login IDs read with it still hold.
    known = linked_login_ids(link) if link.purpose == PendingLink.Purpose.SIGN_IN else None
    mark_login_id_verified(user, link.login_id, method=link.method, create=link.purpose not in UPDATE_PURPOSES,
                           known=known)
    _mark_contact_verified(profile, link)
    return first_seen


def verify_enchanted(token: str, meta: RequestMeta) -> VerifyResult:
    """Verify a link of an enchanted set: the right number completes the waiting side's session (through
    the pending reference), another kills the set (E062530), and after that every link of it answers
    E062531."""
    enchanted.pick(token, meta.request)
    try:
        return verify(token, meta, enchanted_link=True)
    except MagicLinkError as exc:
        if exc.key == ErrorKey.LINK_SUPERSEDED and enchanted.is_killed(exc.link):
            raise MagicLinkError(ErrorKey.ENCHANTED_SET_VOID) from None
        raise


def _mark_contact_verified(profile: Profile, link: PendingLink) -> None:
    field = "email" if link.method == EMAIL else "phone"
    current = getattr(profile, field)
    if current == "" or (current == link.login_id and not getattr(profile, f"verified_{field}")):
        setattr(profile, field, link.login_id)
        setattr(profile, f"verified_{field}", True)
        profile.save(update_fields=[field, f"verified_{field}"])
