"""Every failure the API can answer, in one table: key -> (protocol error code, HTTP status, description).

Services raise ``MagicLinkError(key)``; the API's exception handler turns it into the protocol's error JSON
``{"errorCode", "errorDescription", "errorMessage"}``. The codes the Descope SDKs export keep their meaning
(E011001-E011004, E062108, E062503) and none of ours reuses another exported code (E061102 and E061103
are the SDKs' OTP errors, so refresh failures live in E0613xx); the rest are ours, one per distinct failure,
listed in README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "ERRORS", "ErrorKey", "ErrorSpec", "MagicLinkError", "InvalidLink", "DeliveryError", "DeliveryCancelled",
    "Unavailable", "MissingExtra",
]


class ErrorKey(StrEnum):
    """The name of every failure, the key of ``ERRORS``."""

    BAD_REQUEST = "bad_request"
    MISSING_ARGUMENTS = "missing_arguments"
    INVALID_REQUEST = "invalid_request"
    INVALID_ARGUMENTS = "invalid_arguments"
    BODY_TOO_LARGE = "body_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_FOUND = "not_found"
    DATABASE_UNAVAILABLE = "database_unavailable"
    DATABASE_BUSY = "database_busy"
    DATABASE_READ_ONLY = "database_read_only"
    CACHE_UNAVAILABLE = "cache_unavailable"
    TASK_BACKEND_UNAVAILABLE = "task_backend_unavailable"
    INTERNAL_ERROR = "internal_error"
    FORBIDDEN = "forbidden"
    CHANNEL_NOT_SUPPORTED = "channel_not_supported"
    PROJECT_ID_MISSING = "project_id_missing"
    PROJECT_ID_MISMATCH = "project_id_mismatch"
    REFRESH_TOKEN_MISSING = "refresh_token_missing"
    REFRESH_TOKEN_INVALID = "refresh_token_invalid"
    SESSION_REVOKED = "session_revoked"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    MANAGEMENT_KEY_MISSING = "management_key_missing"
    MANAGEMENT_KEY_INVALID = "management_key_invalid"
    MANAGEMENT_NOT_SUPPORTED = "management_not_supported"
    NOT_A_TEST_USER = "not_a_test_user"
    TENANT_NOT_MEMBER = "tenant_not_member"
    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    LOGIN_ID_MISMATCH = "login_id_mismatch"
    USER_ALREADY_EXISTS = "user_already_exists"
    USER_NOT_FOUND = "user_not_found"
    USER_DISABLED = "user_disabled"
    ADDRESS_IN_USE = "address_in_use"
    LOGIN_ID_NOT_YOURS = "login_id_not_yours"
    ADDRESS_SHARED = "address_shared"
    URI_MISSING = "uri_missing"
    URI_NOT_ALLOWED = "uri_not_allowed"
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"
    PENDING = "pending"
    LINK_USED = "link_used"
    LINK_SUPERSEDED = "link_superseded"
    LINK_WRONG_PURPOSE = "link_wrong_purpose"
    LINK_STALE = "link_stale"
    ENCHANTED_WRONG_LINK = "enchanted_wrong_link"
    ENCHANTED_SET_VOID = "enchanted_set_void"
    PENDING_REF_INVALID = "pending_ref_invalid"
    PENDING_REF_USED = "pending_ref_used"
    SESSION_JWT_INVALID = "session_jwt_invalid"
    CSRF_FAILED = "csrf_failed"
    STEP_UP_REQUIRED = "step_up_required"
    CUSTOM_CLAIMS_RESERVED = "custom_claims_reserved"
    CUSTOM_CLAIMS_TOO_LARGE = "custom_claims_too_large"
    ELEVATION_REFRESH_MISSING = "elevation_refresh_missing"
    ELEVATION_WRONG_USER = "elevation_wrong_user"
    MFA_FACTOR_PRESENT = "mfa_factor_present"
    NUMBER_REQUIRED = "number_required"
    NUMBER_WRONG = "number_wrong"
    NUMBER_ATTEMPTS_EXCEEDED = "number_attempts_exceeded"
    MERGE_NEEDS_OWNER = "merge_needs_owner"
    REVOKE_NEEDS_SESSION = "revoke_needs_session"
    RATE_LIMITED = "rate_limited"
    RESEND_COOLDOWN = "resend_cooldown"
    LOGIN_ID_RATE_LIMITED = "login_id_rate_limited"
    VERIFY_RATE_LIMITED = "verify_rate_limited"
    VERIFY_ATTEMPTS_EXCEEDED = "verify_attempts_exceeded"
    REFRESH_RATE_LIMITED = "refresh_rate_limited"
    SMS_COUNTRY_NOT_ALLOWED = "sms_country_not_allowed"
    SMS_PREFIX_RATE_LIMITED = "sms_prefix_rate_limited"
    SMS_BUDGET_EXHAUSTED = "sms_budget_exhausted"
    CONFUSABLE_ADDRESS = "confusable_address"
    TEMPLATE_OPTIONS_INVALID = "template_options_invalid"
    UPDATE_RATE_LIMITED = "update_rate_limited"
    UPDATE_IP_RATE_LIMITED = "update_ip_rate_limited"
    HOST_NOT_ALLOWED = "host_not_allowed"


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    description: str


ERRORS: dict[ErrorKey, ErrorSpec] = {
    # Request shape.
    ErrorKey.BAD_REQUEST: ErrorSpec("E011001", 400, "The request body is not a JSON object"),
    ErrorKey.MISSING_ARGUMENTS: ErrorSpec("E011002", 400, "Required arguments are missing"),
    ErrorKey.INVALID_REQUEST: ErrorSpec("E011003", 400, "The request is not valid for this endpoint"),
    ErrorKey.INVALID_ARGUMENTS: ErrorSpec("E011004", 400, "Arguments are invalid"),
    ErrorKey.BODY_TOO_LARGE: ErrorSpec("E011005", 413, "The request body is too large"),
    ErrorKey.METHOD_NOT_ALLOWED: ErrorSpec("E011006", 405, "Method not allowed on this endpoint"),
    ErrorKey.UNSUPPORTED_MEDIA_TYPE: ErrorSpec("E011007", 415, "The request body must be application/json"),
    ErrorKey.NOT_FOUND: ErrorSpec("E011008", 404, "No such endpoint"),
    # Infrastructure faults (outages.py): 503 with Retry-After where a retry helps.
    ErrorKey.DATABASE_UNAVAILABLE: ErrorSpec("E011201", 503, "The database is unreachable; retry later"),
    ErrorKey.DATABASE_BUSY: ErrorSpec("E011202", 503, "The database is busy; retry later"),
    ErrorKey.DATABASE_READ_ONLY: ErrorSpec("E011203", 503, "The database is read-only for now; retry later"),
    ErrorKey.CACHE_UNAVAILABLE: ErrorSpec("E011204", 503, "The rate-limit cache is unreachable; retry later"),
    ErrorKey.TASK_BACKEND_UNAVAILABLE: ErrorSpec("E011205", 503, "The task queue refused the message; retry later"),
    ErrorKey.INTERNAL_ERROR: ErrorSpec("E011206", 500, "Unexpected server error"),
    ErrorKey.FORBIDDEN: ErrorSpec("E011207", 403, "The site refused the request"),
    ErrorKey.CHANNEL_NOT_SUPPORTED: ErrorSpec(
        "E011301", 400, "This delivery method is not supported here; use email or sms"
    ),
    # Caller identity.
    ErrorKey.PROJECT_ID_MISSING: ErrorSpec("E011101", 401, "The Authorization header does not name a project"),
    ErrorKey.PROJECT_ID_MISMATCH: ErrorSpec("E011102", 401, "The project id is not this server's project"),
    ErrorKey.REFRESH_TOKEN_MISSING: ErrorSpec("E061301", 401, "A refresh token is required"),
    ErrorKey.REFRESH_TOKEN_INVALID: ErrorSpec("E061302", 401, "The refresh token is invalid or expired"),
    ErrorKey.SESSION_REVOKED: ErrorSpec("E061303", 401, "The session was revoked"),
    ErrorKey.REFRESH_TOKEN_REUSED: ErrorSpec(
        "E061304", 401, "The refresh token was already used; the session was revoked"
    ),
    ErrorKey.MANAGEMENT_KEY_MISSING: ErrorSpec(
        "E011310", 401, "A management call needs Bearer <projectId>:<managementKey>"
    ),
    ErrorKey.MANAGEMENT_KEY_INVALID: ErrorSpec("E011311", 401, "The management key is unknown or revoked"),
    ErrorKey.MANAGEMENT_NOT_SUPPORTED: ErrorSpec("E011312", 404, "This management call is not supported here"),
    ErrorKey.NOT_A_TEST_USER: ErrorSpec("E011313", 400, "Links are generated only for test users"),
    # Tenants.
    ErrorKey.TENANT_NOT_MEMBER: ErrorSpec("E011320", 403, "The user is not a member of this tenant"),
    # Login IDs and users.
    ErrorKey.INVALID_EMAIL: ErrorSpec("E062101", 400, "The email address is invalid"),
    ErrorKey.INVALID_PHONE: ErrorSpec("E062102", 400, "The phone number is invalid"),
    ErrorKey.LOGIN_ID_MISMATCH: ErrorSpec("E062103", 400, "The login ID does not match the delivery address"),
    ErrorKey.USER_ALREADY_EXISTS: ErrorSpec("E062107", 409, "A user with this login ID already exists"),
    ErrorKey.USER_NOT_FOUND: ErrorSpec("E062108", 404, "No user has this login ID"),
    ErrorKey.USER_DISABLED: ErrorSpec("E062109", 403, "The user is disabled"),
    ErrorKey.ADDRESS_IN_USE: ErrorSpec("E062110", 409, "The address belongs to another user"),
    ErrorKey.LOGIN_ID_NOT_YOURS: ErrorSpec("E062111", 403, "The login ID is not the signed-in user's"),
    ErrorKey.ADDRESS_SHARED: ErrorSpec(
        "E062112", 409, "Several users have this address and none has it as a login ID; ask the site to fix it"
    ),
    # Redirect URIs.
    ErrorKey.URI_MISSING: ErrorSpec("E062201", 400, "No URI was given and no default redirect URL is configured"),
    ErrorKey.URI_NOT_ALLOWED: ErrorSpec("E062202", 400, "The URI is not in the redirect allow-list"),
    # Links.
    ErrorKey.LINK_INVALID: ErrorSpec("E062501", 401, "The link is invalid"),
    ErrorKey.LINK_EXPIRED: ErrorSpec("E062502", 401, "The link has expired"),
    ErrorKey.PENDING: ErrorSpec("E062503", 401, "The link was not confirmed yet"),
    ErrorKey.LINK_USED: ErrorSpec("E062504", 401, "The link was already used"),
    ErrorKey.LINK_SUPERSEDED: ErrorSpec("E062505", 401, "A newer link was sent; this one no longer works"),
    ErrorKey.LINK_WRONG_PURPOSE: ErrorSpec("E062506", 401, "The link was made for another purpose"),
    ErrorKey.LINK_STALE: ErrorSpec("E062507", 401, "The account changed after the link was sent"),
    # Enchanted links.
    ErrorKey.ENCHANTED_WRONG_LINK: ErrorSpec(
        "E062530", 401, "A link with another number than the one shown was picked; this sign-in is void"
    ),
    ErrorKey.ENCHANTED_SET_VOID: ErrorSpec(
        "E062531", 401, "A link with another number was picked before; this sign-in is void, start again"
    ),
    # Browser login and cross-device completion.
    ErrorKey.PENDING_REF_INVALID: ErrorSpec("E062521", 401, "The pending reference is unknown or its link expired"),
    ErrorKey.PENDING_REF_USED: ErrorSpec("E062522", 401, "The pending session was already collected"),
    ErrorKey.SESSION_JWT_INVALID: ErrorSpec("E062523", 401, "The session JWT is invalid or expired"),
    ErrorKey.CSRF_FAILED: ErrorSpec("E062524", 403, "CSRF check failed for a cookie-authenticated request"),
    ErrorKey.STEP_UP_REQUIRED: ErrorSpec("E062525", 403, "This action needs a step-up session"),
    # Login options.
    ErrorKey.CUSTOM_CLAIMS_RESERVED: ErrorSpec("E062601", 400, "customClaims may not set a reserved claim"),
    ErrorKey.CUSTOM_CLAIMS_TOO_LARGE: ErrorSpec("E062602", 400, "customClaims are larger than 4 KB"),
    # Step-up and MFA.
    ErrorKey.ELEVATION_REFRESH_MISSING: ErrorSpec("E062801", 401, "Step-up and MFA need the user's refresh JWT"),
    ErrorKey.ELEVATION_WRONG_USER: ErrorSpec("E062802", 403, "The refresh JWT belongs to another user"),
    ErrorKey.MFA_FACTOR_PRESENT: ErrorSpec("E062803", 409, "The session already has this factor"),
    # Number matching: links that act for another device or session (crossdevice.py).
    ErrorKey.NUMBER_REQUIRED: ErrorSpec(
        "E062901", 403, "This link was asked for elsewhere: give the number shown there"
    ),
    ErrorKey.NUMBER_WRONG: ErrorSpec("E062902", 403, "The number does not match"),
    ErrorKey.NUMBER_ATTEMPTS_EXCEEDED: ErrorSpec("E062903", 401, "Too many wrong numbers; this link no longer works"),
    ErrorKey.MERGE_NEEDS_OWNER: ErrorSpec(
        "E062904", 403, "Only the owner of the account, signed in, can confirm a merge"
    ),
    ErrorKey.REVOKE_NEEDS_SESSION: ErrorSpec("E062905", 401, "revokeOtherSessions needs the user's refresh JWT"),
    # Abuse.
    ErrorKey.RATE_LIMITED: ErrorSpec("E062701", 429, "Too many requests; retry later"),
    ErrorKey.RESEND_COOLDOWN: ErrorSpec("E062702", 429, "A message was just sent to this login ID; wait"),
    ErrorKey.LOGIN_ID_RATE_LIMITED: ErrorSpec("E062703", 429, "Too many messages for this login ID; retry later"),
    ErrorKey.VERIFY_RATE_LIMITED: ErrorSpec("E062704", 429, "Too many verify attempts; retry later"),
    ErrorKey.VERIFY_ATTEMPTS_EXCEEDED: ErrorSpec("E062705", 429, "Too many tries of this link; ask for a new one"),
    ErrorKey.REFRESH_RATE_LIMITED: ErrorSpec("E062706", 429, "Too many refreshes of this session"),
    ErrorKey.SMS_COUNTRY_NOT_ALLOWED: ErrorSpec("E062707", 400, "SMS is not sent to this country"),
    ErrorKey.SMS_PREFIX_RATE_LIMITED: ErrorSpec("E062708", 429, "Too many SMS to numbers like this one"),
    ErrorKey.SMS_BUDGET_EXHAUSTED: ErrorSpec("E062709", 429, "The site's SMS budget for this hour is spent"),
    ErrorKey.CONFUSABLE_ADDRESS: ErrorSpec("E062710", 400, "The address mixes scripts in one domain label"),
    ErrorKey.TEMPLATE_OPTIONS_INVALID: ErrorSpec("E062711", 400, "Template option names must be short identifiers"),
    ErrorKey.UPDATE_RATE_LIMITED: ErrorSpec("E062712", 429, "Too many address changes asked by this session"),
    ErrorKey.UPDATE_IP_RATE_LIMITED: ErrorSpec("E062713", 429, "Too many address changes asked from this address"),
    ErrorKey.HOST_NOT_ALLOWED: ErrorSpec("E062714", 400, "The Host header names no host this site serves"),
}


class MagicLinkError(Exception):
    """A failure with a protocol error code. ``message`` adds detail for the caller, never a secret.

    ``link``: the link a verify refused, for the ``verify_refused`` signal (which user, which address).
    ``retry_after``: seconds, for the API's ``Retry-After`` (rate limits, outages); None when a retry is
    no help.
    """

    key: ErrorKey
    spec: ErrorSpec
    message: str
    link: Any
    retry_after: int | None = None

    def __init__(self, key: ErrorKey | str, message: str = "", *, link: Any = None,
                 retry_after: int | None = None) -> None:
        self.key = ErrorKey(key)
        self.spec = ERRORS[self.key]
        self.message = message or self.spec.description
        self.link = link
        if retry_after is not None:
            self.retry_after = retry_after
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
