"""Send every link whose delivery is due: queued ones a lost task never sent, and failed ones to retry.

Run it from cron or a scheduler (every minute is plenty) beside the task worker; with the immediate task
backend it is what retries failed deliveries at all. Safe to run concurrently with workers and with itself:
each attempt claims its link first.
"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand

from ...tasks import _enqueue, deliver, due_links, expire_undelivered


class Command(BaseCommand):
    help = "Send (or, with --enqueue, hand to the task worker) every magic link whose delivery is due."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=1000, help="At most this many links per run.")
        parser.add_argument(
            "--enqueue", action="store_true",
            help="Enqueue delivery tasks for the worker instead of sending from this process.",
        )

    def handle(self, *, limit: int, enqueue: bool, verbosity: int, **options) -> None:
        expired = expire_undelivered()
        outcomes: Counter[str] = Counter()
        for link_id in due_links().values_list("pk", flat=True)[:limit]:
            if enqueue:
                _enqueue(link_id)
                outcomes["enqueued"] += 1
                continue
            try:
                outcomes[deliver(link_id)] += 1
            except Exception:  # recorded on the link by deliver(); go on with the others
                outcomes["error"] += 1
        if verbosity:
            counts = ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))
            summary = counts or "nothing due"
            self.stdout.write(f"{summary}; expired undelivered {expired}")
