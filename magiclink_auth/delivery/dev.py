"""Backends for development and tests: console, file, in-memory outbox."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from ..errors import DeliveryError
from .base import BaseBackend, DeliveryResult, LinkMessage, render

__all__ = ["ConsoleBackend", "FileBackend", "MemoryBackend", "outbox"]

# Every message MemoryBackend delivered, oldest first, like django.core.mail.outbox.
outbox: list[LinkMessage] = []
_outbox_lock = threading.Lock()


def _as_text(message: LinkMessage) -> str:
    return (
        f"To: {message.recipient}\nChannel: {message.channel}\nPurpose: {message.purpose}\n\n"
        f"{render(message, 'body.txt')}\n"
    )


class ConsoleBackend(BaseBackend):
    """Writes the message to standard output (the development server's terminal)."""

    provider = "console"
    reaches_people = False

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        stream = self.options.get("STREAM") or sys.stdout
        stream.write(_as_text(message) + "-" * 72 + "\n")
        stream.flush()
        return DeliveryResult(status="sent", provider=self.provider)


class FileBackend(BaseBackend):
    """Appends each message as one JSON line to ``OPTIONS["PATH"]``."""

    provider = "file"
    reaches_people = False

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        path = Path(self.options["PATH"])
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"to": message.recipient, "channel": message.channel, "purpose": message.purpose,
                  "url": message.url, "body": render(message, "body.txt")}
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        return DeliveryResult(status="sent", provider=self.provider)


class MemoryBackend(BaseBackend):
    """Appends to ``outbox``. Set ``MemoryBackend.fail_with`` to an exception to simulate an outage.

    It stands in for a provider in tests, so every limit applies to it as to a real one (``reaches_people``).
    """

    provider = "memory"
    fail_with: Exception | None = None

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        if MemoryBackend.fail_with is not None:
            raise DeliveryError("simulated outage", provider=self.provider) from MemoryBackend.fail_with
        render(message, "body.txt")  # a template error must show up in tests, as it would in production
        with _outbox_lock:
            outbox.append(message)
        return DeliveryResult(status="sent", message_id=f"memory-{len(outbox)}", provider=self.provider)
