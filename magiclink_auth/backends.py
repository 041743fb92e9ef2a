"""Django authentication backend for sites that host their own landing page:
``user = authenticate(request, token=request.POST["t"])``, then ``login(request, user)``.

A successful authenticate consumes the link and opens a magic-link session; its JWTs are left on
``request.magiclink_tokens`` for ``cookies.set_session_cookies``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.core.exceptions import ValidationError

from . import flows
from .errors import MagicLinkError

__all__ = ["MagicLinkBackend"]


# The dotted path Django stores in the session of a user this backend logged in.
BACKEND = f"{__name__}.MagicLinkBackend"


class MagicLinkBackend(BaseBackend):
    def authenticate(self, request, token: str | None = None, **kwargs):
        if token is None:
            return None
        meta = flows.RequestMeta.of(request)
        try:
            result = flows.verify(token, meta)
        except MagicLinkError:
            return None  # the reason is logged at DEBUG by tokens.py; callers show a generic error
        if request is not None:
            request.magiclink_tokens = result.tokens
        return result.user

    def get_user(self, user_id):
        """The active user of a session JWT's ``sub``, in one indexed query (``get``: no ``ORDER BY``)."""
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(pk=user_id)
        except (user_model.DoesNotExist, ValueError, ValidationError):
            return None
        return user if user.is_active else None
