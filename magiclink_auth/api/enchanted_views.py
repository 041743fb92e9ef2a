"""Enchanted links at the SDKs' paths: ``/v1/auth/enchantedlink/...``.

The start and update calls are the magic-link views sending a numbered set (``enchanted``) and answering
``linkId`` and ``pendingRef`` too; verify answers ``{}`` (the session goes to the waiting side, not to the
device that opened the link); the waiting side collects with ``pending-session``, which is the cross-device
hand-over's own endpoint under this path.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import enchanted, flows
from ..errors import ErrorKey, MagicLinkError
from .account_views import UpdateEmailView, UpdatePhoneView
from .pending import PendingSessionView
from .schema import SCHEMAS
from .serializers import VerifySerializer, parse
from .views import SignInView, SignUpOrInView, SignUpView, VerifyView

__all__ = [
    "EnchantedSignUpView", "EnchantedSignInView", "EnchantedSignUpOrInView", "EnchantedUpdateEmailView",
    "EnchantedUpdatePhoneView", "EnchantedVerifyView", "EnchantedPendingSessionView",
]


@extend_schema(**SCHEMAS["enchanted-signup"])
class EnchantedSignUpView(SignUpView):
    enchanted = True


@extend_schema(**SCHEMAS["enchanted-signin"])
class EnchantedSignInView(SignInView):
    enchanted = True


@extend_schema(**SCHEMAS["enchanted-signup-in"])
class EnchantedSignUpOrInView(SignUpOrInView):
    enchanted = True


@extend_schema(**SCHEMAS["enchanted-update-email"])
class EnchantedUpdateEmailView(UpdateEmailView):
    enchanted = True


@extend_schema(**SCHEMAS["enchanted-update-phone"])
class EnchantedUpdatePhoneView(UpdatePhoneView):
    enchanted = True


@extend_schema(**SCHEMAS["enchanted-verify"])
class EnchantedVerifyView(VerifyView):
    def post(self, request: Request) -> Response:
        data = parse(VerifySerializer, self.body(request)).validated_data
        flows.verify_enchanted(data["token"], self.meta(request))
        return Response({})


@extend_schema(**SCHEMAS["enchanted-pending-session"])
class EnchantedPendingSessionView(PendingSessionView):
    def post(self, request: Request) -> Response:
        try:
            return super().post(request)
        except MagicLinkError as exc:
            ref = (request.data or {}).get("pendingRef") if isinstance(request.data, dict) else None
            if exc.key == ErrorKey.PENDING_REF_INVALID and isinstance(ref, str) and enchanted.killed_ref(ref):
                raise MagicLinkError(ErrorKey.ENCHANTED_SET_VOID) from None
            raise
