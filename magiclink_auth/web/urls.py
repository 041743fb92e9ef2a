from django.urls import path

from . import enchanted, pages, staff, views

app_name = "magiclink_auth_web"

urlpatterns = [
    path("auth/link/", views.LandingView.as_view(), name="landing"),
    path("auth/enchanted/", enchanted.EnchantedLandingView.as_view(), name="enchanted"),
    path("auth/login/", pages.StartView.as_view(), name="start"),
    path("auth/check/", pages.CheckView.as_view(), name="check"),
    path("auth/check/status/", pages.CheckStatusView.as_view(), name="check_status"),
    path("auth/account/", pages.AccountView.as_view(), name="account"),
    path("auth/logout/", pages.LogoutView.as_view(), name="logout"),
    path("auth/staff-link/", staff.StaffLinkView.as_view(), name="staff_link"),
    path("auth/dev/outbox/", pages.OutboxView.as_view(), name="outbox"),
]
