"""Users as the protocol sees them: creation for any ``AUTH_USER_MODEL``, and the user JSON."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction

from .adapter import get_adapter
from .errors import ErrorKey, MagicLinkError
from .identifiers import EMAIL
from .models import LoginId, Profile
from .prepared import Prepared

__all__ = ["PROFILE_FIELDS", "create_user", "get_profile", "is_disabled", "user_json", "find_user", "stored_login_id",
           "mark_login_id_verified"]

# user JSON key -> Profile field, for the names a sign-up may set.
PROFILE_FIELDS = {
    "name": "name",
    "givenName": "given_name",
    "middleName": "middle_name",
    "familyName": "family_name",
}


def _username_for(user_model, method: str, login_id: str) -> str:
    """A value for USERNAME_FIELD: the login ID where it fits, otherwise a random handle."""
    field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    fits = method == EMAIL or not isinstance(field, models.EmailField)
    max_length = field.max_length or 150
    if fits and len(login_id) <= max_length and not user_model._default_manager.filter(
        **{f"{user_model.USERNAME_FIELD}__iexact": login_id}
    ).exists():
        return login_id
    return f"user-{secrets.token_hex(8)}"


def create_user(method: str, login_id: str, user_data: dict[str, Any]):
    """Create a Django user, its profile and its first login ID (verified: the link proved it)."""
    user_model = get_user_model()
    user = user_model(**{user_model.USERNAME_FIELD: _username_for(user_model, method, login_id)})
    email_field = user_model.get_email_field_name()
    if method == EMAIL and email_field != user_model.USERNAME_FIELD and hasattr(user, email_field):
        setattr(user, email_field, login_id)
    get_adapter().populate_user(user, user_data)
    user.set_unusable_password()
    user.save()
    profile = Profile(user=user, **{f: (user_data.get(k) or "") for k, f in PROFILE_FIELDS.items()})
    if method == EMAIL:
        profile.email, profile.verified_email = login_id, True
    else:
        profile.phone, profile.verified_phone = login_id, True
    for key, field in (("email", "email"), ("phone", "phone")):
        if not getattr(profile, field) and user_data.get(key):
            setattr(profile, field, user_data[key])
    _refuse_overlong(profile)
    profile.save()
    LoginId.objects.create(user=user, method=method, value=login_id, verified=True)
    return user


def _refuse_overlong(profile: Profile) -> None:
    """The API refuses user data wider than its column; a link stored before that rule (or by other code)
    gets an error, not a database failure, when it is verified."""
    for field in (*PROFILE_FIELDS.values(), "email", "phone"):
        if len(getattr(profile, field) or "") > Profile._meta.get_field(field).max_length:
            raise MagicLinkError(ErrorKey.INVALID_ARGUMENTS, f"The user's {field} is too long")


def get_profile(user) -> Profile:
    try:
        return user.magiclink_profile
    except Profile.DoesNotExist:
        return Profile.objects.get_or_create(user=user)[0]


def is_disabled(user) -> bool:
    """Deactivated (``is_active`` false) or disabled (the profile's status): sent nothing, signed in nowhere."""
    return not getattr(user, "is_active", True) or get_profile(user).status == Profile.Status.DISABLED


# The start call's lookup (and get()'s SQL: no ordering, LIMIT 21), compiled once: prepared.py.
_BY_VALUE = Prepared(
    lambda value: LoginId.objects.select_related("user__magiclink_profile").filter(value=value).order_by()[:21],
    value=(LoginId, "value"),
)


def find_user(login_id: str):
    """The user whose login ID is ``login_id`` (normalised), with its profile, or None.

    The address as stored is kept on the user for ``stored_login_id``: a start call sends there.
    """
    found = _BY_VALUE.objects(value=login_id)
    if not found:
        return None
    entry = found[0]
    entry.user._magiclink_stored_login_ids = {login_id: entry.value}
    return entry.user


def stored_login_id(user, login_id: str) -> str:
    """The login ID as stored (never as typed: identifiers.py), from ``find_user``'s row when it has it."""
    known = getattr(user, "_magiclink_stored_login_ids", {})
    if login_id in known:
        return known[login_id]
    return LoginId.objects.get(value=login_id).value


_LOGIN_IDS = Prepared(lambda user: LoginId.objects.filter(user=user).values_list("value", "verified"),
                      user=(LoginId, "user"))


def mark_login_id_verified(user, value: str, *, method: str = "", create: bool = False,
                           known: list[tuple[str, bool]] | None = None) -> None:
    """Mark the user's login ID ``value`` verified (a link to it was used), and keep the user's login IDs
    on the user for the ``user_json`` of the same request: one query, and an UPDATE only when needed.

    ``create``: the user was found by the address on the user model and has no such login ID yet; the link
    proved the address, so it becomes a verified login ID, unless someone took it meanwhile (the link is
    then refused as outdated).

    ``known``: the user's login IDs as ``(value, verified)``, already read (``tokens.linked_login_ids``).
    """
    rows = list(known) if known is not None else _LOGIN_IDS.objects(user=user.pk)
    if any(row_value == value and not verified for row_value, verified in rows):
        LoginId.objects.filter(user=user, value=value).update(verified=True)
    if create and all(row_value != value for row_value, _ in rows):
        try:
            with transaction.atomic():
                LoginId.objects.create(user=user, method=method, value=value, verified=True)
        except IntegrityError:
            raise MagicLinkError(ErrorKey.LINK_STALE) from None
        rows.append((value, True))
    user._magiclink_login_ids = [row_value for row_value, _ in rows]


def _login_ids(user) -> list[str]:
    known = getattr(user, "_magiclink_login_ids", None)
    if known is not None:
        return list(known)
    return list(LoginId.objects.filter(user=user).values_list("value", flat=True))


def user_json(user) -> dict[str, Any]:
    profile = get_profile(user)
    adapter = get_adapter()
    return {
        "userId": str(user.pk),
        "loginIds": _login_ids(user),
        "name": profile.name,
        "givenName": profile.given_name,
        "middleName": profile.middle_name,
        "familyName": profile.family_name,
        "email": profile.email,
        "phone": profile.phone,
        "verifiedEmail": profile.verified_email,
        "verifiedPhone": profile.verified_phone,
        "roleNames": adapter.get_roles(user),
        "userTenants": [
            {"tenantId": str(tenant_id), "roleNames": list((value or {}).get("roles", []))}
            for tenant_id, value in adapter.get_tenants(user).items()
        ],
        "customAttributes": profile.custom_attributes,
        "status": profile.status if user.is_active else Profile.Status.DISABLED,
        "createdTime": int(profile.created_at.timestamp()),
        "picture": profile.picture,
    }
