"""POST /v1/auth/magiclink/pending-session: the cross-device hand-over (PROTOCOL.md, "Beyond the hosted API").

The tab that asked for a link with ``loginOptions.crossDevice`` polls here with its ``pendingRef``: E062503
until the link is confirmed on any device, then the JWT response (and cookies) once.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ..web.browsers import collect
from .serializers import parse
from .views import MagicLinkAPIView, jwt_response

__all__ = ["PendingSessionView"]


class PendingSessionSerializer(serializers.Serializer):
    pendingRef = serializers.CharField(max_length=128)


class PendingSessionView(MagicLinkAPIView):
    def post(self, request: Request) -> Response:
        data = parse(PendingSessionSerializer, self.body(request)).validated_data
        collected = collect(data["pendingRef"])
        return jwt_response(request, collected.tokens, collected.tokens.session.user, collected.first_seen)
