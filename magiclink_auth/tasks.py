"""Delivery as a task of Django's tasks framework (``django.tasks``; the ``django-tasks`` backport on 5.2).

The start call stores the link, with its URL sealed (AES-GCM, ``sealing.py``) and the template context, and
enqueues ``deliver_link(link_id)`` on commit: the task queue carries an id, never a token. An attempt first
claims the link with a conditional UPDATE (so a task, a retried task and the ``magiclink_retry_deliveries``
command never send one link twice at once), sends, and records the outcome on the link:

- sent: ``delivery_status="sent"``, the provider's message id, the sealed URL cleared;
- a retryable ``DeliveryError`` (provider outage, 5xx, 429): ``"failed"`` with the reason and
  ``delivery_next_attempt_at`` after an exponential backoff; re-enqueued with ``run_after`` when the task
  backend supports deferred tasks, and found by ``manage.py magiclink_retry_deliveries`` either way;
- a permanent failure, too many attempts, or a link that expired or was superseded meanwhile: ``"failed"``
  with no next attempt, the sealed URL cleared;
- ``DeliveryCancelled`` from the backend: ``"cancelled"`` with its reason, never retried, the sealed URL
  cleared.

A start call whose enqueue the task backend refuses answers 503 (E011205) so that its caller retries; that
link is recorded as failed and never sent. A retry's re-enqueue that fails leaves the link due for the
command.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

try:
    from django.tasks import task
    from django.tasks.backends.immediate import ImmediateBackend
except ImportError:  # Django < 6.0
    from django_tasks import task
    from django_tasks.backends.immediate import ImmediateBackend

from . import audit, enchanted, signals
from .conf import app_settings
from .delivery import LinkMessage, get_backend
from .errors import DeliveryCancelled, DeliveryError, ErrorKey, Unavailable
from .identifiers import mask
from .models import PendingLink
from .prepared import PreparedUpdate
from .sealing import seal, unseal
from .tokens import link_lifetime

__all__ = [
    "deliver", "deliver_link", "delivery_fields", "due_links", "enqueue_or_refuse", "expire_undelivered",
    "queue_delivery", "retry_delay",
]

logger = logging.getLogger("magiclink_auth")

Delivery = PendingLink.Delivery
PENDING = [Delivery.QUEUED, Delivery.FAILED]

# Outcomes of one attempt, as returned by ``deliver`` (and the task's return value).
SENT, RETRY, GAVE_UP, SKIPPED, CANCELLED = "sent", "retry", "gave_up", "skipped", "cancelled"


def message_context(method: str, target: str, *, name: str, template_options: dict[str, str],
                    asked: dict[str, Any], notice: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a link's message templates are given besides the link (docs/extending.md, "Templates"): the greeting
    ``name`` (only for an address the user verified), the masked address, the link's lifetime, the caller's
    ``templateOptions``, what ``asked`` for it, and the ``notice`` it carries, if any."""
    context = {
        "name": name,
        "masked_address": mask(method, target),
        "lifetime_minutes": int(link_lifetime().total_seconds() // 60),
        "options": template_options,
        "asked": asked,
        **(extra or {}),
    }
    if notice:
        context["notice"] = notice
    return context


def delivery_fields(url: str, context: dict, *, refusal: str = "") -> dict:
    """What a new link stores for its delivery, written in the link's own INSERT (``create_link``).

    When the task backend runs tasks in the request (``ImmediateBackend``), the link is stored already claimed
    for its first attempt, as ``_claim`` would leave it: the attempt right after the commit needs no claim of
    its own (an UPDATE, and a commit, fewer), and ``magiclink_retry_deliveries`` leaves it alone until the
    claim times out, as it would a claimed link.

    With ``refusal`` (an enumeration-safe answer that must send nothing) the link is born void and failed with
    the reason, in the same INSERT: the same statements run, so the answer takes as long, and the task
    enqueued finds nothing to send.
    """
    now = timezone.now()
    if refusal:
        return {"delivery_status": Delivery.FAILED, "delivery_error": refusal[:512], "voided_at": now,
                "delivery_sealed_url": "", "delivery_next_attempt_at": None, "delivery_context": context}
    fields = {"delivery_status": Delivery.QUEUED, "delivery_sealed_url": seal(url), "delivery_context": context,
              "delivery_next_attempt_at": now}
    if delivers_in_request():
        fields.update(delivery_attempts=1, delivery_next_attempt_at=now + app_settings.DELIVERY_CLAIM_TIMEOUT)
    return fields


def delivers_in_request() -> bool:
    """Whether the delivery task runs in the process that enqueues it, before ``enqueue`` returns."""
    try:
        return isinstance(deliver_link.using(queue_name=app_settings.DELIVERY_QUEUE).get_backend(), ImmediateBackend)
    except Exception:  # a misconfigured backend: enqueue answers 503 (E011205)
        return False


# The links claimed in their INSERT (delivery_fields) that this thread is handing to the task it enqueues.
_in_hand = threading.local()


def queue_delivery(link: PendingLink) -> None:
    """Enqueue the delivery of a link stored with ``delivery_fields``, once the transaction commits."""
    transaction.on_commit(lambda: _enqueue_or_refuse(link.pk, claimed=link if link.delivery_attempts else None))


def enqueue_or_refuse(queued_task, *args) -> None:
    """Enqueue now, or raise ``Unavailable`` (503, E011205) when the task backend refuses: the caller is told
    to retry rather than answered 200 for a message nothing will send."""
    try:
        queued_task.enqueue(*args)
    except Exception as exc:
        raise Unavailable(ErrorKey.TASK_BACKEND_UNAVAILABLE) from exc


def _enqueue_or_refuse(link_id: int, claimed: PendingLink | None = None) -> None:
    links = _in_hand.__dict__.setdefault("links", {})
    if claimed is not None:
        links[link_id] = claimed  # taken by deliver() in this thread, before enqueue returns
    try:
        enqueue_or_refuse(deliver_link.using(queue_name=app_settings.DELIVERY_QUEUE), link_id)
    except Unavailable as refused:
        # The start call answers 503 and its caller asks again; this link is never sent, and says why.
        _give_up(PendingLink(pk=link_id), f"The task queue refused the delivery ({type(refused.__cause__).__name__})")
        raise
    finally:
        links.pop(link_id, None)


def _enqueue(link_id: int, run_after: datetime | None = None) -> None:
    options = {"queue_name": app_settings.DELIVERY_QUEUE}
    if run_after is not None:
        options["run_after"] = run_after
    try:
        deliver_link.using(**options).enqueue(link_id)
    except Exception as exc:  # the link stays due; magiclink_retry_deliveries sends it
        logger.warning("Could not enqueue delivery of link #%s (%s); it stays due",
                       link_id, type(exc).__name__)


def _supports_defer() -> bool:
    try:
        return bool(deliver_link.get_backend().supports_defer)
    except Exception:  # a misconfigured backend: leave retries to the command
        return False


@task()
def deliver_link(link_id: int) -> str:
    outcome = deliver(link_id)
    if outcome == RETRY and _supports_defer():
        link = PendingLink.objects.filter(pk=link_id).only("delivery_next_attempt_at").first()
        if link is not None and link.delivery_next_attempt_at is not None:
            _enqueue(link_id, run_after=link.delivery_next_attempt_at)
    return outcome


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: exponential, capped, with jitter."""
    base = app_settings.DELIVERY_RETRY_BACKOFF * (2 ** max(attempts - 1, 0))
    delay = min(base, app_settings.DELIVERY_RETRY_MAX_BACKOFF)
    return delay + delay * random.uniform(0, 0.2)  # jitter spreads retries after an outage


def _claim_query(pk, now, until):
    due = PendingLink.objects.filter(pk=pk, delivery_status__in=PENDING, delivery_next_attempt_at__lte=now)
    return due, {"delivery_next_attempt_at": until, "delivery_attempts": F("delivery_attempts") + 1}


# Compiled once (prepared.py): an in-request delivery spent more CPU building these than running them.
_CLAIM = PreparedUpdate(_claim_query, pk=(PendingLink, "id"), now=(PendingLink, "delivery_next_attempt_at"),
                        until=(PendingLink, "delivery_next_attempt_at"))
_SENT = PreparedUpdate(
    lambda pk, message_id, sent_at: (PendingLink.objects.filter(pk=pk), {
        "delivery_status": Delivery.SENT, "delivery_error": "", "delivery_message_id": message_id,
        "delivery_sent_at": sent_at, "delivery_next_attempt_at": None, "delivery_sealed_url": "",
    }),
    pk=(PendingLink, "id"), message_id=(PendingLink, "delivery_message_id"),
    sent_at=(PendingLink, "delivery_sent_at"),
)


def _claim(link_id: int) -> PendingLink | None:
    """Take the link for one attempt, or None if it is not due or another attempt has it.

    One statement where the database can return the rows it updates (PostgreSQL, SQLite 3.35+):
    ``UPDATE ... RETURNING`` claims and loads the link at once; elsewhere an UPDATE, then a SELECT."""
    now = timezone.now()
    values = {"pk": link_id, "now": now, "until": now + app_settings.DELIVERY_CLAIM_TIMEOUT}
    if connections[router.db_for_write(PendingLink)].vendor not in RETURNING_VENDORS:
        return PendingLink.objects.filter(pk=link_id).first() if _CLAIM.update(**values) else None
    return next(iter(_CLAIM.returning(**values)), None)


# Databases whose UPDATE can return the rows it changed (SQLite from 3.35).
RETURNING_VENDORS = {"postgresql"} | ({"sqlite"} if sqlite3.sqlite_version_info >= (3, 35) else set())


def _give_up(link: PendingLink, reason: str, status: str = Delivery.FAILED) -> str:
    PendingLink.objects.filter(pk=link.pk).update(
        delivery_status=status, delivery_error=reason[:512], delivery_next_attempt_at=None,
        delivery_sealed_url="",
    )
    return CANCELLED if status == Delivery.CANCELLED else GAVE_UP


def _unusable(link: PendingLink) -> str:
    if link.consumed_at:
        return "Link used before it was delivered"
    if link.voided_at:
        return "Link superseded by a newer one before it was delivered"
    if link.expires_at <= timezone.now():
        return "Link expired before it could be delivered"
    return ""


def deliver(link_id: int) -> str:
    """One delivery attempt of a due link: ``"sent"``, ``"retry"``, ``"gave_up"``, ``"cancelled"`` or
    ``"skipped"``."""
    link = getattr(_in_hand, "links", {}).pop(link_id, None) or _claim(link_id)
    if link is None:
        return SKIPPED
    if reason := _unusable(link):
        return _give_up(link, reason)
    if not link.delivery_sealed_url:
        return _give_up(link, "Nothing to send")
    url, context = unseal(link.delivery_sealed_url), link.delivery_context
    if enchanted.OPTION in link.login_options:
        # Several numbered links and no single URL: a template that shows only {{ url }} sends nothing
        # usable rather than the right link without its number.
        url, context = "", {**context, "choices": enchanted.message_choices(link, url)}
    message = LinkMessage(
        channel=link.method,
        recipient=link.target,
        url=url,
        purpose=link.purpose,
        expires_at=link.expires_at,
        link_id=link.pk,
        template_id=link.login_options.get("templateId") or "",
        locale=link.login_options.get("locale") or "",
        context=context,
    )
    try:
        result = get_backend(link.method).send(message)
    except DeliveryCancelled as exc:
        logger.info("Delivery of link #%s cancelled by the backend: %s", link.pk, exc)
        return _give_up(link, f"Cancelled: {exc}" if str(exc) else "Cancelled", Delivery.CANCELLED)
    except DeliveryError as exc:
        return _failed(link, str(exc), retryable=exc.retryable, provider=exc.provider)
    except Exception as exc:
        # A bug or a misconfiguration, not the provider: record it, keep the link due, and let the task
        # framework log the traceback.
        _failed(link, f"{type(exc).__name__} in the delivery backend", retryable=True, provider="")
        raise
    # The outcome and its audit row commit together: on PostgreSQL in one statement, one round trip where
    # BEGIN, UPDATE, INSERT and COMMIT took four.
    with audit.written_with_change() as audit_rows:
        signals.link_sent.send(sender=PendingLink, link=link, result=result)
    _SENT.update(pk=link.pk, message_id=(result.message_id or "")[:128], sent_at=timezone.now(),
                 inserts=audit_rows)
    return SENT


def _failed(link: PendingLink, reason: str, *, retryable: bool, provider: str) -> str:
    # The first failure is an ERROR: a misconfigured mailer (no SMTP server) fails every link from the
    # first one, and the start call has already answered 200. Retries of the same link log a warning.
    logger.log(
        logging.ERROR if link.delivery_attempts <= 1 else logging.WARNING,
        "Delivery of link #%s to %s by %s failed (attempt %s): %s",
        link.pk, mask(link.method, link.target), provider or link.method, link.delivery_attempts, reason,
    )
    with transaction.atomic():  # the outcome and its audit row (delivery_failed's receivers): one commit
        return _record_failure(link, reason, retryable=retryable)


def _record_failure(link: PendingLink, reason: str, *, retryable: bool) -> str:
    signals.delivery_failed.send(sender=PendingLink, link=link, error=reason)
    next_attempt = timezone.now() + retry_delay(link.delivery_attempts)
    if not retryable or link.delivery_attempts >= app_settings.DELIVERY_MAX_ATTEMPTS:
        return _give_up(link, reason)
    if next_attempt >= link.expires_at:
        return _give_up(link, f"{reason}; the link expires before the next attempt")
    PendingLink.objects.filter(pk=link.pk).update(
        delivery_status=Delivery.FAILED, delivery_error=reason[:512], delivery_next_attempt_at=next_attempt
    )
    return RETRY


def due_links(now: datetime | None = None):
    """Links whose delivery is due: queued or failed-and-retrying, next attempt in the past."""
    return PendingLink.objects.filter(
        delivery_status__in=PENDING, delivery_next_attempt_at__lte=now or timezone.now()
    ).order_by("delivery_next_attempt_at", "pk")


def expire_undelivered(now: datetime | None = None) -> int:
    """Give up on undelivered links that expired, and drop every sealed URL a finished link still holds."""
    now = now or timezone.now()
    gave_up = PendingLink.objects.filter(delivery_status__in=PENDING, expires_at__lte=now).update(
        delivery_status=Delivery.FAILED, delivery_error="Link expired before it could be delivered",
        delivery_next_attempt_at=None,
    )
    PendingLink.objects.exclude(delivery_sealed_url="").filter(expires_at__lte=now).update(delivery_sealed_url="")
    return gave_up
