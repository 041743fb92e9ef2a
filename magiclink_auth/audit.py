"""The audit log: every signal in ``signals.py`` recorded as an ``AuditEvent`` row.

On unless ``AUDIT_LOG`` is false; ``manage.py magiclink_cleanup`` deletes events older than
``AUDIT_RETENTION``. Nothing secret is stored: addresses are masked, and free-form data goes through
``redact``, which drops keys that name secrets and any value shaped like a JWT or a URL with a query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .conf import app_settings
from .identifiers import EMAIL, SMS, mask
from .models import AuditEvent
from .prepared import PreparedCreate
from .signals import ALL_SIGNALS, Event

__all__ = ["record", "redact", "connect", "sign_in_history", "written_with_change"]

logger = logging.getLogger("magiclink_auth")

SECRET_KEY_PATTERN = re.compile(r"token|jwt|secret|password|hash|pem|key|code|url|link|uri|cookie", re.I)
# A JWS in compact form: its header is base64url JSON, so it starts with "eyJ" ('{"').
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.")
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """A copy of ``value`` safe to store: secret-named keys removed, JWT- or link-shaped strings masked."""
    if isinstance(value, dict):
        return {str(k): redact(v) for k, v in value.items() if not SECRET_KEY_PATTERN.search(str(k))}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        if JWT_PATTERN.search(value) or ("://" in value and "?" in value):
            return REDACTED
        return value[:256]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:256]


def _ip(request) -> str | None:
    meta = getattr(request, "META", None) or {}
    return meta.get("REMOTE_ADDR") or None


def _masked(method: str, address: str) -> str:
    if not address:
        return ""
    try:
        return mask(method or (EMAIL if "@" in address else SMS), address)
    except Exception:  # an address in a shape mask() does not expect: store nothing rather than it
        return ""


_AUDIT_ROW = PreparedCreate(AuditEvent)

# The INSERTs of the rows recorded inside ``written_with_change``: written by the change's own statement.
_collected: ContextVar[list[tuple[str, tuple]] | None] = ContextVar("magiclink_auth_audit_rows", default=None)


@contextmanager
def written_with_change() -> Iterator[list[tuple[str, tuple]]]:
    """Collect, rather than write, the rows recorded inside: the caller writes them with the change they
    record, in one statement (``PreparedUpdate.update(inserts=...)``), so a change and its audit row still
    commit together without a transaction of their own to wait for.

        with audit.written_with_change() as rows:
            signals.link_sent.send(sender=PendingLink, link=link, result=result)
        _SENT.update(pk=link.pk, ..., inserts=rows)
    """
    rows: list[tuple[str, tuple]] = []
    token = _collected.set(rows)
    try:
        yield rows
    finally:
        _collected.reset(token)


def record(
    event: Event,
    *,
    user=None,
    link=None,
    session=None,
    reason: str = "",
    request=None,
    data: dict[str, Any] | None = None,
    method: str = "",
    target: str = "",
) -> AuditEvent | None:
    if not app_settings.AUDIT_LOG:
        return None
    # The id, not the row: the link's or session's user need not be loaded (a delivery's link is not).
    user_id = getattr(user, "pk", None)
    if link is not None:
        method = method or link.method
        target = target or link.target
        if user is None:
            user_id = link.user_id
    if session is not None and user is None and user_id is None:
        user_id = session.user_id
    ip = _ip(request)
    if ip is None and link is not None and event in {Event.LINK_REQUESTED, Event.LINK_SENT, Event.DELIVERY_FAILED}:
        ip = link.requester_ip
    if ip is None and session is not None:
        ip = session.ip
    fields = {
        "event": event,
        "user_id": user_id,
        "link_id": getattr(link, "pk", None),
        "session_id": getattr(session, "pk", None),
        "method": method or "",
        "target": _masked(method, target),
        "reason": str(reason or "")[:64],
        "ip": ip,
        "data": redact(data or {}),
    }
    collected = _collected.get()
    if collected is not None:
        collected.append(_AUDIT_ROW.insert(**fields))
        return None
    return _AUDIT_ROW.create(**fields)


def _on_link_requested(sender, link, request=None, **kwargs):
    record(Event.LINK_REQUESTED, link=link, request=request, reason=link.purpose)


def _on_link_sent(sender, link, result=None, **kwargs):
    record(
        Event.LINK_SENT,
        link=link,
        reason=getattr(result, "status", "") or "",
        data={"provider": getattr(result, "provider", "") or ""},
    )


def _on_delivery_failed(sender, link, error="", **kwargs):
    # The provider's error text, shortened, and dropped if it quotes a link.
    record(
        Event.DELIVERY_FAILED, link=link, reason=redact(str(error or "")), data={"status": link.delivery_status}
    )


def _on_scanner_open_seen(sender, link, request=None, **kwargs):
    user_agent = (getattr(request, "META", None) or {}).get("HTTP_USER_AGENT", "")
    record(Event.SCANNER_OPEN_SEEN, link=link, request=request, data={"user_agent": user_agent})


def _on_link_verified(sender, link, user, session=None, first_seen=False, **kwargs):
    record(
        Event.LINK_VERIFIED,
        link=link,
        user=user,
        session=session,
        reason=link.purpose,
        data={"first_seen": bool(first_seen)},
    )


def _on_verify_refused(sender, reason="", link=None, request=None, **kwargs):
    record(Event.VERIFY_REFUSED, link=link, reason=reason, request=request)


def _on_session_refreshed(sender, session, user=None, **kwargs):
    record(Event.SESSION_REFRESHED, session=session, user=user)


def _on_refresh_reuse_detected(sender, session, user=None, **kwargs):
    record(Event.REFRESH_REUSE_DETECTED, session=session, user=user)


def _on_session_revoked(sender, session, user=None, reason="", **kwargs):
    record(Event.SESSION_REVOKED, session=session, user=user, reason=reason)


def _on_sessions_revoked_all(sender, user, reason="", count=0, **kwargs):
    record(Event.SESSIONS_REVOKED_ALL, user=user, reason=reason, data={"count": count})


def _on_logged_out(sender, session, user=None, request=None, **kwargs):
    record(Event.LOGOUT, session=session, user=user, request=request)


def _on_logged_out_all(sender, user, session=None, count=0, request=None, **kwargs):
    record(Event.LOGOUT_ALL, session=session, user=user, request=request, data={"count": count})


def _address_changed(event: Event, method: str):
    def receiver(sender, user, old="", new="", request=None, **kwargs):
        record(
            event, user=user, request=request, method=method, target=new, data={"old": _masked(method, old)}
        )

    return receiver


_on_email_changed = _address_changed(Event.EMAIL_CHANGED, EMAIL)
_on_phone_changed = _address_changed(Event.PHONE_CHANGED, SMS)


def _on_accounts_merged(sender, kept_user, merged_user=None, merge=None, request=None, **kwargs):
    moved = getattr(merge, "moved_login_ids", None) or []
    record(
        Event.ACCOUNTS_MERGED,
        user=kept_user,
        request=request,
        link=getattr(merge, "link", None),
        target=getattr(merge, "address", "") or "",
        data={
            "merged_user_id": str(getattr(merged_user, "pk", "") or ""),
            "moved_login_ids": [_masked("", value) for value in moved],
        },
    )


RECEIVERS = {
    Event.LINK_REQUESTED: _on_link_requested,
    Event.LINK_SENT: _on_link_sent,
    Event.DELIVERY_FAILED: _on_delivery_failed,
    Event.SCANNER_OPEN_SEEN: _on_scanner_open_seen,
    Event.LINK_VERIFIED: _on_link_verified,
    Event.VERIFY_REFUSED: _on_verify_refused,
    Event.SESSION_REFRESHED: _on_session_refreshed,
    Event.REFRESH_REUSE_DETECTED: _on_refresh_reuse_detected,
    Event.SESSION_REVOKED: _on_session_revoked,
    Event.SESSIONS_REVOKED_ALL: _on_sessions_revoked_all,
    Event.LOGOUT: _on_logged_out,
    Event.LOGOUT_ALL: _on_logged_out_all,
    Event.EMAIL_CHANGED: _on_email_changed,
    Event.PHONE_CHANGED: _on_phone_changed,
    Event.ACCOUNTS_MERGED: _on_accounts_merged,
}


def connect() -> None:
    for signal, event in ALL_SIGNALS.items():
        signal.connect(RECEIVERS[event], dispatch_uid=f"magiclink_auth.audit.{event}")


HISTORY_LENGTH = 50


def sign_in_history(user, limit: int = HISTORY_LENGTH) -> list[dict[str, Any]]:
    """The user's recent sign-ins (verified links), newest first, in the shape of Descope's ``me/history``.

    There is no geolocation here, so ``city`` and ``country`` are empty.
    """
    events = AuditEvent.objects.filter(user=user, event=Event.LINK_VERIFIED).order_by(
        "-created_at", "-pk"
    )[:limit]
    return [{"userId": str(user.pk), "loginTime": int(event.created_at.timestamp()), "city": "",
             "country": "", "ip": event.ip or ""} for event in events]
