"""Policy decisions a site may change, gathered in one class loaded from ``MAGICLINK_AUTH["ADAPTER"]``.

Subclass ``DefaultAdapter`` and override a method; signals are for notifications, this is for answers.
The app asks ``get_adapter()`` for it, as allauth does, so the class is instantiated in one place.
"""

from __future__ import annotations

from typing import Any

from . import authz
from .conf import app_settings
from .identifiers import EMAIL

__all__ = ["DefaultAdapter", "get_adapter"]


class DefaultAdapter:
    # Roles and permissions: override get_roles / get_permissions to take them from elsewhere (an LDAP
    # directory, a tenant table); the claims and the user JSON's roleNames read them from here.
    def get_roles(self, user) -> list[str]:
        """The ``roles`` claim: the names of the user's Django groups."""
        return self._roles_and_permissions(user)[0]

    def get_permissions(self, user) -> list[str]:
        """The ``permissions`` claim: the user's Django permissions as ``app_label.codename``."""
        return self._roles_and_permissions(user)[1]

    @staticmethod
    def _roles_and_permissions(user) -> tuple[list[str], list[str]]:
        """Both, from ``CLAIMS_CACHE`` while the user's groups and permissions are unchanged (``authz``), and
        kept on the user object for the rest of the request, as Django keeps permissions (a verify asks
        twice: the session JWT, then the user JSON)."""
        if not hasattr(user, "_magiclink_authz"):
            user._magiclink_authz = authz.roles_and_permissions(user, lambda: _query_roles_and_permissions(user))
        roles, permissions = user._magiclink_authz
        return list(roles), list(permissions)

    def get_tenants(self, user) -> dict[str, Any]:
        """The ``tenants`` claim, ``{tenantId: {"roles": [...], "permissions": [...]}}``, from the callable
        named by ``TENANTS_PROVIDER``; none when it is unset."""
        provider = app_settings.TENANTS_PROVIDER
        return dict(provider(user) or {}) if provider else {}

    def is_open_for_signup(self, request) -> bool:
        return True

    def user_contact_field(self, user_model, method: str) -> str | None:
        """The user model's field holding a user's address for ``method`` ("email" or "sms"), or None.

        A start call for an address no login ID holds signs in the one user whose field holds it
        (existing_users.py). Email: the model's ``EMAIL_FIELD``; phone: its ``PHONE_FIELD`` attribute, else
        a field named ``phone`` when the model has one.
        """
        if method == EMAIL:
            return user_model.get_email_field_name()
        return getattr(user_model, "PHONE_FIELD", "phone")

    def populate_user(self, user, user_data: dict[str, Any]) -> None:
        """Fill the Django user's own fields from the sign-up data (names; email when the model has one)."""
        for model_field, key in (("first_name", "givenName"), ("last_name", "familyName")):
            if hasattr(user, model_field) and user_data.get(key):
                setattr(user, model_field, user_data[key][:150])


def _query_roles_and_permissions(user) -> tuple[list[str], list[str]]:
    """The user's group names, then permissions. A user in no group has no group permissions, and
    ``ModelBackend`` is told so through its own per-user cache, which it fills the same way, so its query
    for them is skipped (a superuser's cache holds every permission, so it is left alone)."""
    roles = sorted(user.groups.values_list("name", flat=True))
    if not roles and not user.is_superuser:
        user.__dict__.setdefault("_group_perm_cache", set())
    return roles, sorted(user.get_all_permissions())


def get_adapter() -> DefaultAdapter:
    """The site's adapter (``ADAPTER``): a fresh instance, so one may keep per-call state."""
    return app_settings.ADAPTER()
