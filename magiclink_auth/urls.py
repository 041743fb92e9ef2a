"""Include with ``path("", include("magiclink_auth.urls"))``: the API (``v1/``, ``v2/``) and the browser
pages (``auth/``: the link's landing page, sign-in pages, and the DEBUG-only dev outbox)."""

from django.urls import include, path

from .api.pending import PendingSessionView

urlpatterns = [
    # Before the API's include, whose catch-all answers unknown v1/ paths.
    path("v1/auth/magiclink/pending-session", PendingSessionView.as_view(),
         name="magiclink_auth_pending_session"),
    path("", include("magiclink_auth.api.urls")),
    path("", include("magiclink_auth.web.urls")),
]
