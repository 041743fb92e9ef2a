"""Delivery backends for the benchmarks: one that takes a fixed time, one that leaves links in a mailbox."""

from __future__ import annotations

import os
import time
from pathlib import Path

from magiclink_auth.delivery.base import BaseBackend, DeliveryResult, LinkMessage


class SleepBackend(BaseBackend):
    """Stands for a slow provider: takes ``OPTIONS["SECONDS"]`` to send, then drops the message."""

    provider = "sleep"

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        time.sleep(float(self.options.get("SECONDS", 0)))
        return DeliveryResult(status="sent", provider=self.provider)


def mailbox_path(directory: str, recipient: str) -> Path:
    return Path(directory) / recipient.replace("/", "_")


class MailboxBackend(BaseBackend):
    """Writes each link to ``<DIR>/<recipient>``, where the load generator reads it like an inbox."""

    provider = "mailbox"

    def deliver(self, message: LinkMessage) -> DeliveryResult:
        directory = self.options.get("DIR") or os.environ["BENCH_MAILBOX"]
        mailbox_path(directory, message.recipient).write_text(message.url)
        return DeliveryResult(status="sent", provider=self.provider)
