"""The delivery interface: a frozen ``LinkMessage`` in, a ``DeliveryResult`` out.

A backend raises ``DeliveryError`` (raised ``from`` the provider's own exception) when the provider did not
take the message; the delivery task records it and retries. ``pre_send`` may cancel a message for good by
raising ``DeliveryCancelled``: the link is recorded ``cancelled`` and never retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string, select_template
from django.utils import translation
from django.utils.module_loading import import_string

from ..conf import app_settings, on_reload
from ..text import clean

__all__ = ["LinkMessage", "DeliveryResult", "BaseBackend", "get_backend", "render"]

@dataclass(frozen=True)
class LinkMessage:
    channel: str
    recipient: str
    url: str
    purpose: str
    expires_at: datetime
    link_id: int | None = None
    template_id: str = ""
    locale: str = ""
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "sent", "queued", "rejected" or "failed"
    message_id: str = ""
    provider: str = ""


class BaseBackend:
    provider = ""
    # False for backends whose messages never leave the machine (console, file): the SMS country guard
    # (pumping.py), there to keep the site from paying for fraudulent texts, does not apply to them.
    reaches_people = True

    def __init__(self, **options: Any) -> None:
        self.options = options

    def pre_send(self, message: LinkMessage) -> None:
        """Called before sending; raise ``DeliveryCancelled`` to cancel the message for good."""

    def post_send(self, message: LinkMessage, result: DeliveryResult) -> None:
        """Called after the provider took the message."""

    def send(self, message: LinkMessage) -> DeliveryResult:
        self.pre_send(message)
        result = self.deliver(message)
        self.post_send(message, result)
        return result

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        raise NotImplementedError("subclasses of BaseBackend must override deliver()")


def template_names(message: LinkMessage, part: str) -> list[str]:
    base = f"magiclink_auth/{message.channel}"
    # A notice (notices.py: account_exists, no_account) has its own wording whatever the template asked.
    chosen = (message.context.get("notice"), message.template_id, message.purpose)
    names = [f"{base}/{name}/{part}" for name in chosen if name]
    return [*names, f"{base}/default/{part}"]


def render(message: LinkMessage, part: str) -> str:
    """Render one part (``subject.txt``, ``body.txt``, ``body.html``) in the message's language."""
    context = {
        **{k: clean(v) if isinstance(v, str) else v for k, v in message.context.items()},
        "url": message.url,
        "purpose": message.purpose,
        "expires_at": message.expires_at,
    }
    with translation.override(_language(message.locale)):
        context["LANGUAGE_CODE"] = translation.get_language()
        template = select_template(template_names(message, part))
        return render_to_string(template.template.name, context).strip()


def _language(locale: str) -> str:
    """The site's closest language to the request's ``locale`` (``fr-CA`` -> ``fr``), else ``LANGUAGE_CODE``:
    never whatever language the worker's thread happens to have active."""
    try:
        return translation.get_supported_language_variant(locale.replace("_", "-").lower())
    except LookupError:
        return settings.LANGUAGE_CODE


_backends: dict[str, BaseBackend] = {}


def get_backend(channel: str) -> BaseBackend:
    if channel not in _backends:
        config = app_settings.DELIVERY[channel]
        _backends[channel] = import_string(config["BACKEND"])(**config.get("OPTIONS", {}))
    return _backends[channel]


@on_reload
def _clear_backends() -> None:
    _backends.clear()
