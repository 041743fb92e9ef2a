"""``manage.py magiclink_keys list|rotate|prune``: the JWT signing keys kept in the database."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from magiclink_auth import keys
from magiclink_auth.models import SigningKey

SETTINGS_HINT = (
    "Signing keys come from MAGICLINK_AUTH['SIGNING_KEYS']. To rotate, put the new PEM first in that list "
    "and keep the old one after it until REFRESH_LIFETIME has passed; then remove it."
)


class Command(BaseCommand):
    help = "List, rotate or prune the JWT signing keys. Rotation logs nobody out."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "rotate", "prune"])

    def handle(self, *args, action: str, **options):
        getattr(self, f"do_{action}")()

    def do_list(self):
        if keys.from_settings():
            self.stdout.write("Keys from settings (SIGNING_KEYS); the first signs:")
            for index, key in enumerate(keys.jwks()["keys"]):
                self.stdout.write(f"{key['kid']}  {key['alg']}  {'active' if index == 0 else 'verifies'}")
            return
        now = timezone.now()
        rows = SigningKey.objects.only("kid", "algorithm", "created_at", "retired_at")
        if not rows:
            self.stdout.write("No signing key yet: one is generated on first use, or run 'rotate'.")
        for row in rows:
            self.stdout.write(
                f"{row.kid}  {row.algorithm}  created {row.created_at:%Y-%m-%d %H:%M}  {state(row, now)}"
            )

    def do_rotate(self):
        if keys.from_settings():
            raise CommandError(SETTINGS_HINT)
        key = keys.rotate()
        self.stdout.write(
            self.style.SUCCESS(f"New signing key {key.kid}; older keys retired and still published.")
        )

    def do_prune(self):
        if keys.from_settings():
            raise CommandError(SETTINGS_HINT)
        kids = keys.prune()
        for kid in kids:
            self.stdout.write(f"Deleted {kid}")
        self.stdout.write(self.style.SUCCESS(f"Pruned {len(kids)} expired key(s)."))


def state(row: SigningKey, now) -> str:
    until = keys.published_until(row)
    if until is None:
        return "active"
    if until > now:
        return f"retired, published until {until:%Y-%m-%d %H:%M}"
    return "retired, expired (prune removes it)"
