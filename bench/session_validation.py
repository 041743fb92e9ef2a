"""A protected view behind the session middleware against the same view with no authentication, and
views reading ``request.user`` against the same views under Django's own session authentication.

Prints requests per second of each through Django's WSGI handler, in process (per second of this
process's CPU time), their ratio (target <= 1.15: checking a session costs under 15 % of a request) and
the SQL queries per protected request (target 0: a session JWT is checked with the cached key ring, never
with the database). The middleware is the app's ``MagicLinkSessionMiddleware``, placed where the example
site puts it; the baseline is the same stack without it.

Then the views that need the user's row: a plain view reading ``request.user`` (the middleware, DS
cookie) and a DRF view with ``MagicLinkAuthentication`` (Bearer session JWT), each against the same view
signed in by Django's session (``sessionid`` cookie; DRF's ``SessionAuthentication``), which reads the
session row and then the user row. Target: cost ratio (ours / Django's) <= 1.0, at most 1 query.

    python bench/session_validation.py            # SQLite
    DATABASE_URL=postgres://... python bench/session_validation.py
"""

from __future__ import annotations

import io
import sys
import time

import harness

harness.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from magiclink_auth import jwts  # noqa: E402
from magiclink_auth.conf import app_settings  # noqa: E402
from magiclink_auth.users import create_user  # noqa: E402

try:  # the app's own middleware, once it exists; until then a minimal one doing the same check
    from magiclink_auth.middleware import MagicLinkSessionMiddleware as SessionMiddleware
except ImportError:

    class SessionMiddleware:
        """Checks the session JWT (``DS`` cookie or ``Authorization: Bearer``); sets ``request.magiclink``.

        Nothing but the signature, expiry, issuer and kind is checked: that is the stateless check every
        protected request pays for; revocation is the refresh JWT's business.
        """

        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            token = request.COOKIES.get(app_settings.SESSION_COOKIE_NAME)
            if not token:
                scheme, _, token = request.headers.get("Authorization", "").partition(" ")
                token = token if scheme.lower() == "bearer" else ""
            request.magiclink = None
            if token:
                try:
                    request.magiclink = jwts.decode(token, jwts.SESSION)
                except jwts.InvalidJWT:
                    pass
            return self.get_response(request)

def authenticated(request) -> bool:
    return bool(getattr(request, "magiclink_claims", None) or getattr(request, "magiclink", None))

def page(request):
    return JsonResponse({"hello": "world"})

def protected(request):
    if not authenticated(request):
        return HttpResponse(status=401)
    return page(request)

