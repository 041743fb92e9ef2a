"""The roles and permissions claims come from CLAIMS_CACHE while the user's groups and permissions are
unchanged, and every change an administrator can make shows in the very next session JWT."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

AUTH_TABLES = ("auth_group", "auth_permission", "_groups", "_user_permissions")


def refreshed(api, refresh_jwt: str) -> tuple[dict, str, list[str]]:
    """Refresh: the new session JWT's claims, the new refresh JWT, and the statements touching auth tables."""
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/v1/auth/refresh", {}, refresh=refresh_jwt)
    assert response.status_code == 200, response.content
    body = response.json()
    claims = pyjwt.decode(body["sessionJwt"], options={"verify_signature": False})
    auth_sql = [q["sql"] for q in captured.captured_queries if any(t in q["sql"] for t in AUTH_TABLES)]
    return claims, body["refreshJwt"], auth_sql


@pytest.fixture
def editor(signed_up):
    """A signed-in user in the group "editors" (which may change groups) and their refresh JWT."""
    body = signed_up()
    user = get_user_model().objects.get(pk=body["user"]["userId"])
    editors = Group.objects.create(name="editors")
    editors.permissions.add(Permission.objects.get(codename="change_group"))
    user.groups.add(editors)
    return user, editors, body["refreshJwt"]


def test_unchanged_groups_cost_no_query_after_the_first_session(api, editor):
    user, _, refresh_jwt = editor
    claims, refresh_jwt, auth_sql = refreshed(api, refresh_jwt)
    assert (claims["roles"], claims["permissions"]) == (["editors"], ["auth.change_group"])
    assert auth_sql, "the first session after a change asks the database"
    for _ in range(2):
        claims, refresh_jwt, auth_sql = refreshed(api, refresh_jwt)
        assert (claims["roles"], claims["permissions"]) == (["editors"], ["auth.change_group"])
        assert auth_sql == []


def test_without_the_cache_every_session_asks(api, editor, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "CLAIMS_CACHE": None}
    _, _, refresh_jwt = editor
    for _ in range(2):
        claims, refresh_jwt, auth_sql = refreshed(api, refresh_jwt)
        assert claims["roles"] == ["editors"] and auth_sql


def view_permission() -> Permission:
    return Permission.objects.get(codename="view_permission")


CHANGES = {
    "user joins a group": (lambda user, editors: user.groups.add(Group.objects.create(name="admins")),
                           ["admins", "editors"], ["auth.change_group"]),
    "group adds a member": (lambda user, editors: Group.objects.create(name="admins").user_set.add(user),
                            ["admins", "editors"], ["auth.change_group"]),
    "user leaves the group": (lambda user, editors: user.groups.remove(editors), [], []),
    "group is emptied": (lambda user, editors: editors.user_set.clear(), [], []),
    "group is renamed": (lambda user, editors: _rename(editors, "writers"), ["writers"], ["auth.change_group"]),
    "group is deleted": (lambda user, editors: editors.delete(), [], []),
    "group gains a permission": (lambda user, editors: editors.permissions.add(view_permission()),
                                 ["editors"], ["auth.change_group", "auth.view_permission"]),
    "group loses its permissions": (lambda user, editors: editors.permissions.clear(), ["editors"], []),
    "user gains a permission": (lambda user, editors: user.user_permissions.add(view_permission()),
                                ["editors"], ["auth.change_group", "auth.view_permission"]),
    "permission gains a user": (lambda user, editors: view_permission().user_set.add(user),
                                ["editors"], ["auth.change_group", "auth.view_permission"]),
    "user is deactivated and back (no signal)": (
        lambda user, editors: get_user_model().objects.filter(pk=user.pk).update(is_active=True),
        ["editors"], ["auth.change_group"]),
}


def _rename(group: Group, name: str) -> None:
    group.name = name
    group.save()


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_shows_in_the_next_session_jwt(api, editor, change):
    user, editors, refresh_jwt = editor
    _, refresh_jwt, _ = refreshed(api, refresh_jwt)  # cached now
    apply, roles, permissions = CHANGES[change]
    apply(user, editors)
    claims, _, _ = refreshed(api, refresh_jwt)
    assert (claims["roles"], claims["permissions"]) == (roles, permissions)


def test_a_user_made_superuser_by_an_update_gets_every_permission(api, editor):
    user, _, refresh_jwt = editor
    _, refresh_jwt, _ = refreshed(api, refresh_jwt)
    get_user_model().objects.filter(pk=user.pk).update(is_superuser=True)
    claims, _, _ = refreshed(api, refresh_jwt)
    assert {"auth.change_group", "auth.view_permission", "magiclink_auth.view_pendinglink"} <= set(
        claims["permissions"]
    )


def test_one_users_change_leaves_the_others_cached(api, editor, signed_up):
    _, editors, refresh_jwt = editor
    other = signed_up("bob@example.com")
    get_user_model().objects.get(pk=other["user"]["userId"]).groups.add(editors)
    _, refresh_jwt, _ = refreshed(api, refresh_jwt)
    _, other_refresh, _ = refreshed(api, other["refreshJwt"])
    get_user_model().objects.get(pk=other["user"]["userId"]).groups.remove(editors)
    assert refreshed(api, refresh_jwt)[2] == []
    claims, _, auth_sql = refreshed(api, other_refresh)
    assert claims["roles"] == [] and auth_sql


@pytest.mark.parametrize(("changes", "expected"), [
    ({"CLAIMS_CACHE": "nowhere"}, "magiclink_auth.E043"),
    ({"CLAIMS_CACHE": "per_process"}, "magiclink_auth.W041"),
])
def test_the_claims_cache_must_exist_and_be_shared(settings, changes, expected):
    from django.core.checks import run_checks

    settings.CACHES = {**settings.CACHES,
                       "per_process": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, **changes}
    assert expected in [problem.id for problem in run_checks()]


def test_no_claims_cache_no_warning(settings):
    from django.core.checks import run_checks

    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "CLAIMS_CACHE": None}
    assert not {"magiclink_auth.W041", "magiclink_auth.E043"} & {problem.id for problem in run_checks()}
