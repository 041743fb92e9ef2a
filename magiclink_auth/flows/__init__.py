"""The magic-link flows: sign-up, sign-in, sign-up-or-in (``start``), verify (``verification``) and what a
link will do before it is opened (``link_preview``). Rules only; no HTTP here.

Each start call resolves who the link is for and has ``issuance`` make, store and queue it; verify
consumes the link once, through the handler of its purpose, and opens a session.
"""

from ..issuance import LoginOptions, RequestMeta, StartResult
from .link_preview import LinkPreview, preview
from .start import sign_in, sign_in_staff, sign_up, sign_up_or_in
from .verification import VerifyResult, verify, verify_enchanted

__all__ = [
    "RequestMeta", "StartResult", "VerifyResult", "LinkPreview", "LoginOptions", "sign_up", "sign_in",
    "sign_up_or_in", "verify", "preview", "sign_in_staff", "verify_enchanted",
]
