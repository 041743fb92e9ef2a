"""Users who existed before the app: found by the address in the site's own user model.

A site adding the app already has users (made by ``createsuperuser`` or its own sign-up) with an email, and
perhaps a phone, on the user model but no login ID. A start call for an address no login ID holds looks
here next: when the address equals, normalised as login IDs are, the contact field of exactly one user who
has no login ID of that kind yet, the call is a sign-in of that user, and the verify records the login ID
(verified: the link proved the address). Two or more such users sharing the address are refused
(``address_shared``): guessing would hand one person's account to another. Users who already have a login
ID of that kind are left out: their address on the user model may be one they gave up.

``magiclink_link_users`` does the same for every user at once; ``LINK_EXISTING_USERS = False`` turns the
lookup off once that was run (it scans the user table where the field has no index).
"""

from __future__ import annotations

import phonenumbers
from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.db.models.functions import Lower

from .adapter import get_adapter
from .conf import app_settings
from .errors import ErrorKey, MagicLinkError
from .identifiers import EMAIL, normalize
from .models import LoginId
from .users import find_user

__all__ = ["SharedAddress", "find_owner", "find_existing_user", "unlinked_users", "shared_addresses",
           "contact_field", "normalized_contact"]

# More candidates than this for one address are not loaded: two are enough to refuse.
_MAX_CANDIDATES = 10


class SharedAddress(MagicLinkError):
    """Several existing users have this address on the user model, and none has it as a login ID."""

    def __init__(self) -> None:
        super().__init__(ErrorKey.ADDRESS_SHARED)


def contact_field(method: str) -> str | None:
    """The user model's field holding the address of ``method``, as the adapter names it (or None)."""
    name = get_adapter().user_contact_field(get_user_model(), method)
    if not name:
        return None
    try:
        get_user_model()._meta.get_field(name)
    except Exception:
        return None
    return name


def normalized_contact(method: str, value) -> str | None:
    """The login ID a stored contact value would be, or None when it is empty or not a valid address."""
    if not value:
        return None
    try:
        return normalize(method, str(value))
    except MagicLinkError:
        return None


def unlinked_users(method: str, *, linked_too: bool = False) -> QuerySet:
    """Users with a value in the contact field of ``method`` and no login ID of that kind yet (with
    ``linked_too``, whether or not they have one)."""
    field = contact_field(method)
    user_model = get_user_model()
    if field is None:
        return user_model._default_manager.none()
    users = user_model._default_manager.exclude(**{f"{field}__isnull": True}).exclude(**{field: ""})
    return users if linked_too else users.exclude(pk__in=LoginId.objects.filter(method=method).values("user_id"))


def _stored_forms(method: str, login_id: str) -> dict:
    """The lookup finding every stored form of ``login_id``: any case for an email, the usual ways of
    writing an international phone number (E.164, ``+1 415-555-2671``) for a phone."""
    field = contact_field(method)
    if method == EMAIL:
        return {f"{field}__iexact": login_id}
    number = phonenumbers.parse(login_id, None)
    formats = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return {f"{field}__in": {phonenumbers.format_number(number, f) for f in formats}}


def find_existing_user(method: str, login_id: str):
    """The one user whose contact field is ``login_id`` (normalised) and who has no login ID of that kind;
    None when there is none; ``SharedAddress`` when there are several.

    The address as the site stored it is kept on the user (``stored_login_id``): an email goes there, never
    to the form typed (identifiers.py). A phone goes to its E.164 form.
    """
    field = contact_field(method)
    if field is None or not app_settings.LINK_EXISTING_USERS:
        return None
    candidates = [
        user for user in unlinked_users(method).filter(**_stored_forms(method, login_id))[:_MAX_CANDIDATES]
        if normalized_contact(method, getattr(user, field)) == login_id
    ]
    if len(candidates) > 1:
        raise SharedAddress()
    if not candidates:
        return None
    user = candidates[0]
    stored = str(getattr(user, field)).strip() if method == EMAIL else login_id
    user._magiclink_stored_login_ids = {login_id: stored}
    return user


def find_owner(method: str, login_id: str):
    """The user a normalised login ID leads to: its login ID's user, else an existing user by address."""
    return find_user(login_id) or find_existing_user(method, login_id)


def shared_addresses() -> int:
    """How many email addresses (case-insensitively) are on two or more users none of whom can sign in
    with it: the ``address_shared`` refusals waiting to happen."""
    field = contact_field(EMAIL)
    if field is None:
        return 0
    return (
        unlinked_users(EMAIL).annotate(address=Lower(field)).values("address")
        .annotate(users=Count("pk")).filter(users__gt=1)
        .exclude(address__in=LoginId.objects.filter(method=EMAIL).values("value"))
        .count()
    )
