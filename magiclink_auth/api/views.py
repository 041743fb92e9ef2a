"""The HTTP API of docs/protocol.md. Views parse, call one flow, and render; the rules live in ``flows/``."""

from __future__ import annotations

from dataclasses import replace

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import crossdevice, flows, sessions
from ..conf import app_settings
from ..cookies import clear_session_cookies, set_session_cookies
from ..errors import ErrorKey, MagicLinkError
from ..identifiers import EMAIL
from ..keys import jwks
from ..models import Method
from ..reporting import protect
from ..throttling import (
    RefreshSessionThrottle,
    StartIPThrottle,
    ThrottledViewMixin,
    VerifyIPThrottle,
    VerifyTokenThrottle,
    client_ip,
)
from ..users import user_json
from .exceptions import exception_handler
from .parsers import StrictJSONParser
from .schema import SCHEMAS, AutoSchema
from .serializers import SignUpSerializer, StartSerializer, VerifySerializer, parse

__all__ = [
    "SignUpView", "SignInView", "SignUpOrInView", "VerifyView", "RefreshView", "LogoutView",
    "LogoutAllView", "MeView", "KeysView", "not_found",
]

METHODS = set(Method)
# Body fields that are secrets: kept out of error reports (reporting.py).
SECRET_FIELDS = ("token", "pendingRef")


