"""Every failure the API can answer, in one table: key -> (protocol error code, HTTP status, description).

Services raise ``MagicLinkError(key)``; the API's exception handler turns it into the protocol's error JSON
``{"errorCode", "errorDescription", "errorMessage"}``. The codes the Descope SDKs export keep their meaning
(E011001-E011004, E062108, E062503) and none of ours reuses another exported code (E061102 and E061103
are the SDKs' OTP errors, so refresh failures live in E0613xx); the rest are ours, one per distinct failure,
listed in README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "ERRORS", "ErrorSpec", "MagicLinkError", "InvalidLink", "DeliveryError", "DeliveryCancelled", "Unavailable",
    "MissingExtra",
]


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    description: str


ERRORS: dict[str, ErrorSpec] = {
    # Request shape.
    "bad_request": ErrorSpec("E011001", 400, "The request body is not a JSON object"),
    "missing_arguments": ErrorSpec("E011002", 400, "Required arguments are missing"),
    "invalid_request": ErrorSpec("E011003", 400, "The request is not valid for this endpoint"),
    "invalid_arguments": ErrorSpec("E011004", 400, "Arguments are invalid"),
    "body_too_large": ErrorSpec("E011005", 413, "The request body is too large"),
    "method_not_allowed": ErrorSpec("E011006", 405, "Method not allowed on this endpoint"),
    "unsupported_media_type": ErrorSpec("E011007", 415, "The request body must be application/json"),
    "not_found": ErrorSpec("E011008", 404, "No such endpoint"),
    # Infrastructure faults (outages.py): 503 with Retry-After where a retry helps.
    "database_unavailable": ErrorSpec("E011201", 503, "The database is unreachable; retry later"),
    "database_busy": ErrorSpec("E011202", 503, "The database is busy; retry later"),
    "database_read_only": ErrorSpec("E011203", 503, "The database is read-only for now; retry later"),
    "cache_unavailable": ErrorSpec("E011204", 503, "The rate-limit cache is unreachable; retry later"),
    "task_backend_unavailable": ErrorSpec("E011205", 503, "The task queue refused the message; retry later"),
    "internal_error": ErrorSpec("E011206", 500, "Unexpected server error"),
    "forbidden": ErrorSpec("E011207", 403, "The site refused the request"),
    "channel_not_supported": ErrorSpec(
        "E011301", 400, "This delivery method is not supported here; use email or sms"
    ),
    # Caller identity.
    "project_id_missing": ErrorSpec("E011101", 401, "The Authorization header does not name a project"),
    "project_id_mismatch": ErrorSpec("E011102", 401, "The project id is not this server's project"),
    "refresh_token_missing": ErrorSpec("E061301", 401, "A refresh token is required"),
    "refresh_token_invalid": ErrorSpec("E061302", 401, "The refresh token is invalid or expired"),
    "session_revoked": ErrorSpec("E061303", 401, "The session was revoked"),
    "refresh_token_reused": ErrorSpec("E061304", 401, "The refresh token was already used; the session was revoked"),
    "management_key_missing": ErrorSpec(
        "E011310", 401, "A management call needs Bearer <projectId>:<managementKey>"
    ),
    "management_key_invalid": ErrorSpec("E011311", 401, "The management key is unknown or revoked"),
    "management_not_supported": ErrorSpec("E011312", 404, "This management call is not supported here"),
    "not_a_test_user": ErrorSpec("E011313", 400, "Links are generated only for test users"),
    # Tenants.
    "tenant_not_member": ErrorSpec("E011320", 403, "The user is not a member of this tenant"),
    # Login IDs and users.
    "invalid_email": ErrorSpec("E062101", 400, "The email address is invalid"),
    "invalid_phone": ErrorSpec("E062102", 400, "The phone number is invalid"),
    "login_id_mismatch": ErrorSpec("E062103", 400, "The login ID does not match the delivery address"),
    "user_already_exists": ErrorSpec("E062107", 409, "A user with this login ID already exists"),
    "user_not_found": ErrorSpec("E062108", 404, "No user has this login ID"),
    "user_disabled": ErrorSpec("E062109", 403, "The user is disabled"),
    "address_in_use": ErrorSpec("E062110", 409, "The address belongs to another user"),
    "login_id_not_yours": ErrorSpec("E062111", 403, "The login ID is not the signed-in user's"),
    "address_shared": ErrorSpec(
        "E062112", 409, "Several users have this address and none has it as a login ID; ask the site to fix it"
    ),
    # Redirect URIs.
    "uri_missing": ErrorSpec("E062201", 400, "No URI was given and no default redirect URL is configured"),
    "uri_not_allowed": ErrorSpec("E062202", 400, "The URI is not in the redirect allow-list"),
    # Links.
    "link_invalid": ErrorSpec("E062501", 401, "The link is invalid"),
    "link_expired": ErrorSpec("E062502", 401, "The link has expired"),
    "pending": ErrorSpec("E062503", 401, "The link was not confirmed yet"),
    "link_used": ErrorSpec("E062504", 401, "The link was already used"),
    "link_superseded": ErrorSpec("E062505", 401, "A newer link was sent; this one no longer works"),
    "link_wrong_purpose": ErrorSpec("E062506", 401, "The link was made for another purpose"),
    "link_stale": ErrorSpec("E062507", 401, "The account changed after the link was sent"),
    # Enchanted links.
    "enchanted_wrong_link": ErrorSpec(
        "E062530", 401, "A link with another number than the one shown was picked; this sign-in is void"
    ),
    "enchanted_set_void": ErrorSpec(
        "E062531", 401, "A link with another number was picked before; this sign-in is void, start again"
    ),
    # Browser login and cross-device completion.
    "pending_ref_invalid": ErrorSpec("E062521", 401, "The pending reference is unknown or its link expired"),
    "pending_ref_used": ErrorSpec("E062522", 401, "The pending session was already collected"),
    "session_jwt_invalid": ErrorSpec("E062523", 401, "The session JWT is invalid or expired"),
    "csrf_failed": ErrorSpec("E062524", 403, "CSRF check failed for a cookie-authenticated request"),
    "step_up_required": ErrorSpec("E062525", 403, "This action needs a step-up session"),
    # Login options.
    "custom_claims_reserved": ErrorSpec("E062601", 400, "customClaims may not set a reserved claim"),
    "custom_claims_too_large": ErrorSpec("E062602", 400, "customClaims are larger than 4 KB"),
    # Step-up and MFA.
    "elevation_refresh_missing": ErrorSpec("E062801", 401, "Step-up and MFA need the user's refresh JWT"),
    "elevation_wrong_user": ErrorSpec("E062802", 403, "The refresh JWT belongs to another user"),
    "mfa_factor_present": ErrorSpec("E062803", 409, "The session already has this factor"),
    # Number matching: links that act for another device or session (crossdevice.py).
    "number_required": ErrorSpec("E062901", 403, "This link was asked for elsewhere: give the number shown there"),
    "number_wrong": ErrorSpec("E062902", 403, "The number does not match"),
    "number_attempts_exceeded": ErrorSpec("E062903", 401, "Too many wrong numbers; this link no longer works"),
    "merge_needs_owner": ErrorSpec("E062904", 403, "Only the owner of the account, signed in, can confirm a merge"),
    "revoke_needs_session": ErrorSpec("E062905", 401, "revokeOtherSessions needs the user's refresh JWT"),
    # Abuse.
    "rate_limited": ErrorSpec("E062701", 429, "Too many requests; retry later"),
    "resend_cooldown": ErrorSpec("E062702", 429, "A message was just sent to this login ID; wait"),
    "login_id_rate_limited": ErrorSpec("E062703", 429, "Too many messages for this login ID; retry later"),
    "verify_rate_limited": ErrorSpec("E062704", 429, "Too many verify attempts; retry later"),
    "verify_attempts_exceeded": ErrorSpec("E062705", 429, "Too many tries of this link; ask for a new one"),
    "refresh_rate_limited": ErrorSpec("E062706", 429, "Too many refreshes of this session"),
    "sms_country_not_allowed": ErrorSpec("E062707", 400, "SMS is not sent to this country"),
    "sms_prefix_rate_limited": ErrorSpec("E062708", 429, "Too many SMS to numbers like this one"),
    "sms_budget_exhausted": ErrorSpec("E062709", 429, "The site's SMS budget for this hour is spent"),
    "confusable_address": ErrorSpec("E062710", 400, "The address mixes scripts in one domain label"),
    "template_options_invalid": ErrorSpec("E062711", 400, "Template option names must be short identifiers"),
    "update_rate_limited": ErrorSpec("E062712", 429, "Too many address changes asked by this session"),
    "update_ip_rate_limited": ErrorSpec("E062713", 429, "Too many address changes asked from this address"),
    "host_not_allowed": ErrorSpec("E062714", 400, "The Host header names no host this site serves"),
}


class MagicLinkError(Exception):
    """A failure with a protocol error code. ``message`` adds detail for the caller, never a secret."""

    def __init__(self, key: str, message: str = "") -> None:
        self.key = key
        self.spec = ERRORS[key]
        self.message = message or self.spec.description
        super().__init__(f"{self.spec.code}: {self.message}")

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def status(self) -> int:
        return self.spec.status

    def as_json(self) -> dict[str, str]:
        return {
            "errorCode": self.spec.code,
            "errorDescription": self.spec.description,
            "errorMessage": self.message,
        }


class Unavailable(MagicLinkError):
    """A database, cache or task queue fault: the API answers 503 with ``Retry-After: retry_after``."""

    retry_after = 5


class InvalidLink(MagicLinkError):
    """The token does not lead to a usable link (unknown, expired, used, superseded, wrong purpose)."""


class DeliveryError(Exception):
    """A delivery backend could not hand a message to its provider. Raised ``from`` the provider's error."""

    def __init__(self, message: str, *, provider: str = "", retryable: bool = True):
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable


class DeliveryCancelled(Exception):
    """Raised by a delivery backend (in ``pre_send`` usually) to cancel a message for good, as anymail's
    ``AnymailCancelSend``: the link is recorded ``cancelled`` with this reason, and never retried.

    Not a ``DeliveryError``: nothing failed, the site decided (a suppression list, a test address).
    """


class MissingExtra(ImproperlyConfigured, ImportError):
    """A configured backend needs an optional package that is not installed (as anymail's per-ESP extras).

    An ``ImportError`` too, so ``import_string`` of the backend fails the way a wrong dotted path does.
    """

    def __init__(self, package: str, extra: str, backend: str) -> None:
        super().__init__(
            f"{backend} needs the {package!r} package, which is not installed: "
            f"pip install 'magiclink-auth[{extra}]'."
        )
        self.extra = extra
