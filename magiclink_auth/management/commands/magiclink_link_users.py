"""``manage.py magiclink_link_users [--apply] [--batch-size N]``: give existing users their login IDs at once.

The bulk form of what a start call does for one user (``magiclink_auth.existing_users``): every user with an
address in the user model's email (or phone) field and no login ID of that kind gets one, unverified until
a link to it is used. A dry run by default; ``--apply`` writes, one short transaction per batch, so it is
safe while the site serves. Addresses shared by several users, invalid ones and ones that are already
another user's login ID are skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from magiclink_auth.existing_users import contact_field, normalized_contact, unlinked_users
from magiclink_auth.identifiers import EMAIL, SMS, mask
from magiclink_auth.models import LoginId

SHOWN = 20  # skipped addresses listed by name (masked); the rest are only counted


class Command(BaseCommand):
    help = "Create login IDs for existing users from their email / phone fields (dry run unless --apply)."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Write the login IDs (default: dry run).")
        parser.add_argument("--batch-size", type=int, default=1000, help="Users per transaction.")

    def handle(self, *args, apply: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        verb = "Created" if apply else "Would create"
        for method in (EMAIL, SMS):
            field = contact_field(method)
            if field is None:
                continue
            summary = self._link(method, field, apply=apply, batch_size=batch_size)
            self.stdout.write(
                f"{method}: {verb} {summary['linked']} login ID(s) in {summary['batches']} batch(es); "
                f"skipped {summary['shared']} user(s) sharing an address, {summary['invalid']} with an "
                f"invalid address, {summary['taken']} whose address is another user's login ID."
            )
            for address in summary["examples"]:
                self.stdout.write(f"  shared: {address}")
        if not apply:
            self.stdout.write("Dry run: nothing was written. Run again with --apply to create them.")

    def _link(self, method: str, field: str, *, apply: bool, batch_size: int) -> dict:
        users = unlinked_users(method).order_by("pk").values_list("pk", field)
        # First pass: how many users each address is on. Only the normalised strings are kept.
        counts = Counter(normalized_contact(method, value) for _, value in users.iterator(chunk_size=batch_size))
        invalid = counts.pop(None, 0)
        shared = {address for address, count in counts.items() if count > 1}
        summary = {"linked": 0, "batches": 0, "invalid": invalid, "taken": 0,
                   "shared": sum(counts[address] for address in shared),
                   "examples": sorted(mask(method, address) for address in islice(shared, SHOWN))}
        # Second pass, by primary key ranges: each batch a fresh query (none open while writing) that
        # costs the same at any table size; users linked meanwhile are found by the batch's own ids.
        everyone = unlinked_users(method, linked_too=True).order_by("pk").values_list("pk", field)
        last = None
        while batch := list((everyone if last is None else everyone.filter(pk__gt=last))[:batch_size]):
            last = batch[-1][0]
            linked = set(LoginId.objects.filter(method=method, user_id__in=[pk for pk, _ in batch])
                         .values_list("user_id", flat=True))
            normalized = ((pk, normalized_contact(method, value)) for pk, value in batch if pk not in linked)
            wanted = {address: pk for pk, address in normalized if address and address not in shared}
            taken = set(LoginId.objects.filter(value__in=wanted).values_list("value", flat=True))
            summary["taken"] += len(taken)
            new = [LoginId(user_id=pk, method=method, value=address, verified=False)
                   for address, pk in wanted.items() if address not in taken]
            if apply and new:
                try:
                    with transaction.atomic():
                        LoginId.objects.bulk_create(new)
                except IntegrityError:
                    raise CommandError(
                        "A login ID was created by a sign-in while this batch ran; run the command again."
                    ) from None
            summary["linked"] += len(new)
            summary["batches"] += 1
        return summary
