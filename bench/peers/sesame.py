"""django-sesame: ``POST /start`` mails ``/login?sesame=<token>`` (``get_query_string``); sesame's
``LoginView`` logs in with it."""

from django.urls import path
from sesame.utils import get_query_string
from sesame.views import LoginView

from . import start_view


def link_for(request, user) -> str:
    return request.build_absolute_uri("/login") + get_query_string(user)


urlpatterns = [path("start", start_view(link_for)), path("login", LoginView.as_view(next_page=None))]
