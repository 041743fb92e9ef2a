"""``manage.py magiclink_link_users``: login IDs for every existing user at once, dry run first."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from magiclink_auth.models import LoginId
from tests.conftest import token_of

pytestmark = pytest.mark.django_db


def make_users(emails, start: int = 0) -> None:
    User = get_user_model()
    email_field = User.get_email_field_name()
    rows = []
    for i, email in enumerate(emails, start=start):
        fields = {email_field: email}
        if User.USERNAME_FIELD != email_field:
            fields[User.USERNAME_FIELD] = f"user{i}"
        rows.append(User(**fields))
    User._default_manager.bulk_create(rows, batch_size=1000)


def run(*args) -> str:
    out = StringIO()
    call_command("magiclink_link_users", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing():
    make_users(["a@example.com", "B@Example.com", "twin@example.com", "TWIN@example.com", "not-an-email"])
    out = run()
    assert "email: Would create 2 login ID(s)" in out
    assert "skipped 2 user(s) sharing an address, 1 with an invalid address" in out
    assert "shared: t***@example.com" in out
    assert "Dry run" in out
    assert LoginId.objects.count() == 0


def test_apply_links_each_user_once_and_a_second_run_finds_nothing_left():
    make_users(["a@example.com", "B@Example.com", "twin@example.com", "Twin@example.com"])
    assert "email: Created 2 login ID(s)" in run("--apply")
    assert set(LoginId.objects.values_list("value", "verified")) == {("a@example.com", False),
                                                                      ("b@example.com", False)}
    assert "email: Created 0 login ID(s)" in run("--apply")


def test_an_address_already_another_users_login_id_is_skipped(signed_up):
    signed_up("taken@example.com")
    make_users(["Taken@example.com"], start=100)
    out = run("--apply")
    assert "1 whose address is another user's login ID" in out
    assert LoginId.objects.filter(value="taken@example.com").count() == 1


def test_a_linked_user_signs_in_into_their_account_and_the_login_id_becomes_verified(api, outbox):
    make_users(["ada@example.com"])
    run("--apply")
    user = get_user_model()._default_manager.get()
    api.post("/v1/auth/magiclink/signin/email", {"loginId": "ADA@example.com"})
    verified = api.post("/v1/auth/magiclink/verify", {"token": token_of(outbox[-1])}).json()
    assert verified["user"]["userId"] == str(user.pk)
    assert LoginId.objects.get().verified


def test_a_bad_batch_size_is_refused():
    with pytest.raises(CommandError):
        run("--batch-size", "0")


def test_ten_thousand_users_are_linked_in_batches():
    make_users([f"person{i}@example.com" for i in range(10_000)])
    out = run("--apply", "--batch-size", "1000")
    assert "email: Created 10000 login ID(s) in 10 batch(es)" in out
    assert LoginId.objects.count() == 10_000
