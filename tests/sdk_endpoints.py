"""The paths the official SDKs call, read from the SDKs themselves: the Python SDK's endpoint classes
(``EndpointsV1``, ``EndpointsV2``, ``MgmtV1``) and every path string in the Node SDK's built files."""

from __future__ import annotations

import re
from pathlib import Path

NODE_DIST = [
    Path(__file__).parent / "node" / "node_modules" / "@descope" / package / "dist" / "cjs" / "index.cjs.js"
    for package in ("core-js-sdk", "node-sdk")
]
PATH_STRING = re.compile(r"""["'`](/?v[12]/[A-Za-z0-9/_{}.-]+)["'`]""")


def python_paths() -> set[str]:
    from descope.common import EndpointsV1, EndpointsV2
    from descope.management.common import MgmtV1

    return {value for holder in (EndpointsV1, EndpointsV2, MgmtV1) for value in vars(holder).values()
            if isinstance(value, str) and value.startswith("/v")}


def node_paths() -> set[str]:
    return {"/" + found.lstrip("/") for dist in NODE_DIST if dist.is_file()
            for found in PATH_STRING.findall(dist.read_text())}
