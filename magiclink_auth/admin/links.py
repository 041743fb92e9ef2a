"""Pending links: read-only, target masked, state computed from the row; an action sends a fresh one."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import flows
from ..errors import ErrorKey, MagicLinkError
from ..identifiers import mask
from ..models import PendingLink
from .base import ReadOnlyAdmin, address_candidates, send_links


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
        meta = flows.RequestMeta.of(request)

        def starts():
            for link in queryset.select_related(None).only(
                "pk", "purpose", "method", "login_id", "target", "redirect_uri"
            ):
                yield mask(link.method, link.target), lambda link=link: _resend(link, meta)

        send_links(self, request, starts())


def _resend(link: PendingLink, meta: flows.RequestMeta):
    """A new link to the same address for the same purpose (a sign-up becomes a sign-in once the user
    exists); the older links for that address are voided as for any new link."""
    fresh = PendingLink.objects.only("user_data", "login_options").get(pk=link.pk)
    # What acted on the asker's own session (step-up, MFA, revoking the others) is theirs to ask again.
    options = replace(flows.LoginOptions.from_request_data(fresh.login_options), stepup=False, mfa=False,
                      revoke_other_sessions=False)
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
    raise MagicLinkError(ErrorKey.LINK_WRONG_PURPOSE, "Only sign-up and sign-in links can be sent again")
