"""``manage.py magiclink_cleanup``: delete expired pending links and sessions, and old audit events.

Safe to run from cron while traffic flows: see ``magiclink_auth.cleanup``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from magiclink_auth.cleanup import delete_in_batches, expired_querysets
from magiclink_auth.conf import app_settings


class Command(BaseCommand):
    help = (
        "Delete expired pending links and sessions, and audit events older than AUDIT_RETENTION, in batches."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Rows per DELETE (default: CLEANUP_BATCH_SIZE)."
        )
        parser.add_argument("--pause", type=float, default=0.0, help="Seconds to sleep between batches.")

    def handle(self, *args, batch_size: int | None, pause: float, **options):
        batch_size = batch_size or app_settings.CLEANUP_BATCH_SIZE
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        for label, queryset in expired_querysets().items():
            batches = []
            total = delete_in_batches(queryset, batch_size=batch_size, pause=pause, on_batch=batches.append)
            self.stdout.write(f"Deleted {total} expired {label} in {len(batches)} batch(es).")
