"""Delivery as a task of Django's tasks framework (``django.tasks``; the ``django-tasks`` backport on 5.2).

The start call stores the link and enqueues on commit; the worker (or the immediate backend in development)
sends and records the outcome on the link.
"""

from __future__ import annotations

import logging

from django.db import transaction

try:
    from django.tasks import task
except ImportError:  # Django < 6.0
    from django_tasks import task

from . import signals
from .conf import app_settings
from .delivery import LinkMessage, get_backend
from .errors import DeliveryError
from .models import PendingLink
from .sealing import seal, unseal

__all__ = ["deliver_link", "queue_delivery"]

logger = logging.getLogger("magiclink_auth")


def queue_delivery(link: PendingLink, url: str, context: dict) -> None:
    """Send the link once the transaction that stored it commits (never a link to a rolled-back row)."""
    sealed = seal(url)
    transaction.on_commit(
        lambda: deliver_link.using(queue_name=app_settings.DELIVERY_QUEUE).enqueue(link.pk, sealed, context)
    )


@task()
def deliver_link(link_id: int, sealed_url: str, context: dict) -> str:
    link = PendingLink.objects.filter(pk=link_id).first()
    if link is None or link.consumed_at or link.voided_at:
        return "skipped"
    message = LinkMessage(
        channel=link.method,
        recipient=link.target,
        url=unseal(sealed_url),
        purpose=link.purpose,
        expires_at=link.expires_at,
        link_id=link.pk,
        template_id=link.login_options.get("templateId") or "",
        locale=link.login_options.get("locale") or "",
        context=context,
    )
    try:
        result = get_backend(link.method).send(message)
    except DeliveryError as exc:
        logger.warning("Delivery of link #%s by %s failed: %s", link.pk, exc.provider or link.method, exc)
        PendingLink.objects.filter(pk=link.pk).update(
            delivery_status=PendingLink.Delivery.FAILED, delivery_error=str(exc)[:512]
        )
        signals.delivery_failed.send(sender=PendingLink, link=link, error=str(exc))
        return "failed"
    PendingLink.objects.filter(pk=link.pk).update(
        delivery_status=PendingLink.Delivery.SENT, delivery_error="", delivery_message_id=result.message_id[:128]
    )
    signals.link_sent.send(sender=PendingLink, link=link, result=result)
    return result.status
