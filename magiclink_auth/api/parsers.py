"""The JSON parser of our endpoints: DRF's, refusing what would crash code further in rather than parse it.

- Nesting deeper than ``MAX_DEPTH``: ``json`` raises ``RecursionError`` (not ``ValueError``) on a body of
  a few thousand ``[``, which DRF's parser lets through as a 500.
- NUL and lone surrogates in any string or key: PostgreSQL cannot store either, and a surrogate cannot
  even be encoded to UTF-8, so a value that reaches a JSON field or a log line becomes a 500.
"""

from __future__ import annotations

import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ..errors import ErrorKey, MagicLinkError

__all__ = ["StrictJSONParser", "MAX_DEPTH"]

MAX_DEPTH = 16


_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")


def _is_unsafe(text: str) -> bool:
    return _NUL_OR_SURROGATE.search(text) is not None


def check_value(data) -> None:
    """Raise unless ``data`` nests at most ``MAX_DEPTH`` deep and holds no NUL or lone surrogate."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError("JSON nested too deeply")
        if isinstance(value, str):
            if _is_unsafe(value):
                raise MagicLinkError(ErrorKey.INVALID_ARGUMENTS, "A string holds a NUL or a lone surrogate")
        elif isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
        check_value(data)
        return data
