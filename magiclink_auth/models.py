"""What the app stores. Tokens are never stored, only their SHA-256; see ``tokens.py``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Profile", "LoginId", "PendingLink", "LinkLock", "RefreshSession", "SigningKey", "BrowserLogin",
    "AccountMerge", "AuditEvent", "ManagementKey", "EnchantedDecoy", "Method", "RevokeReason",
]


class Method(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class Profile(models.Model):
    """The magic-link side of a user: contact addresses, names and status, as the protocol's user JSON."""

    class Status(models.TextChoices):
        ENABLED = "enabled", _("Enabled")
        DISABLED = "disabled", _("Disabled")
        INVITED = "invited", _("Invited")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="magiclink_profile"
    )
    name = models.CharField(max_length=150, blank=True)
    given_name = models.CharField(max_length=150, blank=True)
    middle_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    picture = models.URLField(max_length=1024, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    verified_email = models.BooleanField(default=False)
    phone = models.CharField(max_length=20, blank=True)
    verified_phone = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    custom_attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set at the first successful verify: `firstSeen` is true exactly once.
    first_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Links made before either moment are refused (see account_changes.refuse_stale_link): a link sent to
    # an address the user has since replaced, or before the user was disabled, must not open a session.
    contact_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Made by the management API's create/test: test links may be generated for it, and "delete all test
    # users" deletes it.
    is_test = models.BooleanField(_("test user"), default=False, db_index=True)

    class Meta:
        verbose_name = _("magic-link profile")

    def __str__(self) -> str:
        return self.name or self.email or self.phone or str(self.user_id)

    def save(self, *args, **kwargs) -> None:
        """Stamp ``contact_changed_at`` / ``disabled_at`` whenever a save replaces an address or disables."""
        loaded = getattr(self, "_loaded", {})
        stamped = []
        if any(loaded.get(f) and loaded[f] != getattr(self, f) for f in ("email", "phone")):
            self.contact_changed_at = timezone.now()
            stamped.append("contact_changed_at")
        if self.status == self.Status.DISABLED and loaded.get("status", self.Status.DISABLED) != self.status:
            self.disabled_at = timezone.now()
            stamped.append("disabled_at")
            self._disabled_now = True  # deactivation.py ends the user's sessions once the save is done
        if stamped and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], *stamped}
        super().save(*args, **kwargs)
        self._loaded = {f: getattr(self, f) for f in ("email", "phone", "status")}

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded = {f: getattr(instance, f) for f in ("email", "phone", "status") if f in field_names}
        return instance


