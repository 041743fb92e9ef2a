from django.urls import path, re_path

from . import account_views, mgmt_views, session_views, views
from .schema import OpenAPIView

app_name = "magiclink_auth_api"

urlpatterns = [
    path("v1/auth/magiclink/signup/<str:method>", views.SignUpView.as_view(), name="signup"),
    path("v1/auth/magiclink/signin/<str:method>", views.SignInView.as_view(), name="signin"),
    path("v1/auth/magiclink/signup-in/<str:method>", views.SignUpOrInView.as_view(), name="signup-in"),
    path("v1/auth/magiclink/update/email", account_views.UpdateEmailView.as_view(), name="update-email"),
    path("v1/auth/magiclink/update/phone", account_views.UpdatePhoneView.as_view(), name="update-phone"),
    path("v1/auth/magiclink/update/phone/<str:method>", account_views.UpdatePhoneView.as_view(),
         name="update-phone-method"),
    path("v1/auth/magiclink/verify", views.VerifyView.as_view(), name="verify"),
    path("v1/auth/refresh", views.RefreshView.as_view(), name="refresh"),
    path("v1/auth/logout", views.LogoutView.as_view(), name="logout"),
    path("v1/auth/logoutall", views.LogoutAllView.as_view(), name="logoutall"),
    path("v1/auth/me", views.MeView.as_view(), name="me"),
    path("v1/auth/me/history", session_views.HistoryView.as_view(), name="history"),
    path("v1/auth/me/tenants", session_views.MyTenantsView.as_view(), name="my-tenants"),
    path("v1/auth/tenant/select", session_views.SelectTenantView.as_view(), name="select-tenant"),
    path("v1/auth/try-refresh", session_views.TryRefreshView.as_view(), name="try-refresh"),
    path("v2/keys/<str:project_id>", views.KeysView.as_view(), name="keys"),
    path("v1/openapi.json", OpenAPIView.as_view(), name="openapi"),
    path("v1/mgmt/license", mgmt_views.LicenseView.as_view(), name="mgmt-license"),
    path("v1/mgmt/user/create", mgmt_views.CreateUserView.as_view(), name="mgmt-user-create"),
    path("v1/mgmt/user/create/test", mgmt_views.CreateTestUserView.as_view(), name="mgmt-user-create-test"),
    path("v1/mgmt/user", mgmt_views.LoadUserView.as_view(), name="mgmt-user-load"),
    path("v1/mgmt/user/delete", mgmt_views.DeleteUserView.as_view(), name="mgmt-user-delete"),
    path("v1/mgmt/user/test/delete/all", mgmt_views.DeleteAllTestUsersView.as_view(),
         name="mgmt-user-delete-all-test"),
    path("v1/mgmt/tests/generate/magiclink", mgmt_views.GenerateMagicLinkView.as_view(),
         name="mgmt-generate-magiclink"),
    path("v1/mgmt/user/signin/embeddedlink", mgmt_views.EmbeddedLinkView.as_view(), name="mgmt-embedded-link"),
    path("v1/mgmt/user/signup/embeddedlink", mgmt_views.SignUpEmbeddedLinkView.as_view(),
         name="mgmt-signup-embedded-link"),
    re_path(r"^v[12]/mgmt/", mgmt_views.not_supported, name="mgmt-not-supported"),
    re_path(r"^v[12]/", views.not_found, name="not-found"),
]
