"""Management keys: made here (the key is shown once, on the page that follows), revoked by an action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import management_keys
from ..models import ManagementKey


@admin.register(ManagementKey)
class ManagementKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "masked", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name",)
    fields = ("name",)
    actions = ("revoke_keys",)

    @admin.display(description=_("key"))
    def masked(self, obj: ManagementKey) -> str:
        return f"mk_…{obj.hint}"

    def get_readonly_fields(self, request, obj=None):
        # A made key's name may still be changed; nothing else of it is editable.
        return ()

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        made, raw = management_keys.create_key(form.cleaned_data["name"])
        obj.pk, obj.created_at = made.pk, made.created_at
        request._magiclink_new_key = raw

    def response_add(self, request, obj, post_url_continue=None):
        """Show the key once, in this response only: never in a message (stored in a cookie or the session)
        or anywhere it could be shown again."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, "key": obj,
                   "raw_key": request._magiclink_new_key, "title": _("Management key made")}
        response = TemplateResponse(request, "admin/magiclink_auth/management_key_made.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description=_("Revoke selected management keys"))
    def revoke_keys(self, request, queryset) -> None:
        count = 0
        for key in queryset.filter(revoked_at=None):
            management_keys.revoke(key)
            count += 1
        self.message_user(request, ngettext("Revoked %d key.", "Revoked %d keys.", count) % count,
                          messages.SUCCESS)
