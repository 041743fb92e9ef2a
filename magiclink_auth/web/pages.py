"""The sign-in pages a person sees: ask for a link, check your inbox, signed in, and (DEBUG) the dev outbox.

Templates live in ``templates/magiclink_auth/web/``; a site overrides any of them by name.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .. import crossdevice, flows, sessions
from ..conf import app_settings
from ..cookies import clear_session_cookies, cookie_names
from ..delivery import dev
from ..errors import ErrorKey, MagicLinkError
from ..identifiers import EMAIL, SMS
from ..models import LoginId
from ..redirects import landing_url
from ..reporting import protect
from ..throttling import StartIPThrottle
from ..users import get_profile
from . import browsers
from .views import _page, complete_login, private

__all__ = ["StartView", "CheckView", "CheckStatusView", "AccountView", "LogoutView", "OutboxView"]

PENDING_KEY = "magiclink_pending"


def _site_page(request: HttpRequest, name: str, context: dict | None = None,
               status: int = 200) -> HttpResponse:
    return _page(request, name, context, status, referrer=True)


def _url(name: str) -> str:
    return reverse(f"magiclink_auth_web:{name}")


def _send(request: HttpRequest, login_id: str) -> None:
    """Start a sign-up-or-in from this browser, bound to it, and remember what the check page needs."""
    # The API's start-call bucket per client IP, shared: the pages are no way around it.
    per_ip = StartIPThrottle()
    if not per_ip.allow_request(request, None):
        raise per_ip.refuse()
    method = _method_of(login_id)
    if method is None:
        raise MagicLinkError(ErrorKey.INVALID_ARGUMENTS, WHAT_TO_TYPE["neither"])
    # Cross-device: the link may be opened on another device, which then signs this browser in once the
    # person types the number this browser shows (crossdevice.py).
    # With PAGES_ENCHANTED_LINK the message carries numbered links instead, and picking the one with the
    # number this browser shows is giving the number.
    enchanted = app_settings.PAGES_ENCHANTED_LINK
    uri = landing_url(page="enchanted") if enchanted else landing_url(next_path=_url("account"))
    result = flows.sign_up_or_in(
        method, login_id, uri=uri, options=flows.LoginOptions(cross_device=True, enchanted=enchanted),
        meta=flows.RequestMeta.of(request),
    )
    request.session[PENDING_KEY] = {"loginId": login_id, "masked": result.masked_address, "method": method,
                                    "pendingRef": result.handover.pending_ref, "number": result.handover.number,
                                    "enchanted": bool(result.link_number)}


# What to type, for a person whose input was not an address: the API's "invalid phone" would puzzle
# someone who typed a name or a half-finished email.
WHAT_TO_TYPE = {
    ErrorKey.INVALID_EMAIL: "That email address is not valid: type it as name@example.com.",
    ErrorKey.INVALID_PHONE: "That phone number is not valid: type it with its country code, such as +1 415 555 2671.",
    "neither": "Type an email address (name@example.com) or a phone number with its country code "
               "(+1 415 555 2671).",
}
PHONE_CHARACTERS = set("+0123456789 ()-./")


def _method_of(login_id: str) -> str | None:
    """Email when there is an @, SMS when it is written like a phone number, else None."""
    if "@" in login_id:
        return EMAIL
    if any(ch.isdigit() for ch in login_id) and set(login_id) <= PHONE_CHARACTERS:
        return SMS
    return None


def _refused(request: HttpRequest, template: str, context: dict, exc: MagicLinkError) -> HttpResponse:
    message = WHAT_TO_TYPE.get(exc.key, exc.message)  # invalid_arguments carries its own
    if exc.key == ErrorKey.RESEND_COOLDOWN:
        # The flows hold a resend back only while the last link is unused (limits.py); say it for a person.
        message = f"A link was just sent. You can ask for another in {exc.retry_after} seconds."
    response = _site_page(request, template, {**context, "error": message}, exc.status)
    if exc.status == 429:
        response["Retry-After"] = str(exc.retry_after or 60)
    return response


@method_decorator(csrf_protect, name="dispatch")
class StartView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _site_page(request, "start.html")

    def post(self, request: HttpRequest) -> HttpResponse:
        login_id = request.POST.get("login_id", "").strip()[:320]
        if not login_id:
            error = "Enter your email address or phone number."
            return _site_page(request, "start.html", {"error": error}, 400)
        try:
            _send(request, login_id)
        except MagicLinkError as exc:
            return _refused(request, "start.html", {"login_id": login_id}, exc)
        response = HttpResponseRedirect(_url("check"), status=303)
        browsers.ensure_browser_cookie(request, response)
        return response


@method_decorator(csrf_protect, name="dispatch")
class CheckView(View):
    """"Check your inbox": the masked address, a resend button, and a script waiting for the hand-over."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        protect(request, (request.session.get(PENDING_KEY) or {}).get("pendingRef"))  # not in error reports
        return super().dispatch(request, *args, **kwargs)

    def _context(self, pending: dict) -> dict:
        return {
            "masked": pending["masked"],
            "channel": "phone" if pending["method"] == SMS else "inbox",
            "number": pending.get("number") or "",
            "enchanted_number": (pending.get("number") or "") if pending.get("enchanted") else "",
            "poll_ms": int(app_settings.PENDING_POLL_INTERVAL.total_seconds() * 1000),
            "status_url": _url("check_status"),
            "account_url": _url("account"),
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = request.session.get(PENDING_KEY)
        if not pending:
            return redirect(_url("start"))
        return _site_page(request, "check.html", self._context(pending))

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = request.session.get(PENDING_KEY)
        if not pending:
            return redirect(_url("start"))
        if request.POST.get("action") == "resend":
            try:
                _send(request, pending["loginId"])
            except MagicLinkError as exc:
                return _refused(request, "check.html", {**self._context(pending)}, exc)
            context = {**self._context(request.session[PENDING_KEY]), "resent": True}
            return _site_page(request, "check.html", context)
        # Without script: the person says they clicked the link; collect the session if it is there.
        try:
            return _collect(request, pending)
        except MagicLinkError as exc:
            return _site_page(request, "check.html", {**self._context(pending), "error": exc.message}, 409)


def _collect(request: HttpRequest, pending: dict, response: HttpResponse | None = None) -> HttpResponse:
    """Sign this browser in with the session its link handed over; E062503 while it waits."""
    collected = crossdevice.collect(pending["pendingRef"])
    del request.session[PENDING_KEY]
    return complete_login(request, collected.tokens.session.user, collected.tokens, _url("account"), response)


@method_decorator(csrf_exempt, name="dispatch")
class CheckStatusView(View):
    """What the check page's script polls. Waiting is the normal state, so it answers 200 ``{"pending":
    true}``, not the API's 401 E062503, which Django would log as a warning and the browser's console
    as an error at every poll; then ``{"next": url}`` with the session cookies and a Django login.

    No CSRF token: the link confirmed in another tab of this browser logs in, which rotates the token the
    page holds. Nothing is forged by a cross-site POST either: it can only collect the session this
    browser's own sign-in is waiting for (its reference is in the session, never in the request).
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = request.session.get(PENDING_KEY)
        if not pending:
            # The link confirmed in another tab of this browser logs in, which replaces the session: a poll
            # sent meanwhile with the old session cookie finds nothing. Signed in: go on; else ask again.
            if request.user.is_authenticated:
                return private(JsonResponse({"next": _url("account")}))
            return private(JsonResponse({"pending": True}))
        try:
            return _collect(request, pending, JsonResponse({"next": _url("account")}))
        except MagicLinkError as exc:
            if exc.key == ErrorKey.PENDING:
                return private(JsonResponse({"pending": True}))
            return private(JsonResponse({"error": exc.message}, status=410))


class AccountView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect(_url("start"))
        user = request.user
        return _site_page(request, "account.html", {
            "profile": get_profile(user),
            "login_ids": LoginId.objects.filter(user=user),
        })


@method_decorator(csrf_protect, name="dispatch")
class LogoutView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        refresh_jwt = request.COOKIES.get(cookie_names()[1])
        if refresh_jwt:
            try:
                sessions.log_out(sessions.session_for(refresh_jwt), request=request)
            except MagicLinkError:
                pass  # already gone: the cookies are cleared all the same
        logout(request)
        response = HttpResponseRedirect(_url("start") + "?signed_out=1", status=303)
        clear_session_cookies(response)
        return private(response)


class OutboxView(View):
    """DEBUG only, and to loopback clients only: the links sent by the memory and file delivery backends,
    newest first, so a newcomer can click their link without a mail server. Every link on it is live, so a
    server started with DEBUG on an open interface must not show it to the network."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.DEBUG or not _is_loopback(request.META.get("REMOTE_ADDR", "")):
            raise Http404
        messages = [{"to": m.recipient, "channel": m.channel, "purpose": m.purpose, "url": m.url,
                     "choices": m.context.get("choices") or []} for m in list(dev.outbox)]
        # Email and SMS may share one file (the example site's do): read each file once.
        paths = {
            Path(config.get("OPTIONS", {}).get("PATH", "")): None
            for config in app_settings.DELIVERY.values() if config.get("BACKEND", "").endswith("dev.FileBackend")
        }
        for path in paths:
            messages += _read_file(path)
        return _site_page(request, "outbox.html", {"sent": list(reversed(messages))})


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _read_file(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
