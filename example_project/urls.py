from django.contrib import admin
from django.urls import include, path

from . import views

# API paths answer the error JSON also when Django refuses the request itself (a disallowed Host header).
handler400 = "magiclink_auth.api.handlers.bad_request"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("", include("magiclink_auth.urls")),
]
