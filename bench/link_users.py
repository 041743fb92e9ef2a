"""``manage.py magiclink_link_users --apply`` on 1,000 and on 10,000 existing users: time and peak memory.

Users are made as a site made them before the app (a row with an email, no login ID); the command gives each
one a login ID in batches. Printed: wall time, the peak of memory the command allocated (tracemalloc, Python
objects only; a separate run, as tracing slows it down) and the ratios 10,000 / 1,000, which say how it
scales (10 means linear).

    python bench/link_users.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h3_bench python bench/link_users.py
"""

from __future__ import annotations

import time
import tracemalloc
from io import StringIO

import harness

SIZES = (1_000, 10_000)


def fill(count: int) -> None:
    from django.contrib.auth import get_user_model

    from magiclink_auth.models import LoginId

    User = get_user_model()
    LoginId.objects.all().delete()
    User.objects.all().delete()
    User.objects.bulk_create(
        [User(username=f"user{i}", email=f"Person.{i}@Example.com") for i in range(count)], batch_size=2000
    )


def apply(count: int, *, trace: bool) -> tuple[float, float, str]:
    """Fill ``count`` users and link them: (seconds, peak MiB allocated or 0, the command's summary)."""
    from django.core.management import call_command

    from magiclink_auth.models import LoginId

    fill(count)
    out = StringIO()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    call_command("magiclink_link_users", "--apply", "--batch-size", "1000", stdout=out)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    tracemalloc.stop()
    assert LoginId.objects.count() == count, out.getvalue()
    return seconds, peak, out.getvalue().splitlines()[0]


def run(count: int) -> tuple[float, float, str]:
    """Time and memory from separate runs: tracing every allocation slows the command several times over."""
    apply(min(count, 100), trace=False)  # warm imports and caches
    seconds = min(apply(count, trace=False)[0] for _ in range(2))
    _, peak, summary = apply(count, trace=True)
    return seconds, peak, summary


def main() -> None:
    harness.setup()
    harness.header("magiclink_link_users --apply --batch-size 1000")
    figures = {}
    for count in SIZES:
        seconds, peak_mib, summary = run(count)
        figures[count] = (seconds, peak_mib)
        print(f"   {count:>6} users: {seconds:.2f} s, peak {peak_mib:.1f} MiB allocated   ({summary})")
    small, large = figures[SIZES[0]], figures[SIZES[1]]
    print(f"   ratio 10,000 / 1,000: time {large[0] / small[0]:.2f}, peak memory {large[1] / small[1]:.2f}")


if __name__ == "__main__":
    main()
