"""The admin: every page loads for a superuser, shows no secret, costs the same queries at 5 or 50 rows;
every action does what it says."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from magiclink_auth import keys
from magiclink_auth.models import AuditEvent, LoginId, PendingLink, Profile, RefreshSession, SigningKey
from magiclink_auth.tokens import hash_token
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

MODELS = [Profile, LoginId, PendingLink, RefreshSession, SigningKey, AuditEvent]


def changelist(model) -> str:
    return reverse(f"admin:magiclink_auth_{model._meta.model_name}_changelist")


def change(model, pk) -> str:
    return reverse(f"admin:magiclink_auth_{model._meta.model_name}_change", args=[pk])


def make_rows(count: int, start: int = 0) -> None:
    """``count`` users with a profile, a login ID, a pending link, a session, an audit event, a key."""
    User = get_user_model()
    now = timezone.now()
    users = User.objects.bulk_create(
        [User(**{User.USERNAME_FIELD: f"bulk{start + i}@example.com"}) for i in range(count)]
    )
    if users[0].pk is None:  # databases that do not return ids from bulk_create
        users = list(User.objects.order_by("-pk")[:count])
    Profile.objects.bulk_create(
        [Profile(user=u, name=f"User {i}", email=f"bulk{start + i}@example.com") for i, u in enumerate(users)]
    )
    LoginId.objects.bulk_create(
        [LoginId(user=u, method="email", value=f"bulk{start + i}@example.com") for i, u in enumerate(users)]
    )
    PendingLink.objects.bulk_create(
        [
            PendingLink(
                token_hash=uuid.uuid4().hex * 2,
                purpose="signin",
                method="email",
                login_id=f"bulk{start + i}@example.com",
                target=f"bulk{start + i}@example.com",
                user=u,
                redirect_uri="https://app.example.com/",
                expires_at=now + timedelta(minutes=i - count // 2),
                consumed_at=now if i % 3 == 0 else None,
            )
            for i, u in enumerate(users)
        ]
    )
    RefreshSession.objects.bulk_create(
        [
            RefreshSession(user=u, current_jti=uuid.uuid4().hex, expires_at=now + timedelta(days=1))
            for u in users
        ]
    )
    AuditEvent.objects.bulk_create(
        [AuditEvent(event="link_requested", user=u, target="b***@example.com") for u in users]
    )
    SigningKey.objects.bulk_create(
        [SigningKey(kid=f"kid-{start + i}", private_key_pem="unused", retired_at=now) for i in range(count)]
    )


def queries_for(client, url: str) -> int:
    client.get(url)  # warm the per-process caches (content types, permissions) before counting
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(queries)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_queries_do_not_grow_with_rows(admin_client, model):
    make_rows(5)
    few = queries_for(admin_client, changelist(model))
    make_rows(45, start=5)
    many = queries_for(admin_client, changelist(model))
    assert many == few
    assert few <= 12


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_change_page_queries_do_not_grow_with_rows(admin_client, model):
    make_rows(5)
    obj = model.objects.order_by("pk").first()
    few = queries_for(admin_client, change(model, obj.pk))
    make_rows(45, start=5)
    many = queries_for(admin_client, change(model, obj.pk))
    assert many == few


@pytest.fixture
def secrets_of_a_login(api, outbox, signed_up):
    """A user who verified one link and holds another, unused: every secret that exists for them."""
    session = signed_up("grace@example.com")
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "grace@example.com"})
    token = token_of(outbox[-1])
    keys.get_signing_key()
    key = SigningKey.objects.get()
    row = RefreshSession.objects.get()
    pem_body = key.private_key_pem.splitlines()[1]
    return [
        token,
        hash_token(token),
        session["sessionJwt"],
        session["refreshJwt"],
        row.current_jti,
        pem_body,
        outbox[-1].url,
    ]


def test_no_admin_page_shows_a_secret(admin_client, secrets_of_a_login):
    assert AuditEvent.objects.exists()
    for model in MODELS:
        pages = [changelist(model)] + [change(model, pk) for pk in model.objects.values_list("pk", flat=True)]
        for url in pages:
            response = admin_client.get(url)
            assert response.status_code == 200, url
            html = response.content.decode()
            for secret in secrets_of_a_login:
                assert secret not in html, (url, secret[:12])


def test_pending_link_page_shows_purpose_masked_target_expiry_and_state(admin_client, api, outbox):
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "hedy@example.com"})
    link = PendingLink.objects.get()
    html = admin_client.get(change(PendingLink, link.pk)).content.decode()
    assert "h***@example.com" in html
    assert "hedy@example.com" not in html
    assert "Sign-up" in html and "pending" in html
    listing = admin_client.get(changelist(PendingLink)).content.decode()
    assert "h***@example.com" in listing and "hedy@example.com" not in listing


@pytest.mark.parametrize("state", ["pending", "used", "expired", "voided"])
def test_pending_links_filter_by_state(admin_client, state):
    make_rows(1)
    base = dict(
        purpose="signin",
        method="email",
        login_id="x@example.com",
        target="x@example.com",
        redirect_uri="https://app.example.com/",
    )
    now = timezone.now()
    made = {
        "pending": PendingLink.objects.create(
            token_hash="a" * 64, expires_at=now + timedelta(minutes=5), **base
        ),
        "used": PendingLink.objects.create(
            token_hash="b" * 64, expires_at=now + timedelta(minutes=5), consumed_at=now, **base
        ),
        "expired": PendingLink.objects.create(
            token_hash="c" * 64, expires_at=now - timedelta(minutes=5), **base
        ),
        "voided": PendingLink.objects.create(
            token_hash="d" * 64, expires_at=now + timedelta(minutes=5), voided_at=now, **base
        ),
    }
    response = admin_client.get(changelist(PendingLink), {"state": state, "q": "x@example.com"})
    shown = list(response.context["cl"].result_list)
    assert shown == [made[state]]
    assert f">{state}<" in response.content.decode()


def test_pending_links_cannot_be_added_or_edited(admin_client, api):
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "ida@example.com"})
    link = PendingLink.objects.get()
    assert admin_client.get(reverse("admin:magiclink_auth_pendinglink_add")).status_code == 403
    response = admin_client.post(change(PendingLink, link.pk), {"purpose": "signin"})
    assert response.status_code == 403


def test_login_ids_search_by_address_in_any_form(admin_client, signed_up):
    signed_up("Joan@Example.com")
    make_rows(3)
    for typed in ["JOAN@example.com", "joan", " joan@example.com "]:
        shown = list(admin_client.get(changelist(LoginId), {"q": typed}).context["cl"].result_list)
        assert [entry.value for entry in shown] == ["joan@example.com"], typed


def test_profiles_search_by_login_id_or_name(admin_client, signed_up):
    signed_up("Wren@Example.com", name="Wren Hale")
    make_rows(3)
    for typed in ["wren@example.COM", "wren@", "Hale"]:
        shown = admin_client.get(changelist(Profile), {"q": typed}).context["cl"].result_list
        assert [profile.name for profile in shown] == ["Wren Hale"], typed


def test_login_ids_filter_by_verified(admin_client, signed_up):
    signed_up("kay@example.com")
    make_rows(3)
    shown = admin_client.get(changelist(LoginId), {"verified__exact": "1"}).context["cl"].result_list
    assert [entry.value for entry in shown] == ["kay@example.com"]


def test_login_id_typed_in_the_admin_is_normalised_or_refused(admin_client, signed_up):
    signed_up("lin@example.com")
    user = LoginId.objects.get().user
    response = admin_client.post(
        reverse("admin:magiclink_auth_loginid_add"),
        {"user": user.pk, "method": "sms", "value": "+1 (415) 555-2671", "verified": ""},
    )
    assert response.status_code == 302, response.content
    assert LoginId.objects.filter(user=user, value="+14155552671").exists()
    response = admin_client.post(
        reverse("admin:magiclink_auth_loginid_add"),
        {"user": user.pk, "method": "email", "value": "not an email"},
    )
    assert response.status_code == 200
    assert not LoginId.objects.filter(value="not an email").exists()


def test_profile_page_shows_login_ids_and_active_sessions_inline(admin_client, signed_up, api):
    signed_up("max@example.com")
    profile = Profile.objects.get()
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "max@example.com"})  # a link, not a session
    RefreshSession.objects.create(
        user=profile.user, current_jti="x", expires_at=timezone.now(), ip="198.51.100.7"
    )  # expired: not among the active ones
    html = admin_client.get(change(Profile, profile.pk)).content.decode()
    assert 'name="login_ids-TOTAL_FORMS" value="1"' in html
    assert 'value="max@example.com"' in html
    assert 'name="magiclink_sessions-TOTAL_FORMS" value="1"' in html
    assert "127.0.0.1" in html and "198.51.100.7" not in html


def test_profile_page_queries_do_not_grow_with_the_users_sessions(admin_client, signed_up):
    signed_up("mo@example.com")
    profile = Profile.objects.get()

    def add(count):
        RefreshSession.objects.bulk_create(
            [
                RefreshSession(
                    user=profile.user,
                    current_jti=uuid.uuid4().hex,
                    expires_at=timezone.now() + timedelta(days=1),
                )
                for _ in range(count)
            ]
        )
        LoginId.objects.bulk_create(
            [
                LoginId(user=profile.user, method="email", value=f"{uuid.uuid4().hex}@x.io")
                for _ in range(count)
            ]
        )

    add(4)
    few = queries_for(admin_client, change(Profile, profile.pk))
    add(45)
    assert queries_for(admin_client, change(Profile, profile.pk)) == few


def _action(client, model, action, pks):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            changelist(model), {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True
        )


def test_revoke_selected_sessions_action_logs_that_session_out(admin_client, api, signed_up, outbox):
    refresh = signed_up("nia@example.com")["refreshJwt"]
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "nia@example.com"})
    other = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()["refreshJwt"]
    sessions = list(RefreshSession.objects.order_by("created_at"))
    _action(admin_client, RefreshSession, "revoke_sessions", [sessions[0].pk])
    assert api.post("/v1/auth/refresh", {}, refresh=refresh).status_code == 401
    assert RefreshSession.objects.get(pk=sessions[0].pk).revoked_reason == "admin"
    assert RefreshSession.objects.get(pk=sessions[1].pk).revoked_at is None
    assert api.post("/v1/auth/refresh", {}, refresh=other).status_code == 200


def test_revoke_all_sessions_action_logs_the_user_out_everywhere(admin_client, api, signed_up, outbox):
    first = signed_up("oda@example.com")["refreshJwt"]
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "oda@example.com"})
    second = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()["refreshJwt"]
    response = _action(admin_client, Profile, "revoke_all_sessions", [Profile.objects.get().pk])
    assert "Revoked 2 sessions" in response.content.decode()
    for refresh in (first, second):
        assert api.post("/v1/auth/refresh", {}, refresh=refresh).status_code == 401
    assert AuditEvent.objects.filter(event="sessions_revoked_all", reason="admin").exists()


def test_send_fresh_link_action_sends_a_working_link_and_voids_the_old(admin_client, api, outbox):
    api.post("/v1/auth/magiclink/signup/email", {"loginId": "pam@example.com"})
    old = token_of(outbox[-1])
    response = _action(admin_client, PendingLink, "send_fresh_link", [PendingLink.objects.get().pk])
    assert "Sent 1 link" in response.content.decode()
    assert len(outbox) == 2 and outbox[-1].recipient == "pam@example.com"
    fresh = token_of(outbox[-1])
    assert fresh != old
    assert api.post("/v1/auth/magiclink/verify", {"token": old}).status_code == 401
    verified = api.post("/v1/auth/magiclink/verify", {"token": fresh})
    assert verified.status_code == 200 and verified.json()["firstSeen"] is True


def test_send_fresh_link_after_sign_up_completed_sends_a_sign_in_link(admin_client, api, outbox, signed_up):
    signed_up("quin@example.com")
    signup_link = PendingLink.objects.get(purpose="signup")
    _action(admin_client, PendingLink, "send_fresh_link", [signup_link.pk])
    assert PendingLink.objects.filter(purpose="signin", login_id="quin@example.com").count() == 1
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])})
    assert verified.status_code == 200 and verified.json()["firstSeen"] is False


def test_send_link_action_reports_users_who_cannot_get_one(admin_client, signed_up, outbox):
    signed_up("rae@example.com")
    profile = Profile.objects.get()
    profile.status = Profile.Status.DISABLED
    profile.save()
    sent = len(outbox)
    response = _action(admin_client, LoginId, "send_sign_in_link", [LoginId.objects.get().pk])
    assert "No link for r***@example.com" in response.content.decode()
    assert len(outbox) == sent


def test_send_sign_in_link_from_login_ids_and_profiles(admin_client, api, signed_up, outbox):
    signed_up("sam@example.com")
    _action(admin_client, LoginId, "send_sign_in_link", [LoginId.objects.get().pk])
    assert api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).status_code == 200
    _action(admin_client, Profile, "send_sign_in_link", [Profile.objects.get().pk])
    assert outbox[-1].recipient == "sam@example.com"
    assert api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).status_code == 200


def test_sessions_filter_by_state_and_user(admin_client, signed_up, api):
    signed_up("tia@example.com")
    make_rows(3)
    user = LoginId.objects.get(value="tia@example.com").user
    RefreshSession.objects.filter(user=user).update(revoked_at=timezone.now(), revoked_reason="logout")
    shown = admin_client.get(changelist(RefreshSession), {"state": "revoked"}).context["cl"].result_list
    assert [s.user_id for s in shown] == [user.pk]
    shown = admin_client.get(changelist(RefreshSession), {"user": str(user.pk)}).context["cl"].result_list
    assert [s.user_id for s in shown] == [user.pk]
    shown = (
        admin_client.get(changelist(RefreshSession), {"revoked_reason": "logout"}).context["cl"].result_list
    )
    assert [s.user_id for s in shown] == [user.pk]
    assert admin_client.get(changelist(RefreshSession), {"user": "not-a-number"}).status_code in (200, 302)


def test_signing_keys_show_state_and_cannot_be_deleted(admin_client, api):
    keys.get_signing_key()
    keys.rotate()
    html = admin_client.get(changelist(SigningKey)).content.decode()
    assert ">active<" in html and ">retired<" in html
    key = SigningKey.objects.exclude(retired_at=None).get()
    assert (
        admin_client.get(reverse("admin:magiclink_auth_signingkey_delete", args=[key.pk])).status_code == 403
    )


def test_audit_log_filters_by_user_and_event(admin_client, signed_up, api):
    signed_up("uma@example.com")
    signed_up("vic@example.com")
    uma = LoginId.objects.get(value="uma@example.com").user
    shown = admin_client.get(changelist(AuditEvent), {"user": str(uma.pk)}).context["cl"].result_list
    assert shown and {event.user_id for event in shown} == {uma.pk}
    shown = (
        admin_client.get(changelist(AuditEvent), {"event__exact": "link_verified"}).context["cl"].result_list
    )
    assert sorted(event.user_id for event in shown) == sorted(
        [uma.pk, LoginId.objects.get(value="vic@example.com").user_id]
    )
    both = admin_client.get(changelist(AuditEvent), {"user": str(uma.pk), "event__exact": "link_verified"})
    assert [(e.user_id, e.event) for e in both.context["cl"].result_list] == [(uma.pk, "link_verified")]
    # The user filter is a box to type an id in, keeping the other filters as hidden fields.
    html = both.content.decode()
    assert f'name="user" value="{uma.pk}"' in html.replace("\n", " ").replace("  ", " ")
    assert '<input type="hidden" name="event__exact" value="link_verified">' in html
