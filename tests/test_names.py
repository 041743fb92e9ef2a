"""Error keys, audit events, revoke reasons and delivery methods are enums, each defined once."""

import pytest

from magiclink_auth.audit import RECEIVERS
from magiclink_auth.errors import ERRORS, ErrorKey, MagicLinkError
from magiclink_auth.identifiers import EMAIL, SMS
from magiclink_auth.models import AuditEvent, Method, RevokeReason
from magiclink_auth.ratelimit import RateLimited
from magiclink_auth.signals import ALL_SIGNALS


def test_every_error_key_has_one_spec_and_an_unknown_key_is_a_programming_error():
    assert set(ERRORS) == set(ErrorKey)
    with pytest.raises(ValueError):
        MagicLinkError("no_such_key")


def test_magic_link_errors_declare_their_fields():
    plain = MagicLinkError(ErrorKey.LINK_USED)
    assert (plain.key, plain.code, plain.link, plain.retry_after) == (ErrorKey.LINK_USED, "E062504", None, None)
    limited = RateLimited(ErrorKey.RESEND_COOLDOWN, 12.2)
    assert limited.retry_after == 13 and limited.as_json()["errorCode"] == "E062702"


def test_every_signal_is_recorded_as_one_audit_event_of_the_model_choices():
    assert sorted(ALL_SIGNALS.values()) == sorted(AuditEvent.Event)
    assert set(RECEIVERS) == set(AuditEvent.Event)


def test_methods_and_revoke_reasons_are_the_model_choices(admin_client, django_user_model):
    assert (EMAIL, SMS) == tuple(Method)
    page = admin_client.get("/admin/magiclink_auth/refreshsession/")
    for reason in RevokeReason:
        assert f"revoked_reason={reason.value}" in page.content.decode()
