"""Signing keys and how long each stays published."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import keys
from ..models import SigningKey
from .base import ReadOnlyAdmin


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    """Keys are rotated and pruned with ``manage.py magiclink_keys``; the private key is never shown."""

    list_display = ("kid", "algorithm", "state", "created_at", "retired_at", "published_until")
    fields = ("kid", "algorithm", "state", "created_at", "retired_at", "published_until")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("private_key_pem")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if keys.from_settings():
            self.message_user(
                request,
                _(
                    "Signing keys come from MAGICLINK_AUTH['SIGNING_KEYS']; the keys "
                    "listed here are not used."
                ),
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("state"))
    def state(self, obj: SigningKey) -> str:
        until = keys.published_until(obj)
        if until is None:
            return "active"
        return "retired" if until > timezone.now() else "expired"

    @admin.display(description=_("published until"))
    def published_until(self, obj: SigningKey):
        return keys.published_until(obj) or "-"
