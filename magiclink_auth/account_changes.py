"""Changing a user's email or phone by magic link, merging accounts, and refusing links the change outdated.

``update/email`` and ``update/phone`` are authorised by the refresh JWT of a live session. The link goes to
the **new** address, so only its owner can complete the change; verifying it sets the address as the
verified contact (and, with ``addToLoginIDs``, as a login ID), tells the old address, and opens a session.
An address that is another user's login ID is refused, unless ``onMergeUseExisting`` asks to merge into
that user: see ``merge_into`` and docs/account-changes.md for which fields win.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import signals
from .conf import app_settings
from .errors import ErrorKey, MagicLinkError
from .identifiers import EMAIL, SMS, mask, normalize
from .issuance import UPDATE_PURPOSES, LoginOptions, describe_request, issue_link
from .models import AccountMerge, LoginId, PendingLink, Profile, RevokeReason
from .notices import queue_notice
from .sessions import live_session, revoke_all, session_for
from .users import PROFILE_FIELDS, find_user, get_profile, is_disabled, stored_login_id

__all__ = [
    "start_update",
    "refuse_stale_link",
    "apply_update",
    "merge_into",
    "merge_owner",
    "masked_account",
    "UPDATE_PURPOSES",
]

_PURPOSE_OF = {method: purpose for purpose, method in UPDATE_PURPOSES.items()}
_CONTACT_FIELD = {EMAIL: "email", SMS: "phone"}
NOTICE_PURPOSE = {EMAIL: "email_changed", SMS: "phone_changed"}
# The notice to the owner of an address another account asked to add (templates ``address_claimed``).
ADDRESS_CLAIMED = "address_claimed"


def start_update(
    method: str,
    login_id: str,
    address: str,
    *,
    refresh_jwt: str | None,
    uri: str | None,
    add_to_login_ids: bool,
    merge: bool,
    template_id: str,
    template_options: dict[str, str],
    meta,
    enchanted: bool = False,
) -> Any:
    """Send a link to ``address`` that, once opened, makes it the contact of the session's user.

    The link acts for the session that asked, so it carries a number (crossdevice.py): opened anywhere but
    that session's browser, it asks for it. The answer's ``code`` is that number.
    """
    session = session_for(refresh_jwt)
    user = session.user
    if find_user(_normalize_login_id(login_id)) != user:
        raise MagicLinkError(ErrorKey.LOGIN_ID_NOT_YOURS)
    if is_disabled(user):
        raise MagicLinkError(ErrorKey.USER_DISABLED)
    address = normalize(method, address)
    owner = find_user(address)
    taken = owner is not None and owner.pk != user.pk
    if taken and not merge and not app_settings.ENUMERATION_SAFE:
        raise MagicLinkError(ErrorKey.ADDRESS_IN_USE)
    options = LoginOptions(template_id=template_id, template_options=template_options, enchanted=enchanted)
    stored = {"addToLoginIDs": add_to_login_ids, "onMergeUseExisting": merge, "sessionId": str(session.pk)}
    joins = {"joins": masked_account(user), "merge": taken}
    refusal = ""
    if taken and not merge:
        # Enumeration-safe: answered as a link sent, after the same work, and the owner is told instead.
        refusal = "Not sent: the address belongs to another account; its owner was told"
        queue_address_claimed_notice(method, stored_login_id(owner, address), joins=joins["joins"],
                                     locale="", meta=meta)
    return issue_link(
        purpose=_PURPOSE_OF[method],
        method=method,
        login_id=address,
        target=address,
        user=user,
        uri=uri,
        options=options,
        meta=meta,
        extra_options=stored,
        extra_context=joins,
        refusal=refusal,
    )


def _normalize_login_id(login_id: str) -> str:
    """A login ID of either kind: the update call's ``loginId`` need not be of the method being changed."""
    try:
        return normalize(EMAIL, login_id)
    except MagicLinkError:
        try:
            return normalize(SMS, login_id)
        except MagicLinkError:
            raise MagicLinkError(ErrorKey.LOGIN_ID_NOT_YOURS) from None


def _owner_allowed(address: str, user, *, merge: bool):
    """The other user owning ``address`` as a login ID, when a merge may take it; refuse otherwise."""
    owner = find_user(address)
    if owner is None or owner.pk == user.pk:
        return None
    if not merge:
        raise MagicLinkError(ErrorKey.ADDRESS_IN_USE)
    return owner


def masked_account(user) -> str:
    """The account of ``user`` as a confirm page names it: its first login ID, masked."""
    first = LoginId.objects.filter(user=user).order_by("created_at", "pk").first()
    return mask(first.method, first.value) if first is not None else ""


def merge_owner(link: PendingLink):
    """The other user an update link would merge the requester into (``onMergeUseExisting``), else None."""
    if link.purpose not in UPDATE_PURPOSES or not (link.login_options or {}).get("onMergeUseExisting"):
        return None
    owner = find_user(link.login_id)
    return owner if owner is not None and owner.pk != link.user_id else None


