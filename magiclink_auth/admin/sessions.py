"""Refresh sessions: state, revocation reason, and the revoke actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import sessions
from ..models import RefreshSession, RevokeReason
from .base import ADMIN_REASON, ReadOnlyAdmin, UserIdFilter


def session_state(session: RefreshSession) -> str:
    if session.revoked_at is not None:
        return "revoked"
    return "active" if session.is_active else "expired"


class SessionStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", _("Active")), ("revoked", _("Revoked")), ("expired", _("Expired")))

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "active": lambda: queryset.filter(revoked_at=None, expires_at__gt=now),
            "revoked": lambda: queryset.exclude(revoked_at=None),
            "expired": lambda: queryset.filter(revoked_at=None, expires_at__lte=now),
        }.get(self.value(), lambda: queryset)()


class RevokedReasonFilter(admin.SimpleListFilter):
    """The reasons the app writes, listed without a ``SELECT DISTINCT`` over every session."""

    title = _("revoked because")
    parameter_name = "revoked_reason"
    def lookups(self, request, model_admin):
        return RevokeReason.choices

    def queryset(self, request, queryset):
        return queryset.filter(revoked_reason=self.value()) if self.value() else queryset


@admin.register(RefreshSession)
class RefreshSessionAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "state", "created_at", "last_used_at", "expires_at", "revoked_reason", "ip")
    list_filter = (SessionStateFilter, UserIdFilter, RevokedReasonFilter)
    list_select_related = ("user",)
    # The refresh JTIs are left out: not secrets on their own, but nothing an operator needs.
    fields = (
        "id",
        "user",
        "state",
        "amr",
        "claims",
        "created_at",
        "last_used_at",
        "rotated_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "ip",
        "user_agent",
    )
    readonly_fields = fields
    ordering = ("-created_at",)
    actions = ("revoke_sessions",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("current_jti", "previous_jti")

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("magiclink_auth.change_refreshsession")

    @admin.display(description=_("state"))
    def state(self, obj: RefreshSession) -> str:
        return session_state(obj)

    @admin.action(description=_("Revoke the selected sessions"), permissions=["revoke"])
    def revoke_sessions(self, request, queryset):
        live = queryset.filter(revoked_at=None).select_related("user")
        count = 0
        for session in live:
            sessions.revoke(session, reason=ADMIN_REASON)
            count += 1
        self.message_user(
            request, ngettext("Revoked %d session.", "Revoked %d sessions.", count) % count, messages.SUCCESS
        )
