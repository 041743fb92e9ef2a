"""Audit events, filterable by event and by user."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from ..models import AuditEvent
from .base import ReadOnlyAdmin, UserIdFilter


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event", "user_link", "method", "target", "reason", "ip", "link_id")
    list_filter = ("event", UserIdFilter, "created_at")
    list_select_related = ("user",)
    fields = (
        "created_at",
        "event",
        "user",
        "method",
        "target",
        "reason",
        "ip",
        "link_id",
        "session_id",
        "data",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("user"), ordering="user")
    def user_link(self, obj: AuditEvent) -> str:
        if obj.user_id is None:
            return "-"
        return format_html('<a href="?{}">{}</a>', urlencode({"user": obj.user_id}), str(obj.user))
