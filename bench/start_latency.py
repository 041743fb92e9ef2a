"""Start-call latency with a delivery that takes 0 s and one that takes 1 s, and the start call's own cost.

Delivery is a task: the request stores the link and enqueues it, a worker sends it. With the production
task backend (django-tasks-db: enqueue = one row inserted; no worker runs here) the provider's speed must
not reach the request: the ratio of the median latencies, 1 s over 0 s, is the figure (target <= 1.1).
A control run with the immediate backend shows the 1 s delivery is real and would be paid in-request.
Then the start call against a bare DRF view doing nothing: the price of validation, hashing, the insert
and the enqueue.

    python bench/start_latency.py                  # SQLite
    DATABASE_URL=postgres://... python bench/start_latency.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import harness

harness.setup()

from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import clear_url_caches, include, path  # noqa: E402
from rest_framework.parsers import JSONParser  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from magiclink_auth.conf import app_settings  # noqa: E402
from magiclink_auth.users import create_user  # noqa: E402

USERS = 200
ROUNDS, PER_ROUND = 6, 50


class BareView(APIView):
    """The floor: DRF parses the JSON body and renders an empty object, nothing else."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = (JSONParser,)
    renderer_classes = (JSONRenderer,)

    def post(self, request):
        request.data  # noqa: B018 - parse the body, as the start call does
        return Response({})


urlpatterns = [path("bare", BareView.as_view()), path("", include("magiclink_auth.urls"))]
sys.modules.setdefault("start_latency_bench", sys.modules[__name__])


def delivery(seconds: float) -> dict:
    backend = {"BACKEND": "bench_backends.SleepBackend", "OPTIONS": {"SECONDS": seconds}}
    return {**settings.MAGICLINK_AUTH, "DELIVERY": {"email": backend, "sms": backend}}


class Caller:
    def __init__(self, users):
        self.client = Client()
        self.addresses = [user.login_ids.get().value for user in users]
        self.turn = 0
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {app_settings.PROJECT_ID}"}

    def start(self) -> float:
        self.turn += 1
        body = json.dumps({"loginId": self.addresses[self.turn % len(self.addresses)]})
        return self._post("/v1/auth/magiclink/signin/email", body)

    def bare(self) -> float:
        return self._post("/bare", json.dumps({"loginId": self.addresses[0]}))

    def _post(self, url: str, body: str) -> float:
        started = time.perf_counter()
        response = self.client.post(url, body, content_type="application/json", **self.auth)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content
        return elapsed


def interleaved(caller: Caller, configurations: dict) -> dict[str, list[float]]:
    """Rounds of each configuration in turn, so drift in the machine's speed touches all alike."""
    samples: dict[str, list[float]] = {name: [] for name in configurations}
    for _ in range(ROUNDS):
        for name, (overrides, call) in configurations.items():
            with override_settings(**overrides):
                call()  # the first call after a settings change rebuilds caches; not timed
                samples[name] += [call() for _ in range(PER_ROUND)]
    return samples


def main() -> None:
    settings.ROOT_URLCONF = "start_latency_bench"
    clear_url_caches()
    harness.header("start-call latency: slow delivery must not reach the request")
    print(f"   task backend: {settings.TASKS['default']['BACKEND']} (enqueue only, no worker)")
    users = [create_user("email", f"user{i}@example.com", {}) for i in range(USERS)]
    caller = Caller(users)
    for _ in range(20):
        caller.start()
        caller.bare()
    with harness.queries() as captured:
        caller.start()
    results = interleaved(caller, {
        "delivery 0 s": ({"MAGICLINK_AUTH": delivery(0)}, caller.start),
        "delivery 1 s": ({"MAGICLINK_AUTH": delivery(1)}, caller.start),
        "bare DRF view": ({}, caller.bare),
    })
    for name, samples in results.items():
        print(f"   {name:<14} {harness.ms(samples)}")
    medians = {name: statistics.median(samples) for name, samples in results.items()}
    ratio = medians["delivery 1 s"] / medians["delivery 0 s"]
    print("   " + harness.verdict("ratio (1 s delivery / 0 s delivery)", ratio, "<= 1.1", ratio <= 1.1))
    own = medians["delivery 0 s"] - medians["bare DRF view"]
    print(f"   start call's own cost over the bare view: {own * 1e3:.3f} ms "
          f"({medians['delivery 0 s'] / medians['bare DRF view']:.1f}x the bare view); "
          f"queries per start call: {harness.data_queries(captured)} (BEGIN not counted)")

    immediate = settings.TASKS["default"]["BACKEND"].replace("django_tasks_db.DatabaseBackend",
                                                             "django_tasks.backends.immediate.ImmediateBackend")
    with override_settings(MAGICLINK_AUTH=delivery(1), TASKS={"default": {"BACKEND": immediate}}):
        control = [caller.start() for _ in range(3)]
    control_ms = statistics.median(control) * 1e3
    print(f"   control, immediate task backend and 1 s delivery: median {control_ms:.0f} ms"
          " (the delivery really takes 1 s when run in the request)")


if __name__ == "__main__":
    main()
