"""Signing-key rotation with `manage.py magiclink_keys`: nobody is logged out, pruned keys stop verifying."""

from __future__ import annotations

import io
from datetime import timedelta

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command
from django.utils import timezone

from magiclink_auth import keys
from magiclink_auth.models import SigningKey
from tests.conftest import PROJECT_ID

pytestmark = pytest.mark.django_db

KEYS = f"/v2/keys/{PROJECT_ID}"


def manage(*args) -> str:
    out = io.StringIO()
    call_command("magiclink_keys", *args, stdout=out)
    return out.getvalue()


def published_kids(api) -> list[str]:
    response = api.get(KEYS)
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


def validate_like_an_sdk(api, session_jwt: str) -> dict:
    """What the SDKs do: fetch the JWKS, pick the key by kid, verify with the key's alg and the issuer."""
    kid = pyjwt.get_unverified_header(session_jwt)["kid"]
    jwk = {key["kid"]: key for key in api.get(KEYS).json()["keys"]}.get(kid)
    if jwk is None:
        raise pyjwt.InvalidKeyError(f"kid {kid} not published")
    public_key = pyjwt.PyJWK(jwk).key
    return pyjwt.decode(session_jwt, public_key, algorithms=[jwk["alg"]], issuer=PROJECT_ID)


def refresh(api, token):
    return api.post("/v1/auth/refresh", {}, refresh=token)


def test_rotation_logs_nobody_out(api, signed_up):
    session = signed_up()
    old_kid = pyjwt.get_unverified_header(session["sessionJwt"])["kid"]

    output = manage("rotate")
    assert "New signing key" in output

    # The session JWT signed before the rotation still validates, as an SDK checks it.
    assert validate_like_an_sdk(api, session["sessionJwt"])["sub"]
    assert old_kid in published_kids(api)
    new_kid = SigningKey.objects.get(retired_at=None).kid
    assert set(published_kids(api)) == {old_kid, new_kid}

    # The new key is published at once but signs only after ACTIVATION_DELAY, once every process has had
    # the time to load it: meanwhile the old key, still published, keeps signing.
    response = refresh(api, session["refreshJwt"])
    assert response.status_code == 200, response.content
    assert pyjwt.get_unverified_header(response.json()["sessionJwt"])["kid"] == old_kid

    # Then the new key signs; everything signed before the rotation keeps working.
    settle()
    response = refresh(api, response.json()["refreshJwt"])
    assert response.status_code == 200, response.content
    assert pyjwt.get_unverified_header(response.json()["sessionJwt"])["kid"] == new_kid
    assert validate_like_an_sdk(api, response.json()["sessionJwt"])
    assert validate_like_an_sdk(api, session["sessionJwt"])
    assert set(published_kids(api)) == {old_kid, new_kid}


def settle() -> None:
    """Let ACTIVATION_DELAY pass for the keys rotated in so far, and drop this process's cached ring."""
    past = timezone.now() - keys.ACTIVATION_DELAY - timedelta(seconds=1)
    SigningKey.objects.filter(retired_at=None).update(created_at=past)
    SigningKey.objects.exclude(retired_at=None).update(retired_at=past)
    keys.clear_cache()


def test_prune_keeps_retired_keys_until_their_tokens_expired(api, signed_up):
    session = signed_up()
    old_kid = pyjwt.get_unverified_header(session["sessionJwt"])["kid"]
    manage("rotate")
    assert "Pruned 0" in manage("prune")
    assert old_kid in published_kids(api)
    assert refresh(api, session["refreshJwt"]).status_code == 200


def test_a_pruned_keys_tokens_fail(api, signed_up, settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REFRESH_REUSE_GRACE": 0}
    session = signed_up()
    old_kid = pyjwt.get_unverified_header(session["sessionJwt"])["kid"]
    manage("rotate")
    # Time passes: every token the old key signed has expired (the refresh lifetime and then some).
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(weeks=5))

    assert f"Deleted {old_kid}" in manage("prune")
    assert not SigningKey.objects.filter(kid=old_kid).exists()
    assert old_kid not in published_kids(api)
    with pytest.raises(pyjwt.InvalidKeyError):
        validate_like_an_sdk(api, session["sessionJwt"])
    response = refresh(api, session["refreshJwt"])
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E061302"


def test_retired_key_past_its_window_is_no_longer_published_even_before_prune(api, signed_up):
    session = signed_up()
    old_kid = pyjwt.get_unverified_header(session["sessionJwt"])["kid"]
    manage("rotate")
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(weeks=5))
    keys.clear_cache()
    assert old_kid not in published_kids(api)


def test_list_shows_each_keys_state(api, signed_up):
    signed_up()
    manage("rotate")
    listing = manage("list")
    assert listing.count("\n") == 2
    assert "active" in listing and "retired, published until" in listing
    assert "PRIVATE KEY" not in listing


def test_rotating_twice_leaves_one_active_key(api, signed_up):
    signed_up()
    manage("rotate")
    manage("rotate")
    assert SigningKey.objects.filter(retired_at=None).count() == 1
    assert len(published_kids(api)) == 3


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_keys_from_settings_sign_verify_and_rotate_by_editing_settings(api, signed_up, settings):
    first, second = _pem(), _pem()
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "SIGNING_KEYS": [first]}
    session = signed_up()
    assert not SigningKey.objects.exists()
    with pytest.raises(CommandError, match="SIGNING_KEYS"):
        manage("rotate")
    assert "Keys from settings" in manage("list")

    # Rotation the settings way: the new key first, the old one kept after it.
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "SIGNING_KEYS": [second, first]}
    assert validate_like_an_sdk(api, session["sessionJwt"])
    response = refresh(api, session["refreshJwt"])
    assert response.status_code == 200
    assert (
        pyjwt.get_unverified_header(response.json()["sessionJwt"])["kid"]
        != pyjwt.get_unverified_header(session["sessionJwt"])["kid"]
    )
