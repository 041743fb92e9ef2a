from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class MagicLinkAuthConfig(AppConfig):
    name = "magiclink_auth"
    verbose_name = _("Magic-link authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing checks registers the system checks (Django's own pattern); every signal receiver is
        # connected here, by name, and by no import's side effect.
        from . import audit, authz, checks, deactivation  # noqa: F401
        from .api import middleware

        audit.connect()
        deactivation.connect()
        middleware.connect()
        authz.connect()
        self._offer_staff_links()

    def _offer_staff_links(self) -> None:
        """The admin's login page, with the "email me a sign-in link" form that ``STAFF_LINK_LOGIN`` shows.

        Unless the site set its own login template: it then includes ours, or not, itself. With the setting
        off the page is the admin's own, unchanged.
        """
        if not apps.is_installed("django.contrib.admin"):
            return
        from django.contrib import admin

        if admin.site.login_template is None:
            admin.site.login_template = "admin/magiclink_auth/login.html"