def refuse_stale_link(user, link: PendingLink) -> None:
    """A link made before the user's contact changed or the user was disabled no longer works."""
    profile = get_profile(user)
    for moment in (profile.contact_changed_at, profile.disabled_at):
        if moment is not None and link.created_at <= moment:
            raise MagicLinkError(ErrorKey.LINK_STALE)


def apply_update(user, link: PendingLink):
    """Make the link's address the user's verified contact; returns the user the session is for."""
    method = UPDATE_PURPOSES[link.purpose]
    options = link.login_options
    live_session(options.get("sessionId"))  # the session that asked for the change must still be live
    owner = _owner_allowed(link.login_id, user, merge=bool(options.get("onMergeUseExisting")))
    if owner is not None:
        if is_disabled(owner):
            raise MagicLinkError(ErrorKey.USER_DISABLED)
        merge_into(owner, user, address=link.login_id, link=link)
        user = owner
    field = _CONTACT_FIELD[method]
    profile = get_profile(user)
    old = getattr(profile, field)
    setattr(profile, field, link.login_id)
    setattr(profile, f"verified_{field}", True)
    profile.save(update_fields=[field, f"verified_{field}"])
    if old != link.login_id:
        changed = signals.email_changed if method == EMAIL else signals.phone_changed
        changed.send(sender=Profile, user=user, old=old, new=link.login_id, request=None)
    if method == EMAIL:
        _set_user_email(user, link.login_id)
    if options.get("addToLoginIDs"):
        LoginId.objects.update_or_create(
            value=link.login_id, defaults={"user": user, "method": method, "verified": True}
        )
    if old and old != link.login_id and app_settings.NOTIFY_OLD_ADDRESS:
        _tell_old_address(method, old, new_address=link.login_id, name=profile.name)
    return user


def _set_user_email(user, address: str) -> None:
    """Keep the Django user's email field (when it is not the username) in step with the contact."""
    email_field = user.get_email_field_name()
    if email_field != user.USERNAME_FIELD and hasattr(user, email_field):
        setattr(user, email_field, address)
        user.save(update_fields=[email_field])


@transaction.atomic
def merge_into(kept, merged, *, address: str, link: PendingLink | None = None) -> AccountMerge:
    """Merge ``merged`` into ``kept``, deterministically. ``kept`` wins every field it has a value for.

    - login IDs: all of ``merged``'s move to ``kept``;
    - names, picture, email, phone (with their verified flags): ``kept``'s where set, else ``merged``'s;
    - custom attributes: the union, ``kept``'s value where both have a key;
    - status, groups and permissions (so roles): ``kept``'s, unchanged;
    - sessions: every session of ``merged`` is revoked (reason ``merged``); ``kept``'s stay live;
    - ``merged`` is disabled (``is_active`` false, status disabled) and its unused links voided; it is kept,
      not deleted, so the site's rows pointing at it survive until an ``accounts_merged`` receiver
      moves them.
    """
    kept_profile, merged_profile = get_profile(kept), get_profile(merged)
    moved = list(LoginId.objects.filter(user=merged).order_by("pk").values_list("value", flat=True))
    LoginId.objects.filter(user=merged).update(user=kept)
    updated = []
    for field in [*PROFILE_FIELDS.values(), "picture"]:
        if not getattr(kept_profile, field) and getattr(merged_profile, field):
            setattr(kept_profile, field, getattr(merged_profile, field))
            updated.append(field)
    for field in ("email", "phone"):
        if not getattr(kept_profile, field) and getattr(merged_profile, field):
            setattr(kept_profile, field, getattr(merged_profile, field))
            setattr(kept_profile, f"verified_{field}", getattr(merged_profile, f"verified_{field}"))
            updated += [field, f"verified_{field}"]
    kept_profile.custom_attributes = {**merged_profile.custom_attributes, **kept_profile.custom_attributes}
    kept_profile.save(update_fields=[*updated, "custom_attributes"])
    revoke_all(merged, reason=RevokeReason.MERGED)
    PendingLink.objects.filter(user=merged, consumed_at=None, voided_at=None).update(voided_at=timezone.now())
    merged_profile.status = Profile.Status.DISABLED
    merged_profile.save(update_fields=["status"])
    if hasattr(merged, "is_active"):
        get_user_model()._default_manager.filter(pk=merged.pk).update(is_active=False)
    record = AccountMerge.objects.create(
        kept_user=kept, merged_user=merged, address=address, link=link, moved_login_ids=moved
    )
    signals.accounts_merged.send(sender=AccountMerge, kept_user=kept, merged_user=merged, merge=record)
    return record


def queue_address_claimed_notice(method: str, address: str, *, joins: str, locale: str, meta) -> None:
    """Tell the owner of ``address`` that another account asked to add it (enumeration-safe answer)."""
    context = {"notice": ADDRESS_CLAIMED, "joins": joins, "asked": describe_request(meta)}
    queue_notice(method, address, context, locale=locale, purpose=ADDRESS_CLAIMED)


def _tell_old_address(method: str, old_address: str, *, new_address: str, name: str) -> None:
    """Tell the old address, after the change commits, that it is no longer the account's."""
    context = {"name": name, "masked_address": mask(method, new_address)}
    queue_notice(method, old_address, context, purpose=NOTICE_PURPOSE[method], courtesy=True)
