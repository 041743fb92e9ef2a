"""``handler400`` for a site's root URLconf: the API's paths answer the error JSON, other paths Django's page.

Django refuses a request whose Host header is not in ``ALLOWED_HOSTS`` (``DisallowedHost``) before any view
runs, and answers with the URLconf's ``handler400``: by default an HTML page, which the SDKs cannot parse.
Set ``handler400 = "magiclink_auth.api.handlers.bad_request"`` in the root ``urls.py``.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults

from ..errors import ErrorKey, MagicLinkError

__all__ = ["bad_request"]

API_NAMESPACE = "magiclink_auth_api"
API_URL_NAMES = {"magiclink_auth_pending_session"}


def _is_api_path(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.namespace == API_NAMESPACE or match.url_name in API_URL_NAMES


def bad_request(request: HttpRequest, exception: Exception, template_name: str = "400.html") -> HttpResponse:
    if not _is_api_path(request.path_info):
        return defaults.bad_request(request, exception, template_name)
    key = ErrorKey.HOST_NOT_ALLOWED if isinstance(exception, DisallowedHost) else ErrorKey.BAD_REQUEST
    error = MagicLinkError(key)
    response = JsonResponse(error.as_json(), status=error.status)
    response["Cache-Control"] = "no-store"
    return response
