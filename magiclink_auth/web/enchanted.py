"""The page an enchanted link opens: it says which number was picked, and only a POST acts on it.

A GET or HEAD (mail scanners open every link of a message) renders the page and changes nothing. The
POST verifies the link as an enchanted link: the right number completes the sign-in of the screen that is
waiting, another number cancels the whole request. This browser is never signed in by it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from .. import enchanted, flows
from ..errors import MagicLinkError
from .views import _page

__all__ = ["EnchantedLandingView"]


# No CSRF token: the link's token in the body is the proof, as on the API, and the POST signs nobody into
# this browser, so a forged POST has nothing to gain that the token's holder does not have already.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("t"), name="dispatch")
class EnchantedLandingView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        token = request.GET.get("t", "")[:128]
        number = enchanted.number_of(token)
        if number is None:
            return _page(request, "enchanted_done.html",
                         {"error": "This link is not valid any more. Ask for a new one."}, 410)
        return _page(request, "enchanted.html", {"number": number, "token": token})

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            flows.verify_enchanted(request.POST.get("t", "")[:128], flows.RequestMeta.of(request))
        except MagicLinkError as exc:
            return _page(request, "enchanted_done.html", {"error": exc.message}, exc.status)
        return _page(request, "enchanted_done.html")
