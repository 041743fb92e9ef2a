"""Pieces every admin page shares: read-only lists, address search, the user-id filter, sending links."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..errors import MagicLinkError
from ..identifiers import normalize
from ..models import Method, RevokeReason

ADMIN_REASON = RevokeReason.ADMIN




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
    for method in Method:
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


def send_links(modeladmin, request, starts) -> None:
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


def link_to_changelist(model, text, **params) -> str:
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
