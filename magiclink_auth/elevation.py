"""Step-up and MFA: a sign-in link that raises an existing session instead of opening an unrelated one.

A sign-in with ``loginOptions.stepup`` or ``loginOptions.mfa`` must carry the refresh JWT of a live session
of the same user (``Authorization: Bearer <projectId>:<refreshJwt>``). The link then remembers that session
and its ``amr``; its verify issues a session whose ``amr`` is the old one plus the link's method, and, for
step-up, ``su: true``. MFA asks for a *second* factor, so it is refused when the session already has the
link's method. Both checks are made when the link is requested and again when it is verified, since the
session may have been revoked or the factor added in between.
"""

from __future__ import annotations

from typing import Any

from .errors import MagicLinkError
from .models import RefreshSession
from .sessions import live_session, session_for

__all__ = ["elevation_for", "elevated_amr", "elevated_claims"]

# The key under which the link's stored login options keep what verify needs.
KEY = "elevation"


def _check(session: RefreshSession, user, method: str, *, mfa: bool) -> None:
    if session.user_id != user.pk:
        raise MagicLinkError("elevation_wrong_user")
    if mfa and method in session.amr:
        raise MagicLinkError("mfa_factor_present")


def elevation_for(user, method: str, *, stepup: bool, mfa: bool, refresh_jwt: str | None) -> dict[str, Any]:
    """What a step-up or MFA link stores, after checking that the caller may ask for it. ``{}`` otherwise."""
    if not (stepup or mfa):
        return {}
    if not refresh_jwt:
        raise MagicLinkError("elevation_refresh_missing")
    session = session_for(refresh_jwt)
    _check(session, user, method, mfa=mfa)
    return {KEY: {"sessionId": str(session.pk), "stepup": stepup, "mfa": mfa}}


def _session_of(options: dict[str, Any]) -> RefreshSession | None:
    elevation = options.get(KEY)
    if not elevation:
        return None
    return live_session(elevation["sessionId"])


def elevated_amr(options: dict[str, Any], user, method: str) -> list[str]:
    """The ``amr`` of the session a verify opens: the raised session's factors plus this link's method."""
    session = _session_of(options)
    if session is None:
        return [method]
    _check(session, user, method, mfa=options[KEY]["mfa"])
    return [*session.amr, *([] if method in session.amr else [method])]


def elevated_claims(options: dict[str, Any]) -> dict[str, Any]:
    claims = dict(options.get("customClaims") or {})
    if (options.get(KEY) or {}).get("stepup"):
        claims["su"] = True
    return claims
