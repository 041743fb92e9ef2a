"""The protocol's error JSON on API paths also for failures before the API's views run.

The views answer their own errors (``exceptions.py``). What fails earlier, in the site's middleware (a
database down while a session is loaded, a request Django refuses), reaches the browser as Django's HTML
error page, which the SDKs cannot parse. ``APIErrorMiddleware``, first in ``MIDDLEWARE``, replaces such a
page on the API's paths by the error JSON: 503 with ``Retry-After`` for an outage (E011201-E011204), 500
(E011206) for anything else, and the 4xx statuses Django answers with their own codes. Browser pages keep
the site's own error pages. Django has already logged the failure (``django.request``) at that point, so
nothing is logged here.
"""

from __future__ import annotations

import sys

from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from ..errors import ErrorKey, MagicLinkError
from ..outages import outage
from .exceptions import retry_headers
from .views import MagicLinkAPIView

__all__ = ["APIErrorMiddleware", "connect", "is_api_request"]

API_APP_NAME = "magiclink_auth_api"
# Statuses Django answers itself before a view (handler400 / 403 / 404, CommonMiddleware, body limits).
STATUS_ERRORS = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 413: "body_too_large"}
EXCEPTION_ATTRIBUTE = "_magiclink_exception"


def _remember_exception(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Django sends ``got_request_exception`` while handling the exception: keep it for the middleware."""
    if request is not None:
        setattr(request, EXCEPTION_ATTRIBUTE, sys.exc_info()[1])


def connect() -> None:
    got_request_exception.connect(_remember_exception, dispatch_uid="magiclink_auth.api.middleware")


def is_api_request(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
    view_class = getattr(match.func, "cls", None)
    return API_APP_NAME in match.app_names or (
        isinstance(view_class, type) and issubclass(view_class, MagicLinkAPIView)
    )


def _error_for(request: HttpRequest, status: int) -> MagicLinkError:
    exc = getattr(request, EXCEPTION_ATTRIBUTE, None)
    if exc is not None or status >= 500:
        return (outage(exc) if exc is not None else None) or MagicLinkError(ErrorKey.INTERNAL_ERROR)
    return MagicLinkError(STATUS_ERRORS.get(status, "invalid_request"))


class APIErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        if not is_api_request(request):
            return response
        error = _error_for(request, response.status_code)
        # A 4xx Django chose keeps its status (a site's own refusal); the body says what it was.
        status = error.status if error.status >= 500 or response.status_code >= 500 else response.status_code
        replaced = JsonResponse(error.as_json(), status=status, headers=retry_headers(error))
        replaced._has_been_logged = response._has_been_logged = True  # Django logged the failure already
        return replaced
