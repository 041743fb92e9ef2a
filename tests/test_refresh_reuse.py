"""Refresh-token reuse detection (RFC 9700 section 4.14) through HTTP, the test's clock moved past the grace."""

import pytest

from magiclink_auth import signals
from magiclink_auth.models import RefreshSession

pytestmark = pytest.mark.django_db

REFRESH = "/v1/auth/refresh"


def refresh(api, token):
    return api.post(REFRESH, {}, refresh=token)


@pytest.fixture
def one_second_grace(settings):
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REFRESH_REUSE_GRACE": 1}


def test_rotated_out_token_after_the_grace_revokes_the_family_and_every_later_token(
        api, signed_up, one_second_grace, clock):
    first = signed_up()["refreshJwt"]
    other_session = signed_up("bob@example.com")["refreshJwt"]
    second = refresh(api, first).json()["refreshJwt"]
    third = refresh(api, second).json()["refreshJwt"]
    detected = []
    signals.refresh_reuse_detected.connect(lambda **kw: detected.append(kw["session"].pk), weak=False,
                                           dispatch_uid="test-reuse")
    try:
        clock.shift(1.1)
        stolen = refresh(api, second)  # an attacker replays the token the user rotated away from
    finally:
        signals.refresh_reuse_detected.disconnect(dispatch_uid="test-reuse")
    assert stolen.status_code == 401 and stolen.json()["errorCode"] == "E061304"
    assert "sessionJwt" not in stolen.json() and "DSR" not in stolen.cookies
    family = RefreshSession.objects.get(pk=detected[0])
    assert family.revoked_reason == "reuse"
    for token in (first, second, third):  # older and later tokens alike: the whole family is dead
        response = refresh(api, token)
        assert response.status_code == 401
        assert response.json()["errorCode"] in {"E061303", "E061304"}
    assert api.get("/v1/auth/me", refresh=third).json()["errorCode"] == "E061303"
    assert refresh(api, other_session).status_code == 200  # another login of the same site is untouched


def test_double_refresh_within_the_grace_is_tolerated_and_both_tabs_keep_working(
        api, signed_up, one_second_grace):
    first = signed_up()["refreshJwt"]
    tab_a = refresh(api, first)
    tab_b = refresh(api, first)
    assert tab_a.status_code == tab_b.status_code == 200
    assert api.get("/v1/auth/me", refresh=tab_b.json()["refreshJwt"]).status_code == 200
    assert refresh(api, tab_a.json()["refreshJwt"]).status_code == 200
    assert RefreshSession.objects.get().revoked_at is None


def test_only_the_token_just_rotated_away_gets_the_grace(api, signed_up, one_second_grace):
    """Within the grace, a token two rotations old is still reuse: the grace covers one race, not history."""
    first = signed_up()["refreshJwt"]
    second = refresh(api, first).json()["refreshJwt"]
    refresh(api, second)
    response = refresh(api, first)
    assert response.status_code == 401 and response.json()["errorCode"] == "E061304"
    assert RefreshSession.objects.get().revoked_reason == "reuse"


def test_reuse_through_logout_or_me_revokes_too(api, signed_up, one_second_grace, clock):
    first = signed_up()["refreshJwt"]
    second = refresh(api, first).json()["refreshJwt"]
    clock.shift(1.1)
    assert api.get("/v1/auth/me", refresh=first).json()["errorCode"] == "E061304"
    assert refresh(api, second).json()["errorCode"] == "E061303"
