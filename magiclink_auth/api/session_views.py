"""The rest of the session API: sign-in history, tenants, tenant selection and try-refresh.

All are authorised by the refresh JWT (``Bearer <projectId>:<refreshJwt>``), as ``me`` is.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import audit, sessions, tenants
from ..errors import MagicLinkError
from ..throttling import RefreshSessionThrottle
from .schema import SCHEMAS
from .serializers import MyTenantsSerializer, SelectTenantSerializer, parse
from .views import MagicLinkAPIView, jwt_response

__all__ = ["HistoryView", "MyTenantsView", "SelectTenantView", "TryRefreshView"]

# A refresh token that no longer works: try-refresh answers "nothing to refresh" for these.
NOT_REFRESHABLE = {"refresh_token_missing", "refresh_token_invalid", "session_revoked", "refresh_token_reused"}


@extend_schema(**SCHEMAS["history"])
class HistoryView(MagicLinkAPIView):
    def get(self, request: Request) -> Response:
        session = sessions.session_for(self.refresh_jwt)
        return Response(audit.sign_in_history(session.user))


@extend_schema(**SCHEMAS["my-tenants"])
class MyTenantsView(MagicLinkAPIView):
    def post(self, request: Request) -> Response:
        data = parse(MyTenantsSerializer, self.body(request)).validated_data
        session = sessions.session_for(self.refresh_jwt)
        found = tenants.my_tenants(session, selected_only=bool(data.get("dct")), ids=data.get("ids"))
        return Response({"tenants": found})


@extend_schema(**SCHEMAS["select-tenant"])
class SelectTenantView(MagicLinkAPIView):
    throttle_classes = (RefreshSessionThrottle,)

    def post(self, request: Request) -> Response:
        data = parse(SelectTenantSerializer, self.body(request)).validated_data
        tokens = tenants.select_tenant(self.refresh_jwt, data["tenant"])
        return jwt_response(request, tokens, tokens.session.user, first_seen=False)


@extend_schema(**SCHEMAS["try-refresh"])
class TryRefreshView(MagicLinkAPIView):
    """A refresh that answers ``{}`` instead of an error when there is nothing to refresh (a page asking
    "is anyone signed in?"). A replayed refresh JWT still revokes its session, as on ``refresh``."""

    throttle_classes = (RefreshSessionThrottle,)

    def post(self, request: Request) -> Response:
        try:
            tokens = sessions.refresh(self.refresh_jwt)
        except MagicLinkError as exc:
            if exc.key not in NOT_REFRESHABLE:
                raise
            return Response({})
        return jwt_response(request, tokens, tokens.session.user, first_seen=False)
