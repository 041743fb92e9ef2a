"""A task backend whose broker can be down: the next ``refusals`` enqueues raise, as a Redis- or AMQP-backed
queue's client does when it cannot reach its broker; after that it runs tasks as the immediate backend does."""

try:
    from django.tasks.backends.immediate import ImmediateBackend
except ImportError:  # Django < 6.0
    from django_tasks.backends.immediate import ImmediateBackend


class FlakyBackend(ImmediateBackend):
    refusals = 0

    def enqueue(self, task, args, kwargs):
        if FlakyBackend.refusals > 0:
            FlakyBackend.refusals -= 1
            raise ConnectionError("Error 111 connecting to the broker. Connection refused.")
        return super().enqueue(task, args, kwargs)


BACKEND = f"{__name__}.FlakyBackend"
