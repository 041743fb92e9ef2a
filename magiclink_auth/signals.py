"""Signals for every auth event, so a site can extend behaviour without subclassing.

All are sent with keyword arguments only. None carries a token, a JWT or a full link. ``audit.py``
records each of them as an ``AuditEvent`` (setting ``AUDIT_LOG``).
"""

from django.dispatch import Signal

from .models import AuditEvent

Event = AuditEvent.Event

__all__ = [
    "link_requested",
    "link_sent",
    "delivery_failed",
    "scanner_open_seen",
    "link_verified",
    "verify_refused",
    "session_refreshed",
    "refresh_reuse_detected",
    "session_revoked",
    "sessions_revoked_all",
    "accounts_merged",
    "logged_out",
    "logged_out_all",
    "email_changed",
    "phone_changed",
    "ALL_SIGNALS",
]

# link (PendingLink), request (HttpRequest or None). Sent inside the transaction that stores the link (and
# link_verified inside the one that consumes it and stores the session): a receiver's writes commit or roll
# back with it, and a receiver that raises makes the call fail with nothing done.
link_requested = Signal()
# link, result (DeliveryResult). Sent once the provider has taken the message, before the outcome is
# written: the audit log's row is written by the outcome's own statement (audit.written_with_change).
link_sent = Signal()
# link, error (str: reason, never the message body)
delivery_failed = Signal()
# link, request: the link's landing page was fetched by something that did not complete the login
# (a mail scanner's prefetch), so the link was left unused.
scanner_open_seen = Signal()
# link, user, session (RefreshSession), first_seen (bool)
link_verified = Signal()
# reason (error key), link (PendingLink or None)
verify_refused = Signal()
# session, user
session_refreshed = Signal()
# session, user
refresh_reuse_detected = Signal()
# session, user, reason
session_revoked = Signal()
# user, reason, count
sessions_revoked_all = Signal()
# kept_user, merged_user, merge (AccountMerge): an update with onMergeUseExisting merged two accounts
accounts_merged = Signal()
# session, user, request: the user logged out of one session.
logged_out = Signal()
# user, session (the one the request came with), count, request: the user logged out everywhere.
logged_out_all = Signal()
# user, old (str), new (str), request (or None)
email_changed = Signal()
# user, old (str), new (str), request (or None)
phone_changed = Signal()

# Signal -> the event it is recorded as (AuditEvent.event).
ALL_SIGNALS = {
    link_requested: Event.LINK_REQUESTED,
    link_sent: Event.LINK_SENT,
    delivery_failed: Event.DELIVERY_FAILED,
    scanner_open_seen: Event.SCANNER_OPEN_SEEN,
    link_verified: Event.LINK_VERIFIED,
    verify_refused: Event.VERIFY_REFUSED,
    session_refreshed: Event.SESSION_REFRESHED,
    refresh_reuse_detected: Event.REFRESH_REUSE_DETECTED,
    session_revoked: Event.SESSION_REVOKED,
    sessions_revoked_all: Event.SESSIONS_REVOKED_ALL,
    logged_out: Event.LOGOUT,
    logged_out_all: Event.LOGOUT_ALL,
    email_changed: Event.EMAIL_CHANGED,
    phone_changed: Event.PHONE_CHANGED,
    accounts_merged: Event.ACCOUNTS_MERGED,
}