class MagicLinkAPIView(ThrottledViewMixin, APIView):
    """Base of every endpoint: JSON in and out, the protocol's errors, the project id checked.

    DRF's authentication is off here: callers identify with ``Bearer <projectId>[:<refreshJwt>]``, which
    is parsed below, and no endpoint reads cookies, so there is no ambient credential to forge (CSRF).
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = (StrictJSONParser,)
    renderer_classes = (JSONRenderer,)
    schema = AutoSchema()
    refresh_jwt: str | None = None

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request: Request, *args, **kwargs) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise MagicLinkError(ErrorKey.BAD_REQUEST) from None
        if length > app_settings.MAX_BODY_BYTES:
            raise MagicLinkError(ErrorKey.BODY_TOO_LARGE)
        protect(request, *request.COOKIES.values())
        # Before the throttles, which may key on the refresh JWT.
        self.refresh_jwt = self._check_authorization(request)
        protect(request, self.refresh_jwt)
        super().initial(request, *args, **kwargs)

    def _check_authorization(self, request: Request) -> str | None:
        scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        project_id, _, rest = credentials.strip().partition(":")
        if scheme.lower() != "bearer" or not project_id:
            raise MagicLinkError(ErrorKey.PROJECT_ID_MISSING)
        if project_id != app_settings.PROJECT_ID:
            raise MagicLinkError(ErrorKey.PROJECT_ID_MISMATCH)
        # A third segment may carry an auth management key, which this server does not use.
        return rest.partition(":")[0] or None

    def meta(self, request: Request, opener: crossdevice.Opener | None = None) -> flows.RequestMeta:
        opener = opener or crossdevice.Opener(browser=crossdevice.browser_id(request._request, create=False))
        return flows.RequestMeta.of(request._request, ip=client_ip(request), opener=opener)

    def opener(self, request: Request, number: str = "") -> crossdevice.Opener:
        """The caller as a link sees it: the browser cookie when a browser calls (never a new one), the
        session of the refresh JWT it sent, if valid, and the number it gives."""
        session = None
        if self.refresh_jwt:
            try:
                session = sessions.session_for(self.refresh_jwt)
            except MagicLinkError:
                session = None
        return crossdevice.Opener(
            browser=crossdevice.browser_id(request._request, create=False),
            session_id=str(session.pk) if session else "",
            user_id=session.user_id if session else None,
            number=number,
        )

    def body(self, request: Request) -> dict:
        data = request.data
        if not isinstance(data, dict):
            raise MagicLinkError(ErrorKey.BAD_REQUEST)
        protect(request, *(data.get(name) for name in SECRET_FIELDS))
        return data


def _method(method: str, allowed: set[str] = METHODS) -> str:
    """The delivery method of the path. The SDKs' others (whatsapp, voice, im, Embedded) get one code on
    every path, E011301, so a caller can tell "not supported here" from a malformed request."""
    if method not in allowed:
        raise MagicLinkError(ErrorKey.CHANNEL_NOT_SUPPORTED,
                             f"Use {' or '.join(sorted(allowed))}, not {method[:20]!r}")
    return method


# Start calls per IP; the limits per login ID and on SMS are the flows' (limits.py).
START_THROTTLES = (StartIPThrottle,)


def _start_response(result: flows.StartResult) -> Response:
    key = "maskedEmail" if result.method == EMAIL else "maskedPhone"
    body = {key: result.masked_address}
    if result.link_number:
        # An enchanted link: the number to show the waiting side (also its handover number, "code").
        body["linkId"] = result.link_number
    if result.handover.pending_ref:
        body["pendingRef"] = result.handover.pending_ref
    if result.handover.number and not result.link_number:
        body["code"] = result.handover.number
    return Response(body)


class StartView(MagicLinkAPIView):
    """A start call; ``enchanted`` views send a numbered set of links instead of one."""

    throttle_classes = START_THROTTLES
    enchanted = False

    def start_options(self, data: dict) -> flows.LoginOptions:
        return replace(flows.LoginOptions.from_request_data(data.get("loginOptions")), enchanted=self.enchanted)


@extend_schema(**SCHEMAS["signup"])
class SignUpView(StartView):
    def post(self, request: Request, method: str) -> Response:
        data = parse(SignUpSerializer, self.body(request)).validated_data
        return _start_response(flows.sign_up(
            _method(method), data["loginId"], uri=data.get("URI"), user_data=dict(data.get("user") or {}),
            options=self.start_options(data), meta=self.meta(request), refresh_jwt=self.refresh_jwt,
        ))


@extend_schema(**SCHEMAS["signin"])
class SignInView(StartView):
    def post(self, request: Request, method: str) -> Response:
        data = parse(StartSerializer, self.body(request)).validated_data
        return _start_response(flows.sign_in(
            _method(method), data["loginId"], uri=data.get("URI"),
            options=self.start_options(data), meta=self.meta(request),
            refresh_jwt=self.refresh_jwt,
        ))


@extend_schema(**SCHEMAS["signup-in"])
class SignUpOrInView(StartView):
    def post(self, request: Request, method: str) -> Response:
        data = parse(StartSerializer, self.body(request)).validated_data
        return _start_response(flows.sign_up_or_in(
            _method(method), data["loginId"], uri=data.get("URI"),
            options=self.start_options(data), meta=self.meta(request),
            refresh_jwt=self.refresh_jwt,
        ))


def jwt_response(request: Request, tokens: sessions.IssuedTokens, user, first_seen: bool) -> Response:
    max_age = int((tokens.refresh_expires_at - tokens.session.last_used_at).total_seconds())
    response = Response({
        "sessionJwt": tokens.session_jwt,
        "refreshJwt": tokens.refresh_jwt,
        "cookieDomain": app_settings.COOKIE_DOMAIN or "",
        "cookiePath": app_settings.COOKIE_PATH,
        "cookieMaxAge": max_age,
        "cookieExpiration": int(tokens.refresh_expires_at.timestamp()),
        "user": user_json(user),
        "firstSeen": first_seen,
    })
    set_session_cookies(request, response, tokens)
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response


@extend_schema(**SCHEMAS["verify"])
class VerifyView(MagicLinkAPIView):
    throttle_classes = (VerifyIPThrottle, VerifyTokenThrottle)

    def post(self, request: Request) -> Response:
        data = parse(VerifySerializer, self.body(request)).validated_data
        result = flows.verify(data["token"], self.meta(request, self.opener(request, data.get("code") or "")))
        return jwt_response(request, result.tokens, result.user, result.first_seen)


@extend_schema(**SCHEMAS["refresh"])
class RefreshView(MagicLinkAPIView):
    throttle_classes = (RefreshSessionThrottle,)

    def post(self, request: Request) -> Response:
        tokens = sessions.refresh(self.refresh_jwt)
        return jwt_response(request, tokens, tokens.session.user, first_seen=False)


@extend_schema(**SCHEMAS["logout"])
class LogoutView(MagicLinkAPIView):
    def post(self, request: Request) -> Response:
        sessions.log_out(sessions.session_for(self.refresh_jwt), request=request)
        response = Response({})
        clear_session_cookies(response)
        return response


@extend_schema(**SCHEMAS["logoutall"])
class LogoutAllView(MagicLinkAPIView):
    def post(self, request: Request) -> Response:
        sessions.log_out_all(sessions.session_for(self.refresh_jwt), request=request)
        response = Response({})
        clear_session_cookies(response)
        return response


@extend_schema(**SCHEMAS["me"])
class MeView(MagicLinkAPIView):
    def get(self, request: Request) -> Response:
        session = sessions.session_for(self.refresh_jwt)
        return Response(user_json(session.user))


@extend_schema(**SCHEMAS["keys"])
class KeysView(MagicLinkAPIView):
    def get(self, request: Request, project_id: str) -> Response:
        if project_id != app_settings.PROJECT_ID:
            raise MagicLinkError(ErrorKey.PROJECT_ID_MISMATCH)
        return Response(jwks())


class NotFoundView(MagicLinkAPIView):
    """Unknown paths under the API answer the error JSON too: the Node SDK parses every body as JSON."""

    schema = None  # not an endpoint: left out of the OpenAPI schema
    error_key = ErrorKey.NOT_FOUND

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise MagicLinkError(self.error_key)

    get = post = put = patch = delete = _not_found

    def initial(self, request: Request, *args, **kwargs) -> None:
        """No project check: a wrong path is a wrong path, whoever asks."""


not_found = NotFoundView.as_view()
