"""The admin login page's "email me a sign-in link" (``STAFF_LINK_LOGIN``): staff users only.

Every address gets the same answer, a redirect back to the login page saying that a link is on its way if
the address is a staff user's: the form must not tell anyone which addresses are staff. The link lands on
the app's landing page and goes on to the admin page the person was sent from.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_protect

from .. import flows
from ..conf import app_settings
from ..errors import MagicLinkError
from ..redirects import landing_url
from ..throttling import StartIPThrottle

__all__ = ["StaffLinkView"]


def _admin_path(candidate: str) -> str:
    """Where to go once signed in: the admin path the login page was for (a local path only)."""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return candidate
    return reverse("admin:index")


@method_decorator(csrf_protect, name="dispatch")
class StaffLinkView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not app_settings.STAFF_LINK_LOGIN:
            raise Http404
        next_path = _admin_path(request.POST.get("next", ""))
        answer = _("If a staff account uses this address, a sign-in link is on its way to it.")
        level = messages.INFO
        try:
            per_ip = StartIPThrottle()
            if not per_ip.allow_request(request, None):
                raise per_ip.refuse()
            flows.sign_in_staff(request.POST.get("email", "")[:320], uri=landing_url(next_path=next_path),
                                meta=flows.RequestMeta.of(request))
        except MagicLinkError as exc:
            # A malformed address, or a limit: said the same way whether or not the address is staff's.
            answer, level = exc.message, messages.ERROR
        messages.add_message(request, level, answer, fail_silently=True)
        login = reverse("admin:login")
        return HttpResponseRedirect(f"{login}?{urlencode({'next': next_path})}", status=303)
