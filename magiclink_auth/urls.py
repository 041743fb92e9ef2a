"""Include with ``path("", include("magiclink_auth.urls"))``; the API paths start with ``v1/`` and ``v2/``."""

from django.urls import include, path

urlpatterns = [
    path("", include("magiclink_auth.api.urls")),
]
