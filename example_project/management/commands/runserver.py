"""``runserver`` with a listen backlog of 128 instead of Django's 10.

Django's development server queues at most 10 connections waiting to be accepted; the eleventh of a burst
(fifty clicks on one link, a page's parallel requests) is reset by the kernel before any code runs. The rest
is Django's command, static files included.
"""

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver
from django.core.servers.basehttp import WSGIServer


class BackloggedWSGIServer(WSGIServer):
    request_queue_size = 128


class Command(StaticfilesRunserver):
    server_cls = BackloggedWSGIServer
