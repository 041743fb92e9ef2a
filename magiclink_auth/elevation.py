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

from .errors import ErrorKey, MagicLinkError
from .jwts import RESERVED_CLAIMS
from .models import RefreshSession
from .sessions import live_session, session_for
from .users import find_user

__all__ = ["NAMESPACE", "caller_session", "elevation_for", "elevated_amr", "elevated_claims"]

# The key under which the link's stored login options keep what verify needs.
KEY = "elevation"
# The claim holding the custom claims of a start call (Descope's "non-secure" claims).
NAMESPACE = "nsec"
# Claims a management-key holder put on an embedded link (managed_users.py): a trusted caller, so they go to
# the top level of the session JWT as Descope's embedded links do, the server's own claims excepted.
TRUSTED_CLAIMS = "managementClaims"


def _check(session: RefreshSession, user, method: str, *, mfa: bool) -> None:
    if session.user_id != user.pk:
        raise MagicLinkError(ErrorKey.ELEVATION_WRONG_USER)
    if mfa and method in session.amr:
        raise MagicLinkError(ErrorKey.MFA_FACTOR_PRESENT)


def caller_session(login_id: str, *, stepup: bool, mfa: bool, revoke: bool,
                   refresh_jwt: str | None) -> RefreshSession | None:
    """The caller's own live session, for the options that act on an existing session (``stepup``, ``mfa``,
    ``revokeOtherSessions``); None when none is asked.

    Checked before anything is looked up about the login ID, and answered alike (E062802) whether the login
    ID is another user's or no one's: these options tell nothing about who has an account. An anonymous
    caller cannot use them (E062801, E062905), so a link requested by a stranger never revokes the sessions
    of whoever clicks it.
    """
    if not (stepup or mfa or revoke):
        return None
    if not refresh_jwt:
        raise MagicLinkError(ErrorKey.ELEVATION_REFRESH_MISSING if stepup or mfa else "revoke_needs_session")
    session = session_for(refresh_jwt)
    owner = find_user(login_id)
    if owner is None or owner.pk != session.user_id:
        raise MagicLinkError(ErrorKey.ELEVATION_WRONG_USER)
    return session


def elevation_for(session: RefreshSession | None, user, method: str, *, stepup: bool, mfa: bool) -> dict[str, Any]:
    """What a step-up or MFA link stores, from the caller's session (``caller_session``). ``{}`` otherwise."""
    if not (stepup or mfa) or session is None:
        return {}
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
    """The claims a link's session carries. ``customClaims`` come from whoever asked for the link, so they go
    under one namespace claim, ``nsec`` (as Descope puts a client's claims), never the top level: a stranger
    asking for a link to a victim's address cannot put ``email``, ``role`` or ``scope`` into their session."""
    custom = options.get("customClaims") or {}
    claims: dict[str, Any] = {NAMESPACE: dict(custom)} if custom else {}
    claims.update({name: value for name, value in (options.get(TRUSTED_CLAIMS) or {}).items()
                   if name not in RESERVED_CLAIMS})
    if (options.get(KEY) or {}).get("stepup"):
        claims["su"] = True
    return claims
