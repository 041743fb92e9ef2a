"""The link's landing page. A GET never consumes the token: mail scanners and previews open links.

GET (and HEAD) answer a small confirm page; the browser POSTs the token back (by script in the browser that
asked for the link, by a click elsewhere, so a link an attacker requested for their own account never logs a
victim in unseen). The POST verifies, sets the DS / DSR cookies, logs the user into Django and redirects
(303) to where the link was bound to go. With ``TOKEN_IN_FRAGMENT`` the token travels in ``#t=`` and reaches
the server only in a POST.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import login, logout
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from .. import flows, signals
from ..backends import BACKEND
from ..conf import app_settings
from ..cookies import set_session_cookies
from ..errors import ErrorKey, InvalidLink, MagicLinkError
from ..existing_users import SharedAddress, find_owner
from ..models import BrowserLogin, PendingLink
from ..ratelimit import RateLimited
from ..reporting import protect, scrub_query
from ..sessions import IssuedTokens, tokens_for
from ..throttling import VerifyIPThrottle, VerifyTokenThrottle
from ..tokens import find_link
from . import browsers

__all__ = ["LandingView", "BACKEND", "private", "start_url", "complete_login"]

TEMPLATES = "magiclink_auth/web/"
# Link problems -> (template, HTTP status). Each page offers a way to ask for a new link.
PROBLEMS = {
    ErrorKey.LINK_EXPIRED: ("link_expired.html", 410),
    ErrorKey.LINK_USED: ("link_used.html", 410),
    ErrorKey.LINK_SUPERSEDED: ("link_invalid.html", 410),
    ErrorKey.NUMBER_ATTEMPTS_EXCEEDED: ("number_failed.html", 410),
    ErrorKey.VERIFY_RATE_LIMITED: ("link_limited.html", 429),
    ErrorKey.VERIFY_ATTEMPTS_EXCEEDED: ("link_limited.html", 429),
}
# Refusals that leave the link usable: the confirm page again, with the reason.
RETRY_WITH_NUMBER = {ErrorKey.NUMBER_REQUIRED, ErrorKey.NUMBER_WRONG, ErrorKey.MERGE_NEEDS_OWNER}


def private(response: HttpResponse) -> HttpResponse:
    """A page holding or answering a token: not cached, and its URL never leaks as a Referer."""
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response


def start_url() -> str:
    return reverse("magiclink_auth_web:start")


def _page(request: HttpRequest, name: str, context: dict | None = None, status: int = 200, *,
          referrer: bool = False) -> HttpResponse:
    """Render a page; without ``referrer`` (pages about a link) its URL never leaks as a Referer.

    Pages with forms protected by Django's CSRF check keep the default policy: a page under ``no-referrer``
    makes the browser send ``Origin: null`` with its POSTs, which that check refuses.
    """
    # The confirm form posts to the bare path: the token goes in the body, not in another logged URL.
    base = {"start_url": start_url(), "action": request.path}
    response = render(request, TEMPLATES + name, {**base, **(context or {})}, status=status)
    browsers.ensure_browser_cookie(request, response)
    if referrer:
        add_never_cache_headers(response)
        return response
    return private(response)


# The confirm form carries a ticket signed for this browser instead of Django's CSRF token: the landing page
# is under no-referrer (its URL holds the token), so its POST arrives with `Origin: null`. The browser id
# cookie is SameSite=Lax, so a cross-site POST arrives without it and its ticket does not match.
TICKET_SALT = "magiclink_auth.web.landing"


def _ticket(request: HttpRequest) -> str:
    return signing.dumps(browsers.browser_id(request), salt=TICKET_SALT)


def _ticket_ok(request: HttpRequest) -> bool:
    max_age = app_settings.LINK_LIFETIME + app_settings.CONFIRM_REPLAY_WINDOW
    try:
        value = signing.loads(request.POST.get("ticket", ""), salt=TICKET_SALT, max_age=max_age)
    except signing.BadSignature:
        return False
    return value == browsers.browser_id(request)


def _owner_of(link: PendingLink):
    try:
        return find_owner(link.method, link.login_id)
    except SharedAddress:
        return None


def _problem(request: HttpRequest, exc: MagicLinkError) -> HttpResponse:
    signed_in = _already_signed_in(request, exc)
    if signed_in is not None:
        return signed_in
    name, status = PROBLEMS.get(exc.key, ("link_invalid.html", 400))
    response = _page(request, name, status=status)
    retry_after = exc.retry_after
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _within_limits(request: HttpRequest, token: str, *, confirming: bool) -> None:
    """The API's verify limits, in the API's buckets: per client IP for every look at a link, and per token
    for a confirm (a look only checks the token's bucket), so the page is no way around them."""
    per_ip = VerifyIPThrottle()
    if not per_ip.allow_request(request, None):
        raise per_ip.refuse()
    per_token = VerifyTokenThrottle(token)
    if not (per_token.allow_request(request, None) if confirming else per_token.peek(request)):
        raise per_token.refuse()


def _already_signed_in(request: HttpRequest, exc: MagicLinkError) -> HttpResponse | None:
    """A used link opened in a browser already signed in as its owner (the other device completed the
    sign-in, or a late second click) is no alarm: the person is where the link would take them."""
    link = exc.link
    if exc.key != ErrorKey.LINK_USED or link is None or not request.user.is_authenticated:
        return None
    owner = link.user or _owner_of(link)
    if owner is None or owner.pk != request.user.pk:
        return None
    return private(HttpResponseRedirect(destination(link), status=303))


def destination(link: PendingLink) -> str:
    """Where the browser goes after login: the ``next`` bound into the link's URI (a local path only),
    else ``LOGIN_REDIRECT_URL``. Never a URL taken from the request."""
    candidate = (parse_qs(urlsplit(link.redirect_uri).query).get("next") or [""])[0]
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def complete_login(request: HttpRequest, user, tokens: IssuedTokens, to: str,
                   response: HttpResponse | None = None) -> HttpResponse:
    """Cookies, a Django login, and a 303 (never 307: the POST body holds the token, RFC 9700 §4.12), or
    the ``response`` given (the check page's script reads JSON)."""
    if request.user.is_authenticated and request.user.pk != user.pk:
        logout(request)
    login(request, user, backend=BACKEND)
    browsers.remember_session(request, tokens.session)
    response = response or HttpResponseRedirect(to, status=303)
    set_session_cookies(request, response, tokens)
    browsers.ensure_browser_cookie(request, response)
    return private(response)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("t", "ticket"), name="dispatch")
