"""Login IDs as a user types them: normalised, validated, matched case-insensitively, masked in replies."""

import pytest

from magiclink_auth.models import PendingLink

pytestmark = pytest.mark.django_db


def signup(api, method, login_id):
    return api.post(f"/v1/auth/magiclink/signup/{method}", {"loginId": login_id})


@pytest.mark.parametrize(
    "email",
    [
        "ada\uff20example.com",  # fullwidth @
        "ada@@example.com",
        "ada@exa@mple.com",
        "ada@example.com\r\nBcc: x@example.com",
        "\u202eada@example.com",  # right-to-left override
        "\u212aelvin@example.com",  # Kelvin sign, NFKC folds it to K
        "ﬁne@example.com",  # ligature
        "a" * 250 + "@example.com",
        "not-an-email",
        "",
    ],
)
def test_invalid_emails_are_refused(api, outbox, email):
    response = signup(api, "email", email)
    assert response.status_code == 400
    assert response.json()["errorCode"] in {"E062101", "E011002"}
    assert outbox == []


def test_emails_are_trimmed_and_case_folded(api, outbox):
    assert signup(api, "email", "  Ada.Lovelace@Example.COM ").json() == {"maskedEmail": "a***@example.com"}
    assert PendingLink.objects.get().login_id == "ada.lovelace@example.com"


def test_upper_and_lower_case_are_one_login_id(api, signed_up):
    signed_up("a@b.com")
    response = signup(api, "email", "A@B.COM")
    assert response.status_code == 409
    assert response.json()["errorCode"] == "E062107"


@pytest.mark.parametrize("phone", ["+1 (415) 555-0123", "+14155550123", "+44 20 7946 0958"])
def test_phones_are_stored_in_e164(api, phone):
    response = signup(api, "sms", phone)
    assert response.status_code == 200
    masked = response.json()["maskedPhone"]
    assert masked.startswith("+*") and masked[-4:] == phone.replace(" ", "")[-4:]


@pytest.mark.parametrize("phone", ["4155550123", "+1 415", "+999 1234567", "phone", "+1415555012\u0000"])
def test_impossible_phones_are_refused(api, outbox, phone):
    response = signup(api, "sms", phone)
    assert response.status_code == 400
    assert response.json()["errorCode"] in {"E062102", "E011004"}
    assert outbox == []


def test_masked_phone_shape(api):
    assert signup(api, "sms", "+1 415 555 5555").json() == {"maskedPhone": "+*******5555"}


def test_phone_sign_up_and_verify(api, outbox):
    from tests.conftest import token_of

    signup(api, "sms", "+14155550123")
    assert outbox[-1].channel == "sms" and outbox[-1].recipient == "+14155550123"
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert verified["user"]["phone"] == "+14155550123" and verified["user"]["verifiedPhone"] is True
    assert verified["user"]["loginIds"] == ["+14155550123"]
