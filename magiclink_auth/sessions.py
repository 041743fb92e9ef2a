"""Login sessions: a refresh-JWT family per verify, rotated on every refresh, revocable.

Rotation follows RFC 9700 section 4.14. Each refresh moves ``current_jti`` forward with a conditional
update, so of two concurrent refreshes with the same token one rotates and the other finds its jti in
``previous_jti``: within ``REFRESH_REUSE_GRACE`` that is a benign double refresh (two tabs) and gets the
current tokens; after it, it is a replayed stolen token and the whole family is revoked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import jwts, signals
from .adapter import get_adapter
from .conf import app_settings
from .errors import ErrorKey, MagicLinkError
from .models import RefreshSession, RevokeReason
from .prepared import PreparedCreate
from .users import is_disabled

__all__ = [
    "IssuedTokens", "open_session", "issue_tokens", "tokens_for", "refresh", "session_for",
    "revoke", "revoke_all", "log_out", "log_out_all", "DJANGO_SESSION_KEY", "is_live",
]

logger = logging.getLogger("magiclink_auth")

# Where a Django session opened by the landing page keeps the id of the magic-link session it signed in with.
DJANGO_SESSION_KEY = "magiclink_session_id"


@dataclass(frozen=True)
class IssuedTokens:
    session: RefreshSession
    session_jwt: str
    refresh_jwt: str
    refresh_expires_at: Any


def _session_claims(session: RefreshSession, user) -> dict[str, Any]:
    adapter = get_adapter()
    return {
        **session.claims,
        "sub": str(user.pk),
        "amr": list(session.amr),
        "roles": adapter.get_roles(user),
        "permissions": adapter.get_permissions(user),
        "tenants": adapter.get_tenants(user),
    }


def issue_tokens(session: RefreshSession, user) -> IssuedTokens:
    now = timezone.now()
    session_jwt = jwts.encode(
        jwts.SESSION, _session_claims(session, user), issued_at=now, lifetime=app_settings.SESSION_LIFETIME
    )
    refresh_jwt = jwts.encode(
        jwts.REFRESH,
        {"sub": str(user.pk), "sid": str(session.pk), "jti": session.current_jti, "amr": list(session.amr)},
        issued_at=now,
        lifetime=session.expires_at - now,
    )
    return IssuedTokens(session, session_jwt, refresh_jwt, session.expires_at)


_SESSION_ROW = PreparedCreate(RefreshSession)


def open_session(
    user, *, amr: list[str], claims: dict[str, Any], ip: str | None, user_agent: str
) -> RefreshSession:
    """Store a new session, without its JWTs yet: ``issue_tokens`` signs them, which verify does after its
    transaction commits (the claims' queries and two RSA signatures need no lock on the link)."""
    now = timezone.now()
    session = _SESSION_ROW.create(
        user=user,
        current_jti=jwts.new_jti(),
        amr=amr,
        claims=claims,
        created_at=now,
        last_used_at=now,
        expires_at=now + app_settings.REFRESH_LIFETIME,
        ip=ip,
        user_agent=user_agent[:512],
    )
    return session


def live_session(session_id) -> RefreshSession:
    """The session a pending link was asked from, still live (E061303 when it was revoked or expired)."""
    session = RefreshSession.objects.filter(pk=session_id).first()
    if session is None or not session.is_active:
        raise MagicLinkError(ErrorKey.SESSION_REVOKED)
    return session


def is_live(session_id: Any, user_id: Any) -> bool:
    """Whether the magic-link session ``session_id`` of user ``user_id`` is still live (one query)."""
    pk = _uuid_or_none(session_id)
    return pk is not None and RefreshSession.objects.filter(
        pk=pk, user_id=user_id, revoked_at=None, expires_at__gt=timezone.now()).exists()


def tokens_for(session: RefreshSession) -> IssuedTokens:
    """New JWTs for a live session without rotating it: the landing page's double click and the
    cross-device hand-over give a second browser tab the same session, not a new one."""
    if not session.is_active:
        raise MagicLinkError(ErrorKey.SESSION_REVOKED)
    return issue_tokens(session, session.user)


def _decode_refresh(refresh_jwt: str | None) -> dict[str, Any]:
    if not refresh_jwt:
        raise MagicLinkError(ErrorKey.REFRESH_TOKEN_MISSING)
    try:
        return jwts.decode(refresh_jwt, jwts.REFRESH)
    except jwts.InvalidJWT as exc:
        logger.debug("Refresh JWT refused: %s", exc)
        raise MagicLinkError(ErrorKey.REFRESH_TOKEN_INVALID) from None


def _load_session(claims: dict[str, Any]) -> RefreshSession:
    session = (
        RefreshSession.objects.select_related("user__magiclink_profile")
        .filter(pk=_uuid_or_none(claims.get("sid"))).first()
    )
    if session is None or str(session.user.pk) != str(claims.get("sub")):
        raise MagicLinkError(ErrorKey.REFRESH_TOKEN_INVALID)
    if session.is_active and is_disabled(session.user):
        # Disabled by a bulk update, which sent no signal: its sessions end here (deactivation.py).
        revoke_all(session.user, reason=RevokeReason.DISABLED)
        raise MagicLinkError(ErrorKey.USER_DISABLED)
    if not session.is_active:
        disabled = session.revoked_reason == RevokeReason.DISABLED
        raise MagicLinkError(ErrorKey.USER_DISABLED if disabled else ErrorKey.SESSION_REVOKED)
    return session



def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def session_for(refresh_jwt: str | None) -> RefreshSession:
    """The live session a refresh JWT belongs to, without rotating it (logout, me, update flows)."""
    claims = _decode_refresh(refresh_jwt)
    session = _load_session(claims)
    if claims.get("jti") != session.current_jti and not _within_grace(session, claims):
        _revoke_for_reuse(session)
    return session


def _within_grace(session: RefreshSession, claims: dict[str, Any]) -> bool:
    return (
        claims.get("jti") == session.previous_jti
        and session.rotated_at is not None
        and timezone.now() - session.rotated_at <= app_settings.REFRESH_REUSE_GRACE
    )


def _revoke_for_reuse(session: RefreshSession):
    revoke(session, reason=RevokeReason.REUSE)
    signals.refresh_reuse_detected.send(sender=RefreshSession, session=session, user=session.user)
    raise MagicLinkError(ErrorKey.REFRESH_TOKEN_REUSED)


def refresh(refresh_jwt: str | None) -> IssuedTokens:
    claims = _decode_refresh(refresh_jwt)
    session = _load_session(claims)
    # A user disabled since the session began gets no new session JWT, whichever instance disabled them.
    if is_disabled(session.user):
        raise MagicLinkError(ErrorKey.USER_DISABLED)
    presented = claims.get("jti")
    if presented == session.current_jti:
        now = timezone.now()
        new_jti = jwts.new_jti()
        rotated = RefreshSession.objects.filter(pk=session.pk, current_jti=presented, revoked_at=None).update(
            current_jti=new_jti, previous_jti=presented, rotated_at=now, last_used_at=now
        )
        session.refresh_from_db()
        if not rotated and not _within_grace(session, claims):
            if session.is_active:
                # Another request rotated this very token between our read and our update: a reuse like any
                # other once the grace is over, so the family goes, as it would had we read a moment later.
                _revoke_for_reuse(session)
            raise MagicLinkError(ErrorKey.SESSION_REVOKED)
    elif not _within_grace(session, claims):
        _revoke_for_reuse(session)
    if not session.is_active:
        raise MagicLinkError(ErrorKey.SESSION_REVOKED)
    signals.session_refreshed.send(sender=RefreshSession, session=session, user=session.user)
    return issue_tokens(session, session.user)


def revoke(session: RefreshSession, *, reason: RevokeReason) -> None:
    RefreshSession.objects.filter(pk=session.pk, revoked_at=None).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    session.refresh_from_db(fields=["revoked_at", "revoked_reason"])
    signals.session_revoked.send(sender=RefreshSession, session=session, user=session.user, reason=reason)


def revoke_all(user, *, reason: RevokeReason, except_session: RefreshSession | None = None) -> int:
    sessions = RefreshSession.objects.filter(user=user, revoked_at=None)
    if except_session is not None:
        sessions = sessions.exclude(pk=except_session.pk)
    with transaction.atomic():
        count = sessions.update(revoked_at=timezone.now(), revoked_reason=reason)
    signals.sessions_revoked_all.send(sender=get_user_model(), user=user, reason=reason, count=count)
    return count


def log_out(session: RefreshSession, *, request=None) -> None:
    """The user ends this session (the API's logout, the sign-out page): revoked, and ``logged_out`` sent."""
    revoke(session, reason=RevokeReason.LOGOUT)
    signals.logged_out.send(sender=RefreshSession, session=session, user=session.user, request=request)


def log_out_all(session: RefreshSession, *, request=None) -> int:
    """The user ends every session of theirs, this one included; ``logged_out_all`` sent with the count."""
    count = revoke_all(session.user, reason=RevokeReason.LOGOUT_ALL)
    signals.logged_out_all.send(sender=RefreshSession, user=session.user, session=session, count=count,
                                request=request)
    return count
