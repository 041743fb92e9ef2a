"""Keep link tokens, JWTs and the app's cookies out of Django's error reports.

Django redacts settings and META keys that look secret, POST fields named by ``sensitive_post_parameters``
and variables named by ``sensitive_variables``. That leaves what this app handles: the ``DS``, ``DSR`` and
browser (``mlb``) cookies, whose names match no pattern; a token in a landing page's query string; tokens,
refresh JWTs and pending references held in the local variables of every frame between the view and a
crash, and in the reprs of requests and dicts.

Every view that sees one calls ``protect(request, *values)``: the request then carries ``ReporterFilter``
(Django's per-request ``exception_reporter_filter``), which blanks the app's cookies by name and any value
(META entry, POST field, frame variable) that contains a protected string. The landing page also takes its
token out of ``request.GET`` and the query string once read (``scrub_query``), since Django prints those
unfiltered.
"""

from __future__ import annotations

from django.http import QueryDict
from django.views.debug import SafeExceptionReporterFilter

from .cookies import browser_cookie_name, cookie_names

__all__ = ["ReporterFilter", "protect", "scrub_query"]

# Shorter strings are no secret of ours and would blank innocent values.
MIN_SECRET_LENGTH = 16


def _request(request):
    return getattr(request, "_request", request)  # a DRF Request wraps Django's


def protect(request, *values) -> None:
    """Blank ``values`` (and the app's cookies) wherever an error report of this request would show them."""
    request = _request(request)
    if request is None:
        return
    protected = request.__dict__.setdefault("_magiclink_secrets", set())
    protected.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH)
    if not isinstance(getattr(request, "exception_reporter_filter", None), ReporterFilter):
        request.exception_reporter_filter = ReporterFilter()


def scrub_query(request, name: str) -> None:
    """Replace parameter ``name`` of the query string (read already) with the substitute in the request."""
    request = _request(request)
    if name not in request.GET:
        return
    query = request.GET.copy()
    query[name] = ReporterFilter.cleansed_substitute
    request.GET = QueryDict(query.urlencode())
    request.META["QUERY_STRING"] = request.GET.urlencode(safe="*")


class ReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus the app's cookies and the strings ``protect`` registered on the request."""

    def _secrets(self, request) -> set[str]:
        return getattr(request, "_magiclink_secrets", set())

    def _holds_secret(self, request, value) -> bool:
        secrets = self._secrets(request)
        if not secrets:
            return False
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # a repr that fails shows nothing either
            return False
        return any(secret in text for secret in secrets)

    def _cleanse(self, request, value):
        return self.cleansed_substitute if self._holds_secret(request, value) else value

    def get_safe_cookies(self, request):
        names = {*cookie_names(), browser_cookie_name()}
        cookies = super().get_safe_cookies(request)
        return {k: self.cleansed_substitute if k in names else self._cleanse(request, v) for k, v in cookies.items()}

    def get_safe_request_meta(self, request):
        return {k: self._cleanse(request, v) for k, v in super().get_safe_request_meta(request).items()}

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None or not self._secrets(request):
            return parameters
        cleansed = parameters.copy()
        for key, value in parameters.items():
            cleansed[key] = self._cleanse(request, value)
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self._cleanse(request, value)) for name, value in variables]
