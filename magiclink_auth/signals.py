"""Signals for every auth event, so a site can extend behaviour without subclassing.

All are sent with keyword arguments only. None carries a token, a JWT or a full link.
"""

from django.dispatch import Signal

__all__ = [
    "link_requested",
    "link_sent",
    "delivery_failed",
    "link_verified",
    "verify_refused",
    "session_refreshed",
    "refresh_reuse_detected",
    "session_revoked",
    "sessions_revoked_all",
    "accounts_merged",
]

# link (PendingLink), request (HttpRequest or None)
link_requested = Signal()
# link, result (DeliveryResult)
link_sent = Signal()
# link, error (str: reason, never the message body)
delivery_failed = Signal()
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
