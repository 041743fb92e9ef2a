"""Update email and update phone (docs/protocol.md): authorised by the refresh JWT, answered like a start call."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import account_changes
from ..identifiers import EMAIL, SMS
from ..throttling import UpdateIPThrottle, UpdateSessionThrottle
from .schema import SCHEMAS
from .serializers import UpdateEmailSerializer, UpdatePhoneSerializer, parse
from .views import MagicLinkAPIView, _method, _start_response

__all__ = ["UpdateEmailView", "UpdatePhoneView"]


class _UpdateView(MagicLinkAPIView):
    throttle_classes = (UpdateIPThrottle, UpdateSessionThrottle)
    method = ""
    enchanted = False
    serializer_class = UpdateEmailSerializer
    address_field = ""

    def post(self, request: Request, method: str = "", **kwargs) -> Response:
        if method:
            _method(method, {self.method})
        data = parse(self.serializer_class, self.body(request)).validated_data
        return _start_response(
            account_changes.start_update(
                self.method,
                data["loginId"],
                data[self.address_field],
                refresh_jwt=self.refresh_jwt,
                uri=data.get("URI"),
                add_to_login_ids=bool(data.get("addToLoginIDs")),
                merge=bool(data.get("onMergeUseExisting")),
                template_id=data.get("templateId") or "",
                template_options=data.get("templateOptions") or {},
                meta=self.meta(request),
                enchanted=self.enchanted,
            ),
        )


@extend_schema(**SCHEMAS["update-email"])
class UpdateEmailView(_UpdateView):
    method, serializer_class, address_field = EMAIL, UpdateEmailSerializer, "email"


@extend_schema(**SCHEMAS["update-phone"])
class UpdatePhoneView(_UpdateView):
    """Served at ``update/phone`` (Python SDK) and ``update/phone/sms`` (Node SDK); other channels
    (``update/phone/whatsapp``, ``/im``) answer E011301."""

    method, serializer_class, address_field = SMS, UpdatePhoneSerializer, "phone"
