"""ES256, EdDSA and RS256 signing keys: generated or configured, published as correct JWKs whose kid is the
RFC 7638 thumbprint, validated by the official Python SDK, mixed in one key ring while a site moves from one
algorithm to another, and checked at start-up. The Node SDK's side is in test_sdk_node.py."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from descope import AuthException, DeliveryMethod
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from magiclink_auth import keys
from magiclink_auth.models import SigningKey
from tests.conftest import PROJECT_ID, sdk_refused, token_of

KEYS = f"/v2/keys/{PROJECT_ID}"
ALGORITHMS = ["ES256", "EdDSA", "RS256"]
CURVES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519"), "RS256": ("RSA", None)}


def pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def new_key(algorithm: str):
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rfc7638(jwk: dict) -> str:
    """The thumbprint computed from the published JWK alone, as RFC 7638 section 3 spells it out."""
    required = {"RSA": ["e", "kty", "n"], "EC": ["crv", "kty", "x", "y"], "OKP": ["crv", "kty", "x"]}[jwk["kty"]]
    canonical = "{" + ",".join(f'"{name}":"{jwk[name]}"' for name in required) + "}"
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def published(api) -> dict[str, dict]:
    response = api.get(KEYS)
    assert response.status_code == 200
    return {jwk["kid"]: jwk for jwk in response.json()["keys"]}


def use_algorithm(settings, algorithm: str, **more) -> None:
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "SIGNING_ALGORITHM": algorithm, **more}


def sign_in(descope, outbox, email: str) -> dict:
    descope.magiclink.sign_up_or_in(DeliveryMethod.EMAIL, email, "https://app.example.com/welcome")
    return descope.magiclink.verify(token_of([m for m in outbox if m.recipient == email][-1]))


def kid_alg(token: str) -> tuple[str, str]:
    header = pyjwt.get_unverified_header(token)
    return header["kid"], header["alg"]


@pytest.mark.sdk
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_python_sdk_validates_sessions_signed_with_each_algorithm(algorithm, descope, outbox, settings, api):
    use_algorithm(settings, algorithm)
    verified = sign_in(descope, outbox, "ada@example.com")
    session, refresh = verified["sessionToken"]["jwt"], verified["refreshSessionToken"]["jwt"]

    kid, alg = kid_alg(session)
    assert alg == algorithm
    jwk = published(api)[kid]
    kty, crv = CURVES[algorithm]
    assert jwk["kty"] == kty and jwk.get("crv") == crv and jwk["alg"] == algorithm and jwk["use"] == "sig"
    assert "d" not in jwk and "p" not in jwk, "a private member is published"
    assert kid == rfc7638(jwk)

    assert descope.validate_session(session)["userId"] == verified["userId"]
    refreshed = descope.refresh_session(refresh)
    assert kid_alg(refreshed["sessionToken"]["jwt"]) == (kid, algorithm)
    assert descope.validate_session(refreshed["sessionToken"]["jwt"])["userId"] == verified["userId"]


@pytest.mark.sdk
@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_a_forged_signature_is_refused_by_the_sdk(algorithm, descope, outbox, settings):
    """The same claims and header, signed by a key of the right kind that is not ours."""
    use_algorithm(settings, algorithm)
    session = sign_in(descope, outbox, "ada@example.com")["sessionToken"]["jwt"]
    claims = pyjwt.decode(session, options={"verify_signature": False})
    forged = pyjwt.encode(claims, new_key(algorithm), algorithm=algorithm, headers={"kid": kid_alg(session)[0]})

    # The SDK lets PyJWT's own error through for a bad signature.
    with pytest.raises((AuthException, pyjwt.InvalidSignatureError)):
        descope.validate_session(forged)


def test_the_rfc_8037_ed25519_key_gets_the_rfc_thumbprint_as_its_kid(api, settings, db):
    # RFC 8037 appendix A.1 (the key) and A.3 (its RFC 7638 thumbprint).
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    key = ed25519.Ed25519PrivateKey.from_private_bytes(d)
    use_algorithm(settings, "EdDSA", SIGNING_KEYS=[pem(key)])
    [(kid, jwk)] = published(api).items()
    assert jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.sdk
def test_moving_from_rs256_to_es256_by_rotation_logs_nobody_out(descope, outbox, settings, api):
    use_algorithm(settings, "RS256")
    before = sign_in(descope, outbox, "ada@example.com")
    old_kid, _ = kid_alg(before["sessionToken"]["jwt"])

    use_algorithm(settings, "ES256")
    assert "magiclink_auth.W040" in [p.id for p in run_checks(databases=["default"])]
    call_command("magiclink_keys", "rotate", stdout=io.StringIO())
    # The new key signs once ACTIVATION_DELAY has passed for every process.
    settled = timezone.now() - keys.ACTIVATION_DELAY - timedelta(seconds=1)
    SigningKey.objects.filter(retired_at=None).update(created_at=settled)
    SigningKey.objects.exclude(retired_at=None).update(retired_at=settled)
    keys.clear_cache()
    assert "magiclink_auth.W040" not in [p.id for p in run_checks(databases=["default"])]

    after = sign_in(descope, outbox, "bob@example.com")
    new_kid, alg = kid_alg(after["sessionToken"]["jwt"])
    assert alg == "ES256" and new_kid != old_kid
    assert {published(api)[old_kid]["alg"], published(api)[new_kid]["alg"]} == {"RS256", "ES256"}
    # Both generations validate; the old session refreshes onto the new key.
    assert descope.validate_session(before["sessionToken"]["jwt"])["userId"] == before["userId"]
    assert descope.validate_session(after["sessionToken"]["jwt"])["userId"] == after["userId"]
    refreshed = descope.refresh_session(before["refreshSessionToken"]["jwt"])
    assert kid_alg(refreshed["sessionToken"]["jwt"]) == (new_kid, "ES256")


@pytest.mark.sdk
def test_keys_of_three_algorithms_in_settings_all_verify_and_the_first_signs(descope, outbox, settings):
    rsa_key, ec_key = pem(new_key("RS256")), pem(new_key("ES256"))
    use_algorithm(settings, "RS256", SIGNING_KEYS=[rsa_key])
    old = sign_in(descope, outbox, "ada@example.com")

    use_algorithm(settings, "EdDSA", SIGNING_KEYS=[pem(new_key("EdDSA")), ec_key, rsa_key])
    assert not [p for p in run_checks() if p.id.startswith("magiclink_auth.E04")]
    new = sign_in(descope, outbox, "bob@example.com")
    assert kid_alg(new["sessionToken"]["jwt"])[1] == "EdDSA"
    assert descope.validate_session(old["sessionToken"]["jwt"])["userId"] == old["userId"]
    assert descope.validate_session(new["sessionToken"]["jwt"])["userId"] == new["userId"]

    # The RSA key leaves the list: what it signed is refused.
    use_algorithm(settings, "EdDSA", SIGNING_KEYS=[pem(new_key("EdDSA"))])
    with sdk_refused(401, "E061302"):
        descope.refresh_session(old["refreshSessionToken"]["jwt"])


def check_ids(settings, **changes) -> list[str]:
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, **changes}
    return [problem.id for problem in run_checks() if problem.id.startswith("magiclink_auth.")]


def test_a_signing_key_of_another_algorithm_fails_the_check_and_still_signs_with_its_own(settings, api, signed_up):
    rsa_key = pem(new_key("RS256"))
    assert "magiclink_auth.E042" in check_ids(settings, SIGNING_ALGORITHM="ES256", SIGNING_KEYS=[rsa_key])
    # Started anyway, the site does not crash: the key signs with its own algorithm, as its JWK says.
    session = signed_up()["sessionJwt"]
    assert kid_alg(session)[1] == "RS256"
    assert published(api)[kid_alg(session)[0]]["alg"] == "RS256"


def test_an_older_key_of_another_algorithm_after_the_signing_key_is_fine(settings):
    ids = check_ids(settings, SIGNING_ALGORITHM="ES256", SIGNING_KEYS=[pem(new_key("ES256")), pem(new_key("RS256"))])
    assert not [i for i in ids if i.startswith("magiclink_auth.E04") or i == "magiclink_auth.E010"]


@pytest.mark.parametrize("private_key", [
    ec.generate_private_key(ec.SECP384R1()),
    rsa.generate_private_key(public_exponent=65537, key_size=1024),
], ids=["P-384", "RSA-1024"])
def test_a_key_that_cannot_sign_here_fails_the_check(private_key, settings):
    assert "magiclink_auth.E041" in check_ids(settings, SIGNING_KEYS=[pem(new_key("ES256")), pem(private_key)])


@pytest.mark.parametrize("changes", [
    {"SIGNING_ALGORITHM": "HS256"},
    {"SIGNING_ALGORITHM": "RS256", "RSA_KEY_SIZE": 1024},
])
def test_an_algorithm_that_cannot_make_keys_fails_the_check(changes, settings):
    assert "magiclink_auth.E040" in check_ids(settings, **changes)


def test_new_keys_are_es256_by_default(api, signed_up):
    session = signed_up()["sessionJwt"]
    assert kid_alg(session)[1] == "ES256"
    assert SigningKey.objects.get().algorithm == "ES256"


def test_an_existing_rs256_key_keeps_signing_under_the_es256_default(api, signed_up, settings):
    use_algorithm(settings, "RS256")
    keys.get_signing_key()
    settings.MAGICLINK_AUTH = {k: v for k, v in settings.MAGICLINK_AUTH.items() if k != "SIGNING_ALGORITHM"}
    session = signed_up()["sessionJwt"]
    assert kid_alg(session)[1] == "RS256"
    assert SigningKey.objects.get().algorithm == "RS256"


def test_the_jwks_publishes_public_members_only(api, settings, db):
    use_algorithm(settings, "ES256", SIGNING_KEYS=[pem(new_key(a)) for a in ALGORITHMS])
    for jwk in published(api).values():
        assert set(jwk) <= {"kty", "crv", "x", "y", "n", "e", "alg", "kid", "use"}, json.dumps(jwk)
