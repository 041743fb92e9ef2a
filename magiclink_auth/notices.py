"""Enumeration-safe answers (``ENUMERATION_SAFE``): the caller learns nothing, the address owner learns all.

With the setting on, a start call answers exactly as a successful one (status, body, masked address) when
the login ID is unknown to a sign-in or known to a sign-up, so the API cannot be used to find out who has
an account. The person at the address is told what happened instead:

- sign-up of a known login ID: a sign-in link, in the ``account_exists`` templates ("you already have an
  account: sign in with this link"), made exactly as a sign-in makes it, so it costs the same time;
- sign-in of an unknown login ID: a sign-up link, in the ``no_account`` templates ("no account uses this
  address; open this link to create one"), made exactly as a sign-up makes it; when the adapter closes
  sign-up, the same message without a link, sent through the same task queue (this path skips the
  database writes of a link, so it answers measurably faster: a site with closed sign-up that cares
  should also close sign-in to unknown addresses at its proxy, or accept it);
- sign-in of a disabled user: nothing is sent (a disabled user is sent nothing).

Sites replace the wording with their own ``magiclink_auth/<email|sms>/<notice>/`` templates.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

try:
    from django.tasks import task
except ImportError:  # Django < 6.0
    from django_tasks import task

from .conf import app_settings
from .delivery import LinkMessage, get_backend
from .errors import DeliveryCancelled, DeliveryError, Unavailable
from .identifiers import mask
from .tasks import enqueue_or_refuse

__all__ = ["ACCOUNT_EXISTS", "NO_ACCOUNT", "queue_notice", "queue_no_account_notice", "deliver_notice"]

logger = logging.getLogger("magiclink_auth")

ACCOUNT_EXISTS = "account_exists"
NO_ACCOUNT = "no_account"


def queue_notice(method: str, recipient: str, context: dict, *, locale: str = "", purpose: str = "signin",
                 courtesy: bool = False) -> None:
    """Send a message that carries no link, once the transaction commits: the one way every notice is queued.

    A task queue that refuses it answers 503 (E011205), as for a link, so the caller asks again; except a
    ``courtesy`` notice, sent after a change that has committed either way (the old address told of a new
    one), which is logged instead: a 503 would tell the caller the change failed when it did not.
    """
    queued = deliver_notice.using(queue_name=app_settings.DELIVERY_QUEUE)

    def enqueue() -> None:
        try:
            enqueue_or_refuse(queued, method, recipient, context, locale, purpose)
        except Unavailable:
            if not courtesy:
                raise
            logger.warning("The task queue refused the %s notice to %s; it is not sent", purpose,
                           mask(method, recipient))

    transaction.on_commit(enqueue)


def queue_no_account_notice(method: str, login_id: str, *, template_options: dict, locale: str) -> None:
    """Tell the owner of an unknown login ID that someone asked to sign in with it (sign-up closed)."""
    context = {"notice": NO_ACCOUNT, "masked_address": mask(method, login_id), "options": template_options}
    queue_notice(method, login_id, context, locale=locale)


@task()
def deliver_notice(method: str, recipient: str, context: dict, locale: str, purpose: str = "signin") -> str:
    """Send a message that carries no link; ``purpose`` picks its templates."""
    message = LinkMessage(
        channel=method, recipient=recipient, url="", purpose=purpose, expires_at=timezone.now(),
        locale=locale, context=context,
    )
    try:
        return get_backend(method).send(message).status
    except DeliveryCancelled:
        return "cancelled"
    except DeliveryError as exc:
        # A notice is a courtesy: what it reports happened either way, and there is no link to retry for.
        notice = context.get("notice") or purpose
        logger.warning("Delivery of a %s notice by %s failed: %s", notice, exc.provider, exc)
        return "failed"
