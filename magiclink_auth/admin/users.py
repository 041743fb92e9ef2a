"""Profiles (login IDs and sessions inline) and login IDs, with actions that send sign-in links."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import deactivation, flows, sessions
from ..errors import MagicLinkError
from ..identifiers import mask, normalize
from ..models import AuditEvent, LoginId, Profile, RefreshSession
from .base import ADMIN_REASON, link_to_changelist, search_by_address, send_links


class LoginIdForm(forms.ModelForm):
    """Stores the address as the API would: case-folded email or E.164 phone, or refuses it."""

    class Meta:
        model = LoginId
        fields = ("method", "value", "verified")

    def clean(self):
        data = super().clean()
        if data.get("method") and data.get("value"):
            try:
                data["value"] = normalize(data["method"], data["value"])
            except MagicLinkError as exc:
                self.add_error("value", exc.message)
        return data


class _ByUserFormSet(BaseInlineFormSet):
    """An inline of rows keyed by user, on the page of that user's profile."""

    def __init__(self, data=None, files=None, instance=None, **kwargs):
        user = instance.user if instance is not None and instance.user_id else None
        super().__init__(data, files, instance=user, **kwargs)


class _UserKeyedInline(admin.TabularInline):
    formset = _ByUserFormSet
    extra = 0

    def __init__(self, parent_model, admin_site):
        # The rows point at the user, not at the profile: build the formset against the user model.
        super().__init__(get_user_model(), admin_site)


class LoginIdInline(_UserKeyedInline):
    model = LoginId
    form = LoginIdForm
    fields = ("method", "value", "verified", "created_at")
    readonly_fields = ("created_at",)


class ActiveSessionInline(_UserKeyedInline):
    model = RefreshSession
    verbose_name_plural = _("active sessions")
    fields = ("created_at", "last_used_at", "expires_at", "ip", "user_agent", "amr")
    readonly_fields = fields
    can_delete = False
    max_num = 0
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(revoked_at=None, expires_at__gt=timezone.now())
            .defer("current_jti", "previous_jti")
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "user",
        "email",
        "verified_email",
        "phone",
        "verified_phone",
        "status",
        "created_at",
    )
    list_filter = ("status", "verified_email", "verified_phone")
    list_select_related = ("user",)
    search_fields = ("name",)
    search_help_text = _(
        "A login ID (email address or phone number, or the start of one), or part of a name."
    )
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "first_verified_at", "sessions_link", "audit_link")
    ordering = ("-pk",)
    show_full_result_count = False
    actions = ("revoke_all_sessions", "disable_users", "send_sign_in_link")

    def get_search_results(self, request, queryset, search_term):
        """Addresses through the login IDs' unique index; anything else also as part of the name."""
        term = search_term.strip()
        if not term:
            return queryset, False
        by_address = Q(user__in=search_by_address(LoginId.objects.all(), "value", term).values("user_id"))
        if "@" in term or term[:1] in "+0123456789":
            return queryset.filter(by_address), False
        return queryset.filter(by_address | Q(name__icontains=term)), False

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_inlines(self, request, obj):
        return [LoginIdInline, ActiveSessionInline] if obj is not None else []

    @admin.display(description=_("sessions"))
    def sessions_link(self, obj: Profile) -> str:
        # The add page shows an unsaved profile: nothing to link to yet.
        if obj.user_id is None:
            return "-"
        return link_to_changelist(RefreshSession, _("All sessions (revoke from there)"), user=obj.user_id)

    @admin.display(description=_("audit log"))
    def audit_link(self, obj: Profile) -> str:
        if obj.user_id is None:
            return "-"
        return link_to_changelist(AuditEvent, _("Audit events"), user=obj.user_id)

    @admin.action(description=_("Revoke all sessions of the selected users"), permissions=["change"])
    def revoke_all_sessions(self, request, queryset):
        total = sum(
            sessions.revoke_all(profile.user, reason=ADMIN_REASON)
            for profile in queryset.select_related("user")
        )
        self.message_user(
            request, ngettext("Revoked %d session.", "Revoked %d sessions.", total) % total, messages.SUCCESS
        )

    @admin.action(description=_("Disable the selected users and end their sessions"), permissions=["change"])
    def disable_users(self, request, queryset):
        users = get_user_model()._default_manager.filter(pk__in=queryset.values("user_id"))
        total = deactivation.disable_users(users)
        self.message_user(request, ngettext(
            "Disabled the selected users; %d session ended.", "Disabled the selected users; %d sessions ended.", total
        ) % total, messages.SUCCESS)

    @admin.action(description=_("Send a sign-in link to the selected users"), permissions=["change"])
    def send_sign_in_link(self, request, queryset):
        ids = LoginId.objects.filter(user__in=queryset.values("user")).order_by("user_id", "created_at", "pk")
        first = {}
        for login_id in ids:
            first.setdefault(login_id.user_id, login_id)
        send_links(self, request, _sign_in_starts(request, first.values()))


def _sign_in_starts(request, login_ids):
    meta = flows.RequestMeta.of(request)
    for login_id in login_ids:

        def start(login_id=login_id):
            return flows.sign_in(
                login_id.method, login_id.value, uri=None, options=flows.LoginOptions(), meta=meta
            )

        yield mask(login_id.method, login_id.value), start




@admin.register(LoginId)
class LoginIdAdmin(admin.ModelAdmin):
    form = LoginIdForm
    list_display = ("value", "method", "verified", "user", "created_at")
    list_filter = ("method", "verified")
    list_select_related = ("user",)
    search_fields = ("value",)
    search_help_text = _("An email address or phone number, or the start of one.")
    raw_id_fields = ("user",)
    fields = ("user", "method", "value", "verified", "created_at")
    readonly_fields = ("created_at",)
    ordering = ("-pk",)
    show_full_result_count = False
    actions = ("send_sign_in_link",)

    def get_search_results(self, request, queryset, search_term):
        return search_by_address(queryset, "value", search_term), False

    @admin.action(description=_("Send a sign-in link to the selected login IDs"), permissions=["change"])
    def send_sign_in_link(self, request, queryset):
        send_links(self, request, _sign_in_starts(request, queryset))
