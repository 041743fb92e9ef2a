"""django-magic-link: ``POST /start`` creates a ``MagicLink`` row and mails its URL; ``GET`` on it shows
the confirm page, ``POST`` logs in (a Django session), disables the link and audits the use.

The POST is exempt from CSRF: the load generator keeps no cookies (the check is a few microseconds).
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from magic_link.models import MagicLink
from magic_link.views import MagicLinkView

from . import start_view


def link_for(request, user) -> str:
    return request.build_absolute_uri(MagicLink.objects.create(user=user, redirect_to="/").get_absolute_url())


urlpatterns = [
    path("start", start_view(link_for)),
    path("magic-link/<uuid:token>/", csrf_exempt(MagicLinkView.as_view()), name="magic_link"),
]
