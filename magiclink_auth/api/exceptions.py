"""Turns every failure into the protocol's error JSON; set on our views only, not site-wide."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..errors import ErrorKey, MagicLinkError
from ..outages import log_failure, outage

__all__ = ["exception_handler", "error_response", "failure_response", "retry_headers"]

_DRF_ERRORS = [
    (exceptions.ParseError, ErrorKey.BAD_REQUEST),
    (exceptions.UnsupportedMediaType, ErrorKey.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.MethodNotAllowed, ErrorKey.METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, ErrorKey.INVALID_REQUEST),
    (exceptions.NotFound, ErrorKey.NOT_FOUND),
    (exceptions.ValidationError, ErrorKey.INVALID_ARGUMENTS),
]


def error_response(error: MagicLinkError, headers: dict[str, str] | None = None) -> Response:
    return Response(error.as_json(), status=error.status, headers=headers)


def retry_headers(error: MagicLinkError) -> dict[str, str] | None:
    retry_after = error.retry_after
    return {"Retry-After": str(retry_after)} if retry_after else None


def failure_response(exc: BaseException, where: str, request=None) -> Response:
    """A fault that is not the caller's: 503 with Retry-After for an outage, else 500; logged once here,
    with the request, so a report made from the log line (AdminEmailHandler) filters it (reporting.py)."""
    error = outage(exc) or MagicLinkError(ErrorKey.INTERNAL_ERROR)
    log_failure(error, exc, where, request=getattr(request, "_request", request))
    response = error_response(error, retry_headers(error))
    response._has_been_logged = True  # Django's request logger would log the 5xx a second time
    return response


def exception_handler(exc: Exception, context) -> Response:
    if isinstance(exc, MagicLinkError) and exc.status < 500:
        return error_response(exc, retry_headers(exc))
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        return error_response(MagicLinkError(ErrorKey.RATE_LIMITED), {"Retry-After": str(max(wait, 1))})
    if isinstance(exc, RequestDataTooBig):
        return error_response(MagicLinkError(ErrorKey.BODY_TOO_LARGE))
    if isinstance(exc, SuspiciousOperation):
        return error_response(MagicLinkError(ErrorKey.BAD_REQUEST))
    if isinstance(exc, Http404):
        return error_response(MagicLinkError(ErrorKey.NOT_FOUND))
    for drf_class, key in _DRF_ERRORS:
        if isinstance(exc, drf_class):
            return error_response(MagicLinkError(key))
    # Whatever the request wrote is rolled back also under ATOMIC_REQUESTS, as DRF does for its own errors.
    set_rollback()
    request = context.get("request")
    return failure_response(exc, f"{request.method} {request.path}" if request is not None else "the API",
                            request)
