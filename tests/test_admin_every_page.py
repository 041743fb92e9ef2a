"""Every admin page of the app answers a superuser without a server error, with and without data: each
registered ModelAdmin's list, search, every choice of every filter, add, change, delete, history, and each
action. The pages are found by walking the admin site, so a page added later is covered too."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from magiclink_auth.models import Profile
from tests.test_admin import make_rows

pytestmark = pytest.mark.django_db

SEARCHES = ["Ada@Example.com", "+1 415 555 2671", "bulk1", "%"]


def app_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()
            if model._meta.app_label == "magiclink_auth"]


def url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def filter_queries(model_admin, superuser) -> list[str]:
    """Each choice of each list filter, as the query string the sidebar links to."""
    request = RequestFactory().get("/")
    request.user = superuser
    changelist = model_admin.get_changelist_instance(request)
    queries = []
    for spec in changelist.get_filters(request)[0]:
        for choice in spec.choices(changelist):
            if "query_string" in choice:
                queries.append(choice["query_string"])
            else:  # a typed-in filter (user id): a real value and a nonsense one
                queries += [f"?{choice['parameter_name']}={superuser.pk}", f"?{choice['parameter_name']}=nope"]
    return queries


def assert_answers(response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.content[:400])


def walk(client, superuser) -> int:
    pages = 0
    for model, model_admin in app_admins():
        listing = url(model, "changelist")
        for query in ["", *(f"?q={term}" for term in SEARCHES), *filter_queries(model_admin, superuser)]:
            assert_answers(client.get(listing + query), listing + query)
            pages += 1
        assert_answers(client.get(url(model, "add")), f"add {model.__name__}")
        objects = list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:2])
        for pk in objects:
            for page in ("change", "delete", "history"):
                assert_answers(client.get(url(model, page, pk)), f"{page} {model.__name__} {pk}")
                pages += 1
        request = RequestFactory().get(listing)
        request.user = superuser
        for action in model_admin.get_actions(request):
            response = client.post(listing, {"action": action, admin.helpers.ACTION_CHECKBOX_NAME: objects})
            assert_answers(response, f"action {action} on {model.__name__}")
            pages += 1
    return pages


def test_every_page_answers_without_data(admin_client, admin_user):
    assert walk(admin_client, admin_user) > 20


def test_every_page_answers_with_data(admin_client, admin_user, api, outbox, signed_up):
    signed_up("ada@example.com")
    api.post("/v1/auth/magiclink/signin/sms", {"loginId": "+14155552671"})
    make_rows(5)
    assert walk(admin_client, admin_user) > 60


def test_the_add_profile_page_saves_a_profile(admin_client, admin_user):
    response = admin_client.post(url(Profile, "add"), {
        "user": admin_user.pk, "status": "enabled", "custom_attributes": "{}",
        "login_ids-TOTAL_FORMS": "0", "login_ids-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content[:3000]
    assert Profile.objects.filter(user=admin_user).exists()
