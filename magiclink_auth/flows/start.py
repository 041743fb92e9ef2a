"""Starting a flow: sign-up, sign-in, sign-up-or-in and the staff sign-in link. Who the link is for is
decided here; the link itself is issued by ``issuance.issue_link``.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import elevation
from ..adapter import get_adapter
from ..conf import app_settings
from ..errors import ErrorKey, MagicLinkError
from ..existing_users import SharedAddress, find_owner
from ..identifiers import EMAIL, mask, normalize
from ..issuance import LoginOptions, RequestMeta, StartResult, answer_without_link, issue_link
from ..models import PendingLink
from ..notices import ACCOUNT_EXISTS, NO_ACCOUNT, queue_no_account_notice
from ..users import is_disabled, stored_login_id

__all__ = ["sign_up", "sign_in", "sign_up_or_in", "sign_in_staff"]

logger = logging.getLogger("magiclink_auth")


def _caller(login_id: str, options: LoginOptions, refresh_jwt: str | None):
    return elevation.caller_session(login_id, stepup=options.stepup, mfa=options.mfa,
                                    revoke=options.revoke_other_sessions, refresh_jwt=refresh_jwt)


def _owner(method: str, login_id: str, uri: str | None, meta: RequestMeta, options: LoginOptions):
    """The user ``login_id`` leads to, or None; ``SharedAddress`` when several existing users have it.

    Enumeration-safe, a shared address answers as success with nothing sent, like a disabled user: the
    caller is not told, and the site's administrator sees the warning of ``manage.py check``.
    """
    try:
        return find_owner(method, login_id), None
    except SharedAddress:
        logger.warning("Start call for %s refused: several existing users have this address",
                       mask(method, login_id))
        if not app_settings.ENUMERATION_SAFE:
            raise
        return None, answer_without_link(method, login_id, uri, meta, options)


def _who(method: str, login_id: str, options: LoginOptions, refresh_jwt: str | None, uri: str | None,
         meta: RequestMeta):
    """The caller's session (step-up, MFA, revokeOtherSessions), the user the link is for, and the answer
    already given when the address is shared by several existing users (enumeration-safe mode)."""
    caller = _caller(login_id, options, refresh_jwt)
    if caller:
        return caller, caller.user, None
    user, answered = _owner(method, login_id, uri, meta, options)
    return None, user, answered


def sign_up(method: str, login_id: str, *, uri: str | None, user_data: dict[str, Any],
            options: LoginOptions, meta: RequestMeta, refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    caller, user, answered = _who(method, login_id, options, refresh_jwt, uri, meta)
    if answered:
        return answered
    return _sign_up(method, login_id, user, caller, uri=uri, user_data=user_data, options=options, meta=meta)


def _sign_up(method: str, login_id: str, user, caller, *, uri, user_data, options, meta) -> StartResult:
    if user is not None:
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError(ErrorKey.USER_ALREADY_EXISTS)
        # Answer as a sign-up does; the owner gets a sign-in link saying they have an account.
        return _sign_in_existing(method, login_id, user, caller, uri=uri, options=options, meta=meta,
                                 notice=ACCOUNT_EXISTS)
    if not get_adapter().is_open_for_signup(meta.request):
        raise MagicLinkError(ErrorKey.INVALID_REQUEST, "Sign-up is closed")
    return issue_link(purpose=PendingLink.Purpose.SIGN_UP, method=method, login_id=login_id, target=login_id,
                 user=None, uri=uri, options=options, meta=meta, user_data=user_data)


def _sign_in_existing(method: str, login_id: str, user, caller, *, uri, options, meta,
                      notice: str = "") -> StartResult:
    disabled = is_disabled(user)
    if disabled and not app_settings.ENUMERATION_SAFE:
        raise MagicLinkError(ErrorKey.USER_DISABLED)
    raised = elevation.elevation_for(caller, user, method, stepup=options.stepup, mfa=options.mfa)
    # The address stored for the login ID, never the one typed: see identifiers.py.
    target = stored_login_id(user, login_id)
    # Enumeration-safe: a disabled user is sent nothing, and the caller is not told so, by the answer, a
    # later 429 or the time the answer takes (the same work is done: a link born void).
    return issue_link(purpose=PendingLink.Purpose.SIGN_IN, method=method, login_id=login_id, target=target,
                 user=user, uri=uri, options=options, meta=meta, extra_options=raised, notice=notice,
                 refusal="Not sent: the user is disabled" if disabled else "")


def sign_in(method: str, login_id: str, *, uri: str | None, options: LoginOptions,
            meta: RequestMeta, refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    caller, user, answered = _who(method, login_id, options, refresh_jwt, uri, meta)
    if answered:
        return answered
    if user is None:
        if not app_settings.ENUMERATION_SAFE:
            raise MagicLinkError(ErrorKey.USER_NOT_FOUND)
        return _sign_in_unknown(method, login_id, uri=uri, options=options, meta=meta)
    return _sign_in_existing(method, login_id, user, caller, uri=uri, options=options, meta=meta)


def _sign_in_unknown(method: str, login_id: str, *, uri, options, meta) -> StartResult:
    """Enumeration-safe: answer as a sign-in does, and tell the owner there is no account. Where sign-up
    is open they get a sign-up link, made as any link is made so the answer takes the same time."""
    if get_adapter().is_open_for_signup(meta.request):
        return issue_link(purpose=PendingLink.Purpose.SIGN_UP, method=method, login_id=login_id, target=login_id,
                     user=None, uri=uri, options=options, meta=meta, notice=NO_ACCOUNT)
    answer = answer_without_link(method, login_id, uri, meta, options)
    queue_no_account_notice(method, login_id, template_options=options.template_options,
                            locale=options.locale)
    return answer


def sign_up_or_in(method: str, login_id: str, *, uri: str | None, options: LoginOptions,
                  meta: RequestMeta, user_data: dict[str, Any] | None = None,
                  refresh_jwt: str | None = None) -> StartResult:
    login_id = normalize(method, login_id)
    caller, user, answered = _who(method, login_id, options, refresh_jwt, uri, meta)
    if answered:
        return answered
    if user is None:
        return _sign_up(method, login_id, None, None, uri=uri, user_data=user_data or {}, options=options,
                        meta=meta)
    return _sign_in_existing(method, login_id, user, caller, uri=uri, options=options, meta=meta)


def sign_in_staff(address: str, *, uri: str, meta: RequestMeta) -> None:
    """The admin login page's "email me a sign-in link": a sign-in link for an active staff user, and for
    any other address nothing, answered alike (the limits count either way), so the page tells no one
    which addresses are staff."""
    login_id = normalize(EMAIL, address)
    try:
        user = find_owner(EMAIL, login_id)
    except SharedAddress:
        user = None
    if user is None or not getattr(user, "is_staff", False) or is_disabled(user):
        logger.info("Staff sign-in link not sent to %s: no active staff user has it", mask(EMAIL, login_id))
        answer_without_link(EMAIL, login_id, uri, meta, LoginOptions())
        return
    _sign_in_existing(EMAIL, login_id, user, None, uri=uri, options=LoginOptions(), meta=meta)
