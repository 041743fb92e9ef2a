"""The Django admin for magic-link auth: profiles, login IDs, pending links, sessions, keys, audit events.

- No secret is ever shown: token hashes, JTIs and private keys are neither fields nor loaded (``defer``),
  and pending links show their target masked.
- Lists stay fast at 100,000+ rows: every list joins what it displays (``list_select_related``), computes
  states from the row itself, sorts on an indexed column, searches addresses by their normalised form
  (an indexed equality or prefix match), and skips the unfiltered ``COUNT(*)`` (``show_full_result_count``).
- Actions call the same code as the API (``sessions.revoke``, ``flows.sign_in``), so signals and the audit
  log see admin actions like any other.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import flows, keys, sessions
from .errors import MagicLinkError
from .identifiers import mask, normalize
from .models import AuditEvent, LoginId, PendingLink, Profile, RefreshSession, SigningKey

ADMIN_REASON = "admin"


# Shared pieces -----------------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the app writes and people only look at (and may delete, where a subclass allows it)."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def address_candidates(term: str) -> set[str]:
    """The stored (normalised) forms a typed address may have: as an email, as a phone, case-folded."""
    term = term.strip()
    candidates = {term, term.casefold()}
    for method in ("email", "sms"):
        try:
            candidates.add(normalize(method, term))
        except MagicLinkError:
            pass
    return candidates


def search_by_address(queryset, field: str, term: str):
    """Exact match on any normalised form, or a prefix of the case-folded term: both use the index."""
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(
        Q(**{f"{field}__in": address_candidates(term)}) | Q(**{f"{field}__startswith": term.casefold()})
    )


def request_meta(request) -> flows.RequestMeta:
    return flows.RequestMeta(
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        request=request,
    )


def _send_links(modeladmin, request, starts) -> None:
    """Run each start call; report how many links went out and why the others did not."""
    sent, refused = 0, {}
    for label, start in starts:
        try:
            start()
        except MagicLinkError as exc:
            refused[label] = exc.message
        else:
            sent += 1
    if sent:
        modeladmin.message_user(
            request, ngettext("Sent %d link.", "Sent %d links.", sent) % sent, messages.SUCCESS
        )
    for label, reason in refused.items():
        modeladmin.message_user(
            request, _("No link for %(who)s: %(reason)s") % {"who": label, "reason": reason}, messages.WARNING
        )


def _link_to_changelist(model, text, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(params), text)


class UserIdFilter(admin.SimpleListFilter):
    """Filter by user id typed in a box: a list of every user would not scale."""

    title = _("user")
    parameter_name = "user"
    template = "admin/magiclink_auth/input_filter.html"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "hidden": [(k, v) for k, v in changelist.params.items() if k != self.parameter_name],
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            user_pk = get_user_model()._meta.pk.to_python(value.strip())
        except ValidationError as exc:
            raise IncorrectLookupParameters(exc) from None
        return queryset.filter(user_id=user_pk)


# Profiles, with their login IDs and sessions inline -------------------------------------------------------


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
    actions = ("revoke_all_sessions", "send_sign_in_link")

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
        return _link_to_changelist(RefreshSession, _("All sessions (revoke from there)"), user=obj.user_id)

    @admin.display(description=_("audit log"))
    def audit_link(self, obj: Profile) -> str:
        return _link_to_changelist(AuditEvent, _("Audit events"), user=obj.user_id)

    @admin.action(description=_("Revoke all sessions of the selected users"), permissions=["change"])
    def revoke_all_sessions(self, request, queryset):
        total = sum(
            sessions.revoke_all(profile.user, reason=ADMIN_REASON)
            for profile in queryset.select_related("user")
        )
        self.message_user(
            request, ngettext("Revoked %d session.", "Revoked %d sessions.", total) % total, messages.SUCCESS
        )

    @admin.action(description=_("Send a sign-in link to the selected users"), permissions=["change"])
    def send_sign_in_link(self, request, queryset):
        ids = LoginId.objects.filter(user__in=queryset.values("user")).order_by("user_id", "created_at", "pk")
        first = {}
        for login_id in ids:
            first.setdefault(login_id.user_id, login_id)
        _send_links(self, request, _sign_in_starts(request, first.values()))


def _sign_in_starts(request, login_ids):
    meta = request_meta(request)
    for login_id in login_ids:

        def start(login_id=login_id):
            return flows.sign_in(
                login_id.method, login_id.value, uri=None, options=flows.LoginOptions(), meta=meta
            )

        yield mask(login_id.method, login_id.value), start


# Login IDs ---------------------------------------------------------------------------------------------


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
        _send_links(self, request, _sign_in_starts(request, queryset))


# Pending links ------------------------------------------------------------------------------------------


def link_state(link: PendingLink, now=None) -> str:
    if link.consumed_at is not None:
        return "used"
    if link.voided_at is not None:
        return "voided"
    if link.expires_at <= (now or timezone.now()):
        return "expired"
    return "pending"


class LinkStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("pending", _("Pending")),
            ("used", _("Used")),
            ("expired", _("Expired")),
            ("voided", _("Voided")),
        )

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "pending": lambda: queryset.filter(consumed_at=None, voided_at=None, expires_at__gt=now),
            "used": lambda: queryset.exclude(consumed_at=None),
            "voided": lambda: queryset.filter(consumed_at=None).exclude(voided_at=None),
            "expired": lambda: queryset.filter(consumed_at=None, voided_at=None, expires_at__lte=now),
        }.get(self.value(), lambda: queryset)()


@admin.register(PendingLink)
class PendingLinkAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "purpose",
        "method",
        "masked_target",
        "state",
        "delivery_status",
        "user",
        "created_at",
        "expires_at",
    )
    list_filter = (LinkStateFilter, "purpose", "method", "delivery_status")
    list_select_related = ("user",)
    search_fields = ("login_id",)
    search_help_text = _("The exact email address or phone number the link is for.")
    # Never token_hash; addresses masked; login options and user data stay in the database.
    fields = (
        "purpose",
        "method",
        "masked_target",
        "state",
        "user",
        "redirect_uri",
        "created_at",
        "expires_at",
        "consumed_at",
        "voided_at",
        "delivery_status",
        "delivery_error",
        "requester_ip",
        "requester_user_agent",
    )
    readonly_fields = fields
    ordering = ("-pk",)
    actions = ("send_fresh_link",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("token_hash", "user_data", "login_options")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(login_id__in=address_candidates(term)) if term else queryset), False

    def has_send_permission(self, request) -> bool:
        return request.user.has_perm("magiclink_auth.add_pendinglink")

    @admin.display(description=_("target"))
    def masked_target(self, obj: PendingLink) -> str:
        return mask(obj.method, obj.target)

    @admin.display(description=_("state"))
    def state(self, obj: PendingLink) -> str:
        return link_state(obj)

    @admin.action(description=_("Send a fresh link like the selected ones"), permissions=["send"])
    def send_fresh_link(self, request, queryset):
        meta = request_meta(request)

        def starts():
            for link in queryset.select_related(None).only(
                "pk", "purpose", "method", "login_id", "target", "redirect_uri"
            ):
                yield mask(link.method, link.target), lambda link=link: _resend(link, meta)

        _send_links(self, request, starts())


def _resend(link: PendingLink, meta: flows.RequestMeta):
    """A new link to the same address for the same purpose (a sign-up becomes a sign-in once the user
    exists); the older links for that address are voided as for any new link."""
    fresh = PendingLink.objects.only("user_data", "login_options").get(pk=link.pk)
    stored = fresh.login_options or {}
    options = flows.LoginOptions(
        custom_claims=stored.get("customClaims") or {},
        template_id=stored.get("templateId") or "",
        template_options=stored.get("templateOptions") or {},
        revoke_other_sessions=bool(stored.get("revokeOtherSessions")),
        locale=stored.get("locale") or "",
    )
    if link.purpose == PendingLink.Purpose.SIGN_UP:
        return flows.sign_up_or_in(
            link.method,
            link.login_id,
            uri=link.redirect_uri,
            options=options,
            meta=meta,
            user_data=fresh.user_data,
        )
    if link.purpose == PendingLink.Purpose.SIGN_IN:
        return flows.sign_in(link.method, link.login_id, uri=link.redirect_uri, options=options, meta=meta)
    raise MagicLinkError("link_wrong_purpose", "Only sign-up and sign-in links can be sent again")


# Sessions -----------------------------------------------------------------------------------------------


def session_state(session: RefreshSession) -> str:
    if session.revoked_at is not None:
        return "revoked"
    return "active" if session.expires_at > timezone.now() else "expired"


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
    REASONS = ("logout", "logout_all", "reuse", "admin", "revoke_other_sessions", "merged")

    def lookups(self, request, model_admin):
        return [(reason, reason.replace("_", " ")) for reason in self.REASONS]

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


# Signing keys -------------------------------------------------------------------------------------------


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


# Audit events -------------------------------------------------------------------------------------------


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
