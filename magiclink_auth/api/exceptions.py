"""Turns every failure into the protocol's error JSON; set on our views only, not site-wide."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from ..errors import MagicLinkError

__all__ = ["exception_handler", "error_response"]

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


def exception_handler(exc: Exception, context) -> Response | None:
    if isinstance(exc, MagicLinkError):
        retry_after = getattr(exc, "retry_after", None)
        return error_response(exc, {"Retry-After": str(retry_after)} if retry_after else None)
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
    return None
