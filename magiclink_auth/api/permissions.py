"""DRF permissions over the session JWT's claims (``request.auth`` of ``MagicLinkAuthentication``)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from ..errors import ErrorKey, MagicLinkError

__all__ = ["IsStepUpSession"]


class IsStepUpSession(BasePermission):
    """Only a step-up session (``su: true``, from a sign-in with ``loginOptions.stepup``) may pass."""

    message = MagicLinkError(ErrorKey.STEP_UP_REQUIRED).as_json()

    def has_permission(self, request, view) -> bool:
        claims = request.auth if isinstance(request.auth, dict) else {}
        return request.user.is_authenticated and claims.get("su") is True