class LoginId(models.Model):
    """An address a user signs in with: an email (case-folded) or a phone number (E.164). Unique."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_ids")
    method = models.CharField(max_length=5, choices=Method.choices)
    value = models.CharField(max_length=254, unique=True)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("login ID")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.value


class PendingLink(models.Model):
    """A link sent and not yet used. Everything a verify may act on is bound here at creation."""

    class Purpose(models.TextChoices):
        SIGN_UP = "signup", _("Sign-up")
        SIGN_IN = "signin", _("Sign-in")
        UPDATE_EMAIL = "update_email", _("Update email")
        UPDATE_PHONE = "update_phone", _("Update phone")

    class Delivery(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # A backend raised DeliveryCancelled: not sent, on purpose, and never retried.
        CANCELLED = "cancelled", _("Cancelled")

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    method = models.CharField(max_length=5, choices=Method.choices)
    # The normalised login ID the link is for, and the stored address it is sent to.
    login_id = models.CharField(max_length=254)  # indexed first in (login_id, purpose)
    target = models.CharField(max_length=254)
    # Null for a sign-up: the user is created when the link is verified.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user_data = models.JSONField(default=dict, blank=True)
    redirect_uri = models.CharField(max_length=2048)
    login_options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    requester_ip = models.GenericIPAddressField(null=True, blank=True)
    requester_user_agent = models.CharField(max_length=512, blank=True)
    # What the message limits count the login ID as (limits.limit_key), and whether the request came from
    # a context that signed in to it before (the owner's): a stranger's link never voids the owner's.
    limit_key = models.CharField(max_length=40, blank=True, editable=False)
    requester_known = models.BooleanField(default=False, editable=False)
    # Delivery state (see tasks.py). "failed" with a next attempt set is a failure that will be retried;
    # "failed" without one gave up. The link's URL waits here sealed (AES-GCM, sealing.py) until it is
    # sent, gives up or expires, so the task queue itself never carries the token.
    delivery_status = models.CharField(max_length=16, choices=Delivery.choices, default=Delivery.QUEUED)
    delivery_error = models.CharField(max_length=512, blank=True)
    delivery_message_id = models.CharField(max_length=128, blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivery_sent_at = models.DateTimeField(null=True, blank=True)
    delivery_sealed_url = models.TextField(blank=True, editable=False)
    delivery_context = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("pending link")
        indexes = [
            models.Index(fields=["login_id", "purpose"]),
            models.Index(fields=["expires_at"]),
            models.Index(fields=["limit_key", "purpose"], name="magiclink_link_limit_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} link #{self.pk}"


class LinkLock(models.Model):
    """A row per login ID (its ``limit_key``), locked while a link for it is made or a sign-up link for it
    is verified: those run one at a time per login ID, so only the newest link is live, the cooldown is
    decided once, and two sign-up links cannot both create the account (``tokens.lock``)."""

    key = models.CharField(max_length=40, primary_key=True)
    locked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("link lock")

    def __str__(self) -> str:
        return self.key


class RevokeReason(models.TextChoices):
    """Why a session was revoked (``RefreshSession.revoked_reason``)."""

    LOGOUT = "logout", _("Logged out")
    LOGOUT_ALL = "logout_all", _("Logged out everywhere")
    REUSE = "reuse", _("Refresh token reused")
    ADMIN = "admin", _("Revoked by an administrator")
    REVOKE_OTHER_SESSIONS = "revoke_other_sessions", _("A new sign-in revoked the others")
    MERGED = "merged", _("Account merged into another")
    DISABLED = "disabled", _("User disabled")


class RefreshSession(models.Model):
    """One login session: the family of refresh JWTs that rotate from one verify.

    Only the newest refresh JWT of a family is live (``current_jti``); presenting an older one is reuse,
    which revokes the family (RFC 9700 section 4.14). The jti is a random id, not a secret: a refresh JWT
    cannot be made without the signing key, so knowing the jti grants nothing.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="magiclink_sessions")
    current_jti = models.CharField(max_length=64, editable=False)
    previous_jti = models.CharField(max_length=64, blank=True, editable=False)
    rotated_at = models.DateTimeField(null=True, blank=True)
    amr = models.JSONField(default=list, blank=True)
    # Claims every session JWT of this family carries: custom claims from loginOptions, `su` for step-up.
    claims = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    class Meta:
        verbose_name = _("session")
        indexes = [
            models.Index(fields=["user", "revoked_at"]),
            models.Index(fields=["expires_at"]),
            # The admin's session list, newest first.
            models.Index(fields=["-created_at"], name="magiclink_session_recent"),
        ]

    def __str__(self) -> str:
        return f"Session {self.id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class SigningKey(models.Model):
    """A JWT signing key kept in the database (unless the site configures ``SIGNING_KEYS``).

    The newest active key signs; retired keys still verify and stay published until ``retired_at`` plus
    the refresh lifetime, so rotating keys logs nobody out.
    """

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=10, default="RS256")
    private_key_pem = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("signing key")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.kid


