"""Django authentication backend for sites that host their own landing page:
``user = authenticate(request, token=request.POST["t"])``, then ``login(request, user)``.

A successful authenticate consumes the link and opens a magic-link session; its JWTs are left on
``request.magiclink_tokens`` for ``cookies.set_session_cookies``.
"""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.core.exceptions import ValidationError

from . import crossdevice, flows
from .errors import MagicLinkError
from .prepared import Prepared
from .users import is_disabled

__all__ = ["MagicLinkBackend"]


# The dotted path Django stores in the session of a user this backend logged in.
BACKEND = f"{__name__}.MagicLinkBackend"


class MagicLinkBackend(BaseBackend):
    def authenticate(self, request, token: str | None = None, number: str = "", **kwargs):
        """``number``: what the person typed, for a link that acts for another device or session
        (docs/security.md, "Number matching"); such a link is otherwise used only in the browser that asked."""
        if token is None:
            return None
        user = getattr(request, "user", None)
        opener = crossdevice.Opener(browser=crossdevice.browser_id(request, create=False),
                                    user_id=user.pk if user is not None and user.is_authenticated else None,
                                    number=number)
        meta = flows.RequestMeta.of(request, opener=opener)
        try:
            result = flows.verify(token, meta)
        except MagicLinkError:
            return None  # the reason is logged at DEBUG by tokens.py; callers show a generic error
        if request is not None:
            request.magiclink_tokens = result.tokens
        return result.user

    def get_user(self, user_id):
        """The user of a session JWT's ``sub`` unless disabled (deactivated, or the profile's status): one
        indexed query with the profile joined, compiled once (every ``request.user`` of a signed-in page
        runs it) from the default manager's queryset as it is then (README, "Existing users")."""
        user_model = get_user_model()
        try:
            found = _by_pk(user_model).objects(pk=user_id)
        except (ValueError, ValidationError):
            return None
        if len(found) != 1:
            return None
        return None if is_disabled(found[0]) else found[0]


@functools.cache
def _by_pk(user_model) -> Prepared:
    # get()'s SQL: no ORDER BY, LIMIT 21 (prepared.py).
    return Prepared(
        lambda pk: user_model._default_manager.select_related("magiclink_profile").filter(pk=pk).order_by()[:21],
        pk=(user_model, user_model._meta.pk.name),
    )
