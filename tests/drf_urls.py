"""The example site's URLs plus two DRF views guarded by the app's authentication and permission."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from example_project.urls import urlpatterns as site_urlpatterns
from magiclink_auth.api.authentication import MagicLinkAuthentication
from magiclink_auth.api.permissions import IsStepUpSession


class WhoAmI(APIView):
    authentication_classes = [MagicLinkAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"userId": str(request.user.pk), "amr": request.auth["amr"]})

    post = get


class Sensitive(WhoAmI):
    permission_classes = [IsAuthenticated, IsStepUpSession]


urlpatterns = [
    path("api/whoami", WhoAmI.as_view()),
    path("api/sensitive", Sensitive.as_view()),
    *site_urlpatterns,
]
