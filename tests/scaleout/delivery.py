"""A provider that takes its time: messages to addresses starting with ``slow`` are written to the outbox
file only after ``OPTIONS["DELAY"]`` seconds, so a worker killed meanwhile has sent nothing."""

import time

from magiclink_auth.delivery.dev import FileBackend


class SlowFileBackend(FileBackend):
    provider = "slow-file"

    def deliver(self, message):
        if message.recipient.startswith("slow"):
            time.sleep(float(self.options.get("DELAY", 1)))
        return super().deliver(message)
