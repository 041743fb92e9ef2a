"""The app mounted under a prefix, as a site may do (``include`` under ``auth/``)."""

from django.urls import include, path

urlpatterns = [path("auth/", include("magiclink_auth.urls"))]
