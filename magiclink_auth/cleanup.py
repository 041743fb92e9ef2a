"""Deleting what has expired, in batches: pending links, sessions, and audit events past retention.

Each batch is one indexed ``SELECT`` of at most ``batch_size`` primary keys and one ``DELETE`` of those
keys, each in its own short transaction: memory stays bounded, locks are held briefly, and rows in use by
live traffic (not yet expired) are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .conf import app_settings
from .models import AuditEvent, LinkLock, PendingLink, RefreshSession
from .tokens import MAX_LIFETIME

__all__ = ["delete_in_batches", "expired_querysets"]


def expired_querysets() -> dict[str, QuerySet]:
    now = timezone.now()
    querysets = {
        "pending links": PendingLink.objects.filter(expires_at__lt=now),
        "sessions": RefreshSession.objects.filter(expires_at__lt=now),
        # A lock row outlives the links it serialised; past the longest link lifetime it guards nothing.
        "link locks": LinkLock.objects.filter(locked_at__lt=now - MAX_LIFETIME),
    }
    if app_settings.AUDIT_RETENTION:  # None keeps audit events forever
        querysets["audit events"] = AuditEvent.objects.filter(
            created_at__lt=now - app_settings.AUDIT_RETENTION
        )
    return querysets


def delete_in_batches(
    queryset: QuerySet, *, batch_size: int, pause: float = 0.0, on_batch: Callable[[int], None] | None = None
) -> int:
    total = 0
    while True:
        with transaction.atomic():
            pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not pks:
                return total
            # Nothing references these rows, so Django deletes them with one DELETE ... WHERE pk IN (...)
            # without loading them; should a model ever point at them, its cascade still runs.
            _, counts = queryset.model._base_manager.filter(pk__in=pks).delete()
            deleted = counts.get(queryset.model._meta.label, 0)
        total += deleted
        if on_batch:
            on_batch(deleted)
        if len(pks) < batch_size:
            return total
        if pause:
            time.sleep(pause)
