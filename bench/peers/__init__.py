"""The sites throughput.py measures ours against, one module each (its URLs and views), sharing ``settings``.

Each is what a site using that library would minimally write to send a sign-in link (or code) and log in
with it, delivering to the bench's mailbox folder in the request, as the libraries do.
"""

import os
from pathlib import Path


def deliver(address: str, text: str) -> None:
    """The bench's inbox: one file per address, read (and removed) by throughput.lua."""
    (Path(os.environ["BENCH_MAILBOX"]) / address).write_text(text)


def start_view(link_for):
    """``POST /start {"email": ...}``: mail ``link_for(request, user)`` to a known address; answer ``{}``."""
    import json

    from django.contrib.auth.models import User
    from django.http import JsonResponse
    from django.views.decorators.csrf import csrf_exempt
    from django.views.decorators.http import require_POST

    @csrf_exempt
    @require_POST
    def start(request):
        email = json.loads(request.body)["email"]
        user = User.objects.filter(email=email).first()
        if user is not None:
            deliver(email, link_for(request, user))
        return JsonResponse({})

    return start
