"""Management keys in the admin: made with the key shown once, stored hashed, revoked by an action."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from magiclink_auth.models import ManagementKey
from magiclink_auth.tokens import hash_token
from tests.conftest import PROJECT_ID

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:magiclink_auth_managementkey_changelist")
ADD = reverse("admin:magiclink_auth_managementkey_add")


def made_key(admin_client, name: str = "CI") -> str:
    response = admin_client.post(ADD, {"name": name})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    return re.search(r'<code id="management-key"[^>]*>([^<]+)</code>', response.content.decode()).group(1)


def test_admin_makes_a_key_shows_it_once_and_stores_its_hash(admin_client, api):
    raw = made_key(admin_client)
    key = ManagementKey.objects.get()
    assert key.name == "CI" and key.key_hash == hash_token(raw)
    for page in (CHANGELIST, reverse("admin:magiclink_auth_managementkey_change", args=[key.pk])):
        body = admin_client.get(page).content.decode()
        assert raw not in body and key.key_hash not in body and raw[-4:] in body
    # The key works as the SDKs send it.
    response = api.client.get("/v1/mgmt/license", HTTP_AUTHORIZATION=f"Bearer {PROJECT_ID}:{raw}")
    assert response.status_code == 200 and response.json() == {"rateLimitTier": ""}


def test_revoke_action_refuses_the_key_from_then_on(admin_client, api):
    raw = made_key(admin_client)
    header = {"HTTP_AUTHORIZATION": f"Bearer {PROJECT_ID}:{raw}"}
    assert api.client.get("/v1/mgmt/license", **header).status_code == 200
    admin_client.post(CHANGELIST, {"action": "revoke_keys",
                                   "_selected_action": [str(ManagementKey.objects.get().pk)]})
    refused = api.client.get("/v1/mgmt/license", **header)
    assert refused.status_code == 401 and refused.json()["errorCode"] == "E011311"

