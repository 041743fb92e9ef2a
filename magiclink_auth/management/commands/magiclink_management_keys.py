"""``manage.py magiclink_management_keys list|create NAME|revoke ID``: keys for the management API."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from magiclink_auth import management_keys
from magiclink_auth.models import ManagementKey


class Command(BaseCommand):
    help = "List, create or revoke management API keys. A new key is printed once; only its hash is kept."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "create", "revoke"])
        parser.add_argument("target", nargs="?", help="create: the key's name; revoke: the key's id")

    def handle(self, *args, action: str, target: str | None, **options):
        if action != "list" and not target:
            raise CommandError(f"{action} needs a {'name' if action == 'create' else 'key id'}")
        getattr(self, f"do_{action}")(target)

    def do_list(self, _target):
        for key in ManagementKey.objects.all():
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            used = f"last used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
            self.stdout.write(f"{key.pk}  {key.name}  mk_…{key.hint}  {state}  {used}")

    def do_create(self, name: str):
        key, raw = management_keys.create_key(name)
        self.stderr.write(f"Management key #{key.pk} ({key.name}) made. It is shown only this once:")
        self.stdout.write(raw)

    def do_revoke(self, key_id: str):
        key = ManagementKey.objects.filter(pk=int(key_id) if key_id.isdigit() else None).first()
        if key is None:
            raise CommandError(f"No management key #{key_id}")
        management_keys.revoke(key)
        self.stdout.write(self.style.SUCCESS(f"Management key #{key.pk} ({key.name}) revoked."))
