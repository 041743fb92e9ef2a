from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MagicLinkAuthConfig(AppConfig):
    name = "magiclink_auth"
    verbose_name = _("Magic-link authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Signal receivers (account changes, audit log) and system checks.
        from . import account_changes, audit, authz, checks  # noqa: F401
        from .web import browsers  # noqa: F401 - connects the cross-device signal receiver

        audit.connect()
        authz.connect()
