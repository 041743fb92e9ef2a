"""Text that reaches a mail header or an SMS body."""

import re

__all__ = ["clean"]

# C0 controls (CR and LF among them), DEL, line/paragraph separators, and bidi overrides/isolates, which
# can make an address or a link read differently from what it is.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def clean(value: object) -> str:
    """``value`` as one line with unsafe characters replaced by a space."""
    return " ".join(_UNSAFE.sub(" ", str(value)).split())
