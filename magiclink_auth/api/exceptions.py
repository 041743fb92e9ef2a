"""Turns every failure into the protocol's error JSON; set on our views only, not site-wide."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..errors import MagicLinkError
from ..outages import log_failure, outage

__all__ = ["exception_handler", "error_response", "failure_response", "retry_headers"]

_DRF_ERRORS = [
    (exceptions.ParseError, "bad_request"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "invalid_request"),
    (exceptions.NotFound, "not_found"),
    (exceptions.ValidationError, "invalid_arguments"),
]


def error_response(error: MagicLinkError, headers: dict[str, str] | None = None) -> Response:
    return Response(error.as_json(), status=error.status, headers=headers)


def retry_headers(error: MagicLinkError) -> dict[str, str] | None:
    retry_after = getattr(error, "retry_after", None)
    return {"Retry-After": str(retry_after)} if retry_after else None


def failure_response(exc: BaseException, where: str, request=None) -> Response:
    """A fault that is not the caller's: 503 with Retry-After for an outage, else 500; logged once here,
    with the request, so a report made from the log line (AdminEmailHandler) filters it (reporting.py)."""
    error = outage(exc) or MagicLinkError("internal_error")
    log_failure(error, exc, where, request=getattr(request, "_request", request))
    response = error_response(error, retry_headers(error))
    response._has_been_logged = True  # Django's request logger would log the 5xx a second time
    return response


def exception_handler(exc: Exception, context) -> Response:
    if isinstance(exc, MagicLinkError) and exc.status < 500:
        return error_response(exc, retry_headers(exc))
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        return error_response(MagicLinkError("rate_limited"), {"Retry-After": str(max(wait, 1))})
    if isinstance(exc, RequestDataTooBig):
        return error_response(MagicLinkError("body_too_large"))
    if isinstance(exc, SuspiciousOperation):
        return error_response(MagicLinkError("bad_request"))
    if isinstance(exc, Http404):
        return error_response(MagicLinkError("not_found"))
    for drf_class, key in _DRF_ERRORS:
        if isinstance(exc, drf_class):
            return error_response(MagicLinkError(key))
    # Whatever the request wrote is rolled back also under ATOMIC_REQUESTS, as DRF does for its own errors.
    set_rollback()
    request = context.get("request")
    return failure_response(exc, f"{request.method} {request.path}" if request is not None else "the API",
                            request)
