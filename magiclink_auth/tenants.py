"""The user's tenants (from ``TENANTS_PROVIDER``) and the selected one, ``dct``, in the session JWT."""

from __future__ import annotations

from typing import Any

from .adapter import get_adapter
from .errors import ErrorKey, MagicLinkError
from .models import RefreshSession
from .sessions import IssuedTokens, refresh, session_for

__all__ = ["SELECTED_CLAIM", "my_tenants", "select_tenant"]

# Descope's claim for the tenant the user works in ("Descope current tenant").
SELECTED_CLAIM = "dct"


def _tenants(user) -> dict[str, dict[str, Any]]:
    return {str(tenant_id): dict(value or {}) for tenant_id, value in
            get_adapter().get_tenants(user).items()}


def _tenant_json(tenant_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"id": tenant_id, "name": str(value.get("name") or ""),
            "customAttributes": dict(value.get("customAttributes") or {})}


def my_tenants(session: RefreshSession, *, selected_only: bool, ids: list[str] | None) -> list[dict[str, Any]]:
    """The session's selected tenant (``selected_only``), or those of ``ids`` the user belongs to."""
    tenants = _tenants(session.user)
    if selected_only:
        wanted = [session.claims.get(SELECTED_CLAIM)]
    elif ids is not None:
        wanted = ids
    else:
        raise MagicLinkError(ErrorKey.MISSING_ARGUMENTS, "Give dct: true or ids")
    return [_tenant_json(tenant_id, tenants[tenant_id]) for tenant_id in dict.fromkeys(wanted)
            if tenant_id in tenants]


def select_tenant(refresh_jwt: str | None, tenant_id: str) -> IssuedTokens:
    """Record ``tenant_id`` as the session's selected tenant and rotate the session, as a refresh does:
    every session JWT of this session carries ``dct`` from now on. Only a tenant of the user."""
    session = session_for(refresh_jwt)
    if tenant_id not in _tenants(session.user):
        raise MagicLinkError(ErrorKey.TENANT_NOT_MEMBER)
    RefreshSession.objects.filter(pk=session.pk).update(claims={**session.claims, SELECTED_CLAIM: tenant_id})
    return refresh(refresh_jwt)