def me(request):
    """A page that needs the user's row, signed in whichever way the stack provides."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return JsonResponse({"id": str(request.user.pk), "email": request.user.email})


def drf_view(authentication):
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Me(APIView):
        authentication_classes = [authentication]
        permission_classes = [IsAuthenticated]

        def get(self, request):
            return Response({"id": str(request.user.pk), "email": request.user.email})

    return Me.as_view()


from rest_framework.authentication import SessionAuthentication  # noqa: E402

from magiclink_auth.api.authentication import MagicLinkAuthentication  # noqa: E402

urlpatterns = [
    path("open", page), path("protected", protected), path("me", me),
    path("drf/magiclink", drf_view(MagicLinkAuthentication)), path("drf/session", drf_view(SessionAuthentication)),
]
sys.modules.setdefault("session_validation_bench", sys.modules[__name__])  # importable as the urlconf
MIDDLEWARE_PATH = f"{SessionMiddleware.__module__}.{SessionMiddleware.__qualname__}".replace(
    "__main__.", "session_validation_bench."
)

def make_handler(middleware: list[str]) -> WSGIHandler:
    with override_settings(MIDDLEWARE=middleware):  # read once, when the handler is built
        return WSGIHandler()

def environ(path_info: str, cookie: str = "", **headers: str) -> dict:
    return {**headers,
        "REQUEST_METHOD": "GET", "PATH_INFO": path_info, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "HTTP_COOKIE": cookie,
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }

def caller(handler: WSGIHandler, path_info: str, cookie: str = "", **headers: str):
    def start_response(status, headers, exc_info=None):
        # Every call must succeed: a refused one (an expired token, say) is cheaper and would flatter.
        if not status.startswith("200"):
            raise AssertionError(f"{path_info} answered {status}")

    def call():
        response = handler(environ(path_info, cookie, **headers), start_response)
        b"".join(response)
        response.close()

    call()
    return call

AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def measure(label: str, base_middleware: list[str], cookie: str) -> float:
    plain = caller(make_handler(base_middleware), "/open", cookie)
    at = base_middleware.index(AUTH) + 1 if AUTH in base_middleware else len(base_middleware)
    with_session = [*base_middleware[:at], MIDDLEWARE_PATH, *base_middleware[at:]]
    guarded = caller(make_handler(with_session), "/protected", cookie)
    # Interleave the rounds so that drift in the machine's speed hits both alike.
    plain_rate = guarded_rate = 0.0
    cpu = {"seconds": 0.25, "rounds": 1, "clock": time.process_time}  # all the work is in this process
    for _ in range(16):
        plain_rate = max(plain_rate, harness.rate(plain, **cpu))
        guarded_rate = max(guarded_rate, harness.rate(guarded, **cpu))
    with harness.queries() as captured:
        for _ in range(100):
            guarded()
    ratio = plain_rate / guarded_rate
    print(f"-- {label}")
    print(f"   no authentication:        {plain_rate:9,.0f} req/s  ({1e6 / plain_rate:6.1f} us/request)")
    print(f"   behind the middleware:    {guarded_rate:9,.0f} req/s  ({1e6 / guarded_rate:6.1f} us/request)")
    print(f"   session validation costs: {1e6 / guarded_rate - 1e6 / plain_rate:6.1f} us/request")
    print("   " + harness.verdict("ratio (no auth / protected)", ratio, "<= 1.15", ratio <= 1.15))
    per_request = len(captured) / 100
    print("   " + harness.verdict("queries per protected request", per_request, "0", per_request == 0))
    return ratio


def versus(label: str, ours, django_session) -> float:
    """Our authenticated view against the same view signed in by Django's session: CPU cost ratio, queries."""
    rates = {"ours": 0.0, "django": 0.0}
    cpu = {"seconds": 0.25, "rounds": 1, "clock": time.process_time}
    for _ in range(12):
        rates["ours"] = max(rates["ours"], harness.rate(ours, **cpu))
        rates["django"] = max(rates["django"], harness.rate(django_session, **cpu))
    counts = {}
    for name, call in (("ours", ours), ("django", django_session)):
        with harness.queries() as captured:
            for _ in range(100):
                call()
        counts[name] = harness.data_queries(captured) / 100
    ratio = rates["django"] / rates["ours"]
    print(f"-- {label}")
    print(f"   magiclink session:        {rates['ours']:9,.0f} req/s  ({1e6 / rates['ours']:6.1f} us/request), "
          f"{counts['ours']:.2f} queries/request")
    print(f"   Django session:           {rates['django']:9,.0f} req/s  ({1e6 / rates['django']:6.1f} us/request), "
          f"{counts['django']:.2f} queries/request")
    print("   " + harness.verdict("cost ratio (magiclink / Django session)", ratio, "<= 1.0", ratio <= 1.0))
    print("   " + harness.verdict("queries per magiclink request", counts["ours"], "<= 1", counts["ours"] <= 1))
    return ratio


def user_views(user, session_jwt: str, stack: list[str]) -> None:
    from django.conf import settings
    from django.test import Client

    browser = Client()
    browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    sessionid = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    ds_cookie = f"{app_settings.SESSION_COOKIE_NAME}={session_jwt}"
    ours_stack = make_handler(stack)
    django_stack = make_handler([entry for entry in stack if entry != MIDDLEWARE_PATH])
    versus("a view reading request.user: the middleware (DS cookie) vs Django's session (sessionid cookie)",
           caller(ours_stack, "/me", ds_cookie), caller(django_stack, "/me", sessionid))
    versus("a DRF view: MagicLinkAuthentication (Bearer) vs DRF's SessionAuthentication (sessionid cookie)",
           caller(ours_stack, "/drf/magiclink", HTTP_AUTHORIZATION=f"Bearer {session_jwt}"),
           caller(django_stack, "/drf/session", sessionid))


def main() -> None:
    from django.conf import settings
    from django.urls import clear_url_caches

    settings.ROOT_URLCONF = "session_validation_bench"
    clear_url_caches()
    harness.header("session validation: protected view vs. the same view without authentication")
    from magiclink_auth.keys import get_signing_key

    print(f"   middleware: {MIDDLEWARE_PATH}; signing: {get_signing_key().algorithm}")
    user = create_user("email", "bench@example.com", {})
    session_jwt = harness.session_jwt(user)
    cookie = f"{app_settings.SESSION_COOKIE_NAME}={session_jwt}"
    fresh = [harness.session_jwt(user, n=n) for n in range(200)]
    first_seen = harness.timed(lambda: jwts.decode(fresh.pop(), jwts.SESSION), repeat=190, warmup=10)
    print(f"   a session JWT's first check (signature): {harness.ms(first_seen)}; "
          "later checks of the same token are served from memory")
    # The example site's stack without the session middleware, and with it where the site puts it.
    stack = [entry for entry in settings.MIDDLEWARE if entry != MIDDLEWARE_PATH]
    measure("the example site's middleware stack (the target applies here)", stack, cookie)
    measure("no other middleware at all (worst case: the bare handler)", [], cookie)
    user_views(user, session_jwt, [*stack[:stack.index(AUTH) + 1], MIDDLEWARE_PATH,
                                          *stack[stack.index(AUTH) + 1:]])

if __name__ == "__main__":
    main()
