"""POST /v1/auth/magiclink/pending-session: the cross-device hand-over (docs/protocol.md, "Beyond the hosted API").

The tab that asked for a link with ``loginOptions.crossDevice`` polls here with its ``pendingRef``: E062503
until the link is confirmed on any device, then the JWT response (and cookies) once.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from ..crossdevice import collect
from .schema import SCHEMAS
from .serializers import PendingSessionSerializer, parse
from .views import MagicLinkAPIView, jwt_response

__all__ = ["PendingSessionView"]


@extend_schema(**SCHEMAS["pending-session"])
class PendingSessionView(MagicLinkAPIView):
    def post(self, request: Request) -> Response:
        data = parse(PendingSessionSerializer, self.body(request)).validated_data
        collected = collect(data["pendingRef"])
        return jwt_response(request, collected.tokens, collected.tokens.session.user, collected.first_seen)