class LandingView(View):
    http_method_names = ["get", "head", "post"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # The token, its ticket and the cookies never reach an error report (reporting.py).
        protect(request, request.GET.get("t"), request.POST.get("t"), request.POST.get("ticket"),
                *request.COOKIES.values())
        self.query_token = request.GET.get("t", "")
        scrub_query(request, "t")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        token = self.query_token
        if not token:
            # The token is in the fragment (or missing): the page's script posts it for review.
            return _page(request, "landing.html", {"fragment": True})
        return self._review(request, token)

    def post(self, request: HttpRequest) -> HttpResponse:
        token = request.POST.get("t", "")
        if request.POST.get("action") == "review" or not _ticket_ok(request):
            return self._review(request, token)
        return self._confirm(request, token)

    def _review(self, request: HttpRequest, token: str, error: MagicLinkError | None = None) -> HttpResponse:
        """The confirm page. Reads the link, consumes nothing. It says in plain words what confirming does,
        and asks for the number where the link acts for a device or session other than this browser."""
        try:
            _within_limits(request, token, confirming=False)
        except RateLimited as exc:
            return _problem(request, exc)
        try:
            link = find_link(token)
        except InvalidLink as exc:
            replay = browsers.replay_session(token, request) if exc.key == ErrorKey.LINK_USED else None
            if replay is None:
                return _problem(request, exc)
            context = {"token": token, "auto_submit": True, "ticket": _ticket(request)}
            return _page(request, "landing.html", context)
        what = flows.preview(link, browsers.opener(request))
        # The account this browser ends up in: the address's (sign-in), the requester's (update) or the
        # owner's (merge, which is confirmed signed in as that owner).
        owner = _owner_of(link) if what.kind == "merge" else link.user or _owner_of(link)
        signed_in_as_other = request.user.is_authenticated and (owner is None or owner.pk != request.user.pk)
        # Confirmed by script only in the browser (or, for an update, the session) that asked, where nothing
        # is to be typed or decided; anywhere else the person reads what will happen and clicks.
        auto_submit = (not what.needs_number and what.kind != "merge" and not signed_in_as_other
                       and (what.kind == "update" or _asked_here(link, request)))
        if request.method in ("GET", "HEAD") and not auto_submit:
            # Opened without confirming itself: a scanner's prefetch, or a person yet to click.
            signals.scanner_open_seen.send(sender=PendingLink, link=link, request=request)
        return _page(request, "landing.html", {
            "token": token,
            "account": what.account,
            "what": what,
            "signed_in_as_other": signed_in_as_other and what.kind != "merge",
            "auto_submit": auto_submit,
            # An update opened from a mail arrives without the SameSite=Strict session cookies that show
            # whether this browser is signed in with the session that asked: the page posts itself back once
            # (same-site, so they come along) before asking for the number.
            "recheck": request.method in ("GET", "HEAD") and what.kind == "update" and what.needs_number,
            "ticket": _ticket(request),
            "error": error.message if error is not None else "",
        }, status=error.status if error is not None else 200)

    def _confirm(self, request: HttpRequest, token: str) -> HttpResponse:
        opener = browsers.opener(request, request.POST.get("number", ""))
        try:
            _within_limits(request, token, confirming=True)
        except RateLimited as exc:
            return _problem(request, exc)
        try:
            result = flows.verify(token, flows.RequestMeta.of(request, opener=opener))
        except InvalidLink as exc:
            replay = browsers.replay_session(token, request) if exc.key == ErrorKey.LINK_USED else None
            if replay is None:
                return _problem(request, exc)
            if browsers.confirmed_elsewhere(replay, request):
                return _page(request, "other_device.html")
            return complete_login(request, replay.session.user, tokens_for(replay.session),
                                  destination(replay.link))
        except MagicLinkError as exc:
            if exc.key in RETRY_WITH_NUMBER:
                return self._review(request, token, exc)
            return _problem(request, exc)
        row = browsers.record_confirm(result.link, request)
        if browsers.confirmed_elsewhere(row, request):
            # The session goes to the tab that asked for the link; this device only vouched for it.
            return _page(request, "other_device.html")
        return complete_login(request, result.user, result.tokens, destination(result.link))


def _asked_here(link: PendingLink, request: HttpRequest) -> bool:
    """The link was asked for from this browser (a sign-in page here, or an API call carrying its cookie)."""
    try:
        row = link.browser_login  # loaded with the link by find_link: no query
    except BrowserLogin.DoesNotExist:
        return False
    return bool(row.requester_browser) and row.requester_browser == browsers.browser_id(request)
