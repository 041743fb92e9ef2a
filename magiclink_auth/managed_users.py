"""The management API's user calls: create, load and delete users and test users, and links generated for
tests or embedding, answered to the caller instead of sent.

Only a management key reaches these (``api/mgmt_views.py``). Links for tests are made only for test users,
so a key used by a test suite cannot mint a sign-in for a real account that way; embedded links are
Descope's way for a backend to sign any of its users in, and are made for any user, as there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from . import crossdevice, enchanted, limits
from .elevation import TRUSTED_CLAIMS
from .errors import ErrorKey, MagicLinkError
from .identifiers import EMAIL, SMS, normalize
from .models import LoginId, PendingLink, Profile
from .redirects import add_token, resolve_redirect_uri
from .tokens import MAX_LIFETIME, create_link, lock
from .users import PROFILE_FIELDS, create_user, find_user, get_profile, user_json

__all__ = [
    "method_of", "create", "load", "delete", "delete_all_test_users", "managed_user_json", "test_link",
    "embedded_token", "test_user_for",
]

STATUSES = {choice.value for choice in Profile.Status}


def method_of(login_id: str) -> str:
    return EMAIL if "@" in (login_id or "") else SMS


def _normalized(login_id: str) -> str:
    return normalize(method_of(login_id), login_id)


def managed_user_json(user) -> dict[str, Any]:
    """The user JSON, with Descope's ``test`` flag."""
    return {**user_json(user), "test": get_profile(user).is_test}


def create(data: dict[str, Any], *, test: bool):
    """A user from the management API's create body: verified only where ``verifiedEmail`` /
    ``verifiedPhone`` say so (no link proved the address here)."""
    method = method_of(data["loginId"])
    login_id = normalize(method, data["loginId"])
    extra_ids = [_normalized(value) for value in data.get("additionalLoginIds") or []]
    status = data.get("status") or Profile.Status.ENABLED
    if status not in STATUSES:
        raise MagicLinkError(ErrorKey.INVALID_ARGUMENTS, f"status must be one of {', '.join(sorted(STATUSES))}")
    if any(find_user(value) for value in [login_id, *extra_ids]):
        raise MagicLinkError(ErrorKey.USER_ALREADY_EXISTS)
    user_data = {key: data.get(key) or "" for key in PROFILE_FIELDS}
    user_data["name"] = data.get("displayName") or data.get("name") or ""
    with transaction.atomic():
        user = create_user(method, login_id, user_data)
        profile = get_profile(user)
        profile.email = normalize(EMAIL, data["email"]) if data.get("email") else profile.email
        profile.phone = normalize(SMS, data["phone"]) if data.get("phone") else profile.phone
        profile.verified_email = bool(data.get("verifiedEmail")) and bool(profile.email)
        profile.verified_phone = bool(data.get("verifiedPhone")) and bool(profile.phone)
        profile.picture = data.get("picture") or ""
        profile.custom_attributes = dict(data.get("customAttributes") or {})
        profile.status = status
        profile.is_test = test
        profile.save()
        verified = profile.verified_email if method == EMAIL else profile.verified_phone
        LoginId.objects.filter(user=user, value=login_id).update(verified=verified)
        for value in dict.fromkeys(extra_ids):
            LoginId.objects.create(user=user, method=method_of(value), value=value, verified=False)
    return user


def load(*, login_id: str = "", user_id: str = ""):
    user = _find(login_id=login_id, user_id=user_id)
    if user is None:
        raise MagicLinkError(ErrorKey.USER_NOT_FOUND)
    return user


def _find(*, login_id: str = "", user_id: str = ""):
    if login_id:
        try:
            return find_user(_normalized(login_id))
        except MagicLinkError:
            return None
    if user_id:
        try:
            return get_user_model()._default_manager.filter(pk=user_id).first()
        except (ValueError, TypeError, ValidationError):  # a pk of the wrong shape for this user model
            return None
    raise MagicLinkError(ErrorKey.MISSING_ARGUMENTS, "Give loginId or userId")


def delete(*, login_id: str = "", user_id: str = "") -> None:
    """Delete the user and everything of theirs (profile, login IDs, sessions, links). Deleting a user
    who does not exist succeeds, as a repeated delete should."""
    user = _find(login_id=login_id, user_id=user_id)
    if user is not None:
        user.delete()


def delete_all_test_users() -> int:
    users = get_user_model()._default_manager.filter(magiclink_profile__is_test=True)
    return users.delete()[0]


def test_user_for(login_id: str):
    user = load(login_id=login_id)
    if not get_profile(user).is_test:
        raise MagicLinkError(ErrorKey.NOT_A_TEST_USER)
    return user


def _link_for(user, login_id: str, *, purpose: str, uri: str | None, options: dict[str, Any],
              user_data: dict[str, Any] | None = None, timeout: int = 0) -> tuple[PendingLink, str]:
    """A link made as a start call makes one, but not queued: the caller is given it."""
    method = method_of(login_id)
    key = limits.limit_key(method, login_id)
    with transaction.atomic():
        lock(key)  # as every link is made: one at a time per login ID, older ones voided
        link, token = create_link(
            purpose=purpose, method=method, login_id=login_id, target=login_id, user=user,
            user_data=user_data or {}, redirect_uri=resolve_redirect_uri(uri), login_options=options,
            limit_key=key, requester_known=True,
        )
    if timeout > 0:
        link.expires_at = link.created_at + min(timedelta(seconds=timeout), MAX_LIFETIME)
        PendingLink.objects.filter(pk=link.pk).update(expires_at=link.expires_at)
    return link, token


def test_link(login_id: str, *, uri: str | None, options: dict[str, Any],
              enchanted_link: bool = False) -> tuple[str, str, str | None]:
    """A sign-in link for a test user: (the login ID as stored, its URL, the pending reference). An
    enchanted one is the link with the right number of its set (its other links are made too, as for a sent
    set), bound to a pending reference as a sent one is."""
    user = test_user_for(login_id)
    stored = _normalized(login_id)
    choice = enchanted.new_numbers() if enchanted_link else None
    if choice:
        options = {**options, enchanted.OPTION: choice}
    link, token = _link_for(user, stored, purpose=PendingLink.Purpose.SIGN_IN, uri=uri, options=options)
    pending_ref = None
    if choice:
        enchanted.add_decoys(link, token)
        pending_ref = crossdevice.begin(link, browser="", cross_device=True, number=str(choice["number"])).pending_ref
    return stored, add_token(link.redirect_uri, token), pending_ref


def embedded_token(login_id: str, *, custom_claims: dict[str, Any], timeout: int = 0,
                   sign_up_user: dict[str, Any] | None = None) -> str:
    """The token of a link for the user, verified with ``magiclink/verify``. With ``sign_up_user``, a
    sign-up link for a login ID that has no user yet."""
    stored = _normalized(login_id)
    options = {TRUSTED_CLAIMS: custom_claims}
    if sign_up_user is not None:
        if find_user(stored) is not None:
            raise MagicLinkError(ErrorKey.USER_ALREADY_EXISTS)
        _, token = _link_for(None, stored, purpose=PendingLink.Purpose.SIGN_UP, uri=None, options=options,
                             user_data=sign_up_user, timeout=timeout)
        return token
    _, token = _link_for(load(login_id=stored), stored, purpose=PendingLink.Purpose.SIGN_IN, uri=None,
                         options=options, timeout=timeout)
    return token
