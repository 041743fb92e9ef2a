"""Channels other than email and SMS (WhatsApp, voice, IM, Embedded) answer one code, E011301, on every
path that takes a delivery method: through HTTP, the Python SDK and the Node SDK."""

from __future__ import annotations

import pytest
from descope import DeliveryMethod

from magiclink_auth.errors import ERRORS
from tests.conftest import sdk_refused
from tests.node_rpc import node_sdk, node_test  # noqa: F401 - node_sdk is a fixture
from tests.test_sdk_management import make_key

CODE = ERRORS["channel_not_supported"].code
CHANNELS = ["whatsapp", "voice", "im", "Embedded"]
KINDS = ["magiclink", "enchantedlink"]
START_PATHS = [f"/v1/auth/{kind}/{call}/{{}}" for kind in KINDS
               for call in ("signup", "signin", "signup-in")]


@pytest.mark.django_db
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("path", START_PATHS)
def test_start_paths(api, outbox, path, channel):
    response = api.post(path.format(channel), {"loginId": "+14155552671", "URI": "https://app.example.com/"})
    assert response.status_code == 400 and response.json()["errorCode"] == CODE, response.content
    assert outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", KINDS)
def test_update_phone_paths(api, signed_up, outbox, kind, channel):
    refresh = signed_up()["refreshJwt"]
    response = api.post(f"/v1/auth/{kind}/update/phone/{channel}",
                        {"loginId": "ada@example.com", "phone": "+14155552671"}, refresh=refresh)
    assert response.status_code == 400 and response.json()["errorCode"] == CODE, response.content


@pytest.mark.parametrize("method", [DeliveryMethod.WHATSAPP, DeliveryMethod.VOICE])
def test_python_sdk_magic_link_calls(descope, outbox, method):
    with sdk_refused(400, CODE):
        descope.magiclink.sign_in(method, "+14155552671", "https://app.example.com/")
    with sdk_refused(400, CODE):
        descope.magiclink.sign_up_or_in(method, "+14155552671", "https://app.example.com/")
    assert outbox == []


@pytest.mark.parametrize("method", [DeliveryMethod.WHATSAPP, DeliveryMethod.VOICE, DeliveryMethod.EMBEDDED])
def test_python_sdk_test_link_generation(live_server, transactional_db, method):
    from descope import DescopeClient

    from tests.conftest import PROJECT_ID

    client = DescopeClient(project_id=PROJECT_ID, base_url=live_server.url, management_key=make_key())
    client.mgmt.user.create_test_user("+14155552671", phone="+14155552671")
    with sdk_refused(400, CODE):
        client.mgmt.user.generate_magic_link_for_test_user(method, "+14155552671", "https://app.example.com/")


@pytest.mark.parametrize("call", ["magicLink.signIn.whatsapp", "magicLink.signUp.whatsapp",
                                  "magicLink.signUpOrIn.whatsapp"])
@node_test
def test_node_sdk_magic_link_calls(node_sdk, outbox, call):  # noqa: F811
    answer = node_sdk()(call, "+14155552671", "https://app.example.com/")
    assert answer["ok"] is False and answer["code"] == 400 and answer["error"]["errorCode"] == CODE
    assert outbox == []


@node_test
@pytest.mark.parametrize("channel", ["whatsapp", "im"])
def test_node_sdk_update_phone(node_sdk, signed_up, channel):  # noqa: F811
    refresh = signed_up()["refreshJwt"]
    answer = node_sdk()(f"magicLink.update.phone.{channel}", "ada@example.com", "+14155552671", None, refresh)
    assert answer["ok"] is False and answer["code"] == 400 and answer["error"]["errorCode"] == CODE