class BrowserLogin(models.Model):
    """How a link completes in browsers: who asked for it, who confirmed it, and the cross-device hand-over.

    Browsers are known by the SHA-256 of a random cookie (``BROWSER_COOKIE_NAME``), never by the cookie
    itself. ``pending_ref_hash`` is the hash of the reference the requesting tab polls with; the session is
    handed to it once (``collected_at``). A link that acts for another device or session carries a number
    the requester was shown (``number_hash``, a keyed hash: see ``crossdevice.py``), which whoever opens
    the link elsewhere must give back; ``number_tries`` counts the wrong ones.
    """

    link = models.OneToOneField(PendingLink, on_delete=models.CASCADE, related_name="browser_login")
    requester_browser = models.CharField(max_length=64, blank=True)
    pending_ref_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    confirmer_browser = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    session = models.ForeignKey(RefreshSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_seen = models.BooleanField(default=False)
    collected_at = models.DateTimeField(null=True, blank=True)
    number_hash = models.CharField(max_length=64, blank=True, editable=False)
    number_tries = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("browser login")

    def __str__(self) -> str:
        return f"Browser login for link #{self.link_id}"


class AccountMerge(models.Model):
    """The record of two accounts merged by an email or phone update with ``onMergeUseExisting``.

    ``merged_user`` is the account that asked for the update; it is disabled, not deleted, so that the
    site's own rows pointing at it survive and can be moved by a receiver of ``accounts_merged``.
    """

    kept_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="magiclink_merges_kept"
    )
    merged_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="magiclink_merges_merged"
    )
    # The address whose update caused the merge, and the link that proved it.
    address = models.CharField(max_length=254)
    link = models.ForeignKey(PendingLink, null=True, on_delete=models.SET_NULL, related_name="+")
    moved_login_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("account merge")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Merge #{self.pk} into {self.kept_user_id}"


class AuditEvent(models.Model):
    """One auth event, recorded from the app's signals (``audit.py``). Never a token, JWT, link or key:
    addresses are stored masked, and ``data`` passes through ``audit.redact``."""

    class Event(models.TextChoices):
        LINK_REQUESTED = "link_requested", _("Link requested")
        LINK_SENT = "link_sent", _("Link sent")
        DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
        SCANNER_OPEN_SEEN = "scanner_open_seen", _("Scanner open seen")
        LINK_VERIFIED = "link_verified", _("Link verified")
        VERIFY_REFUSED = "verify_refused", _("Verify refused")
        SESSION_REFRESHED = "session_refreshed", _("Session refreshed")
        REFRESH_REUSE_DETECTED = "refresh_reuse_detected", _("Refresh reuse detected")
        SESSION_REVOKED = "session_revoked", _("Session revoked")
        SESSIONS_REVOKED_ALL = "sessions_revoked_all", _("All sessions revoked")
        LOGOUT = "logout", _("Logout")
        LOGOUT_ALL = "logout_all", _("Logout everywhere")
        EMAIL_CHANGED = "email_changed", _("Email changed")
        PHONE_CHANGED = "phone_changed", _("Phone changed")
        ACCOUNTS_MERGED = "accounts_merged", _("Accounts merged")

    event = models.CharField(max_length=32, choices=Event.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,  # the (user, -created_at) index serves lookups by user
    )
    # Plain ids, not foreign keys: the event outlives the link or session that cleanup deletes.
    link_id = models.BigIntegerField(null=True, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    method = models.CharField(max_length=5, blank=True)
    target = models.CharField(_("masked address"), max_length=254, blank=True)
    reason = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="magiclink_audit_recent"),
            models.Index(fields=["event", "-created_at"], name="magiclink_audit_event"),
            models.Index(fields=["user", "-created_at"], name="magiclink_audit_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class ManagementKey(models.Model):
    """A key for the management API, presented as ``Bearer <projectId>:<key>``.

    The key is shown once, when it is made; only its SHA-256 is stored (256 random bits: no slow hash
    needed, as for link tokens). ``hint`` is its last characters, to tell keys apart in lists.
    """

    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("management key")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} (…{self.hint})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class EnchantedDecoy(models.Model):
    """A link of an enchanted-link message that is not the one whose number the waiting side shows.

    Opening it (by POST: a GET never acts) kills the whole set, the right link included (``picked_at``):
    a person who picks a number their screen does not show is not the one who asked. Only the token's
    SHA-256 is stored, as for every link.
    """

    link = models.ForeignKey(PendingLink, on_delete=models.CASCADE, related_name="decoys")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    number = models.PositiveSmallIntegerField()
    picked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("enchanted-link decoy")

    def __str__(self) -> str:
        return f"Decoy {self.number} of link #{self.link_id}"
