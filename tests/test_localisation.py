"""`locale` chooses the language of the message (English and French ship), `templateId` the template."""

import pytest
from django.core import mail

from tests.conftest import token_of

pytestmark = pytest.mark.django_db

START = "/v1/auth/magiclink/signup-in/email"


@pytest.fixture
def django_mail(settings, mail_backend):
    mail_backend("django.core.mail.backends.locmem.EmailBackend")
    settings.MAGICLINK_AUTH = {
        **settings.MAGICLINK_AUTH,
        "DELIVERY": {
            **settings.MAGICLINK_AUTH["DELIVERY"],
            "email": {"BACKEND": "magiclink_auth.delivery.email.EmailBackend", "OPTIONS": {}},
        },
    }


def start(api, **options):
    response = api.post(START, {"loginId": "ada@example.com", "loginOptions": options})
    assert response.status_code == 200, response.content
    return mail.outbox[-1]


@pytest.mark.parametrize("locale", ["fr", "fr-CA", "fr_FR", "FR"])
def test_french_message(api, django_mail, locale):
    message = start(api, locale=locale)
    assert message.subject == "Terminez votre inscription"
    assert "Ouvrez ce lien pour terminer la création de votre compte" in message.body
    assert "expire dans 10 minutes" in message.body
    html = message.alternatives[0][0]
    assert 'lang="fr"' in html and "Continuer" in html


@pytest.mark.parametrize("locale", [None, "", "en", "de", "xx-YY"])
def test_english_by_default_and_for_languages_not_shipped(api, django_mail, locale):
    message = start(api, locale=locale)
    assert message.subject == "Finish signing up"
    assert "The link works once and expires in 10 minutes." in message.body


def test_locale_is_bound_to_the_link_and_applies_to_sms(api, outbox):
    api.post(
        "/v1/auth/magiclink/signup-in/sms", {"loginId": "+14155552671", "loginOptions": {"locale": "fr"}}
    )
    from magiclink_auth.delivery.base import render

    assert render(outbox[-1], "body.txt").startswith("Votre lien de connexion : https://app.example.com/")


def test_template_id_with_a_locale(api, django_mail):
    message = start(api, templateId="promo", templateOptions={"product": "Acme"}, locale="fr")
    assert message.subject == "Welcome to Acme"


def test_unknown_template_id_falls_back_to_the_default(api, django_mail):
    message = start(api, templateId="nosuchtemplate")
    assert message.subject == "Finish signing up"


def test_malformed_locale_is_refused(api):
    response = api.post(START, {"loginId": "ada@example.com", "loginOptions": {"locale": "fr\r\nX"}})
    assert response.status_code == 400 and response.json()["errorCode"] == "E011004"


def test_french_change_notice(api, outbox, signed_up, settings):
    settings.LANGUAGE_CODE = "fr"
    refresh = signed_up()["refreshJwt"]
    api.post(
        "/v1/auth/magiclink/update/email",
        {"loginId": "ada@example.com", "email": "new@example.com"},
        refresh=refresh,
    )
    api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}, refresh=refresh)
    from magiclink_auth.delivery.base import render

    assert render(outbox[-1], "subject.txt") == "Votre adresse e-mail a été modifiée"
