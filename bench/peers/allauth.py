"""django-allauth headless login by code: ``POST /_allauth/app/v1/auth/code/request`` (answers 401 with
the pending flow and a session token), then ``.../code/confirm`` with the code and ``X-Session-Token``.

The adapter delivers the code itself to the mailbox; no template is rendered, as for the other sites.
"""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import include, path

from . import deliver


class MailboxAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix, email, context):
        deliver(email, context["code"])


urlpatterns = [path("_allauth/", include("allauth.headless.urls"))]
