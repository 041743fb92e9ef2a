"""README's SDK method table is complete and true: every path the SDKs call has a row (read from the SDKs'
own endpoint lists), and each row's "supported" says what this server really does with the path."""

from __future__ import annotations

import re

import pytest
from django.urls import Resolver404, resolve

from tests.conftest import PROJECT_ID
from tests.sdk_endpoints import NODE_DIST, node_paths, python_paths
from tests.test_docs import README

NOT_SERVED = {"not-found", "mgmt-not-supported"}
WILDCARD = "`/v1/mgmt/*`, `/v2/mgmt/*`"


def table() -> dict[str, str]:
    section = README.split("## SDK methods\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `/v") and len(cells) == 4 and not line.startswith(f"| {WILDCARD}"):
            rows[cells[0].strip("`")] = cells[3]
    return rows


def expand(path: str) -> list[str]:
    """``/a/{email,sms}`` -> both paths; placeholders get a sample value."""
    match = re.search(r"\{([a-z-]+(?:,[a-z-]+)+)\}", path)
    if match:
        return [path[:match.start()] + choice + path[match.end():] for choice in match.group(1).split(",")]
    if path == "/v2/keys":
        return [f"/v2/keys/{PROJECT_ID}"]
    return [path.replace("{provider}", "google")]


def served(path: str) -> bool:
    try:
        return resolve(path).url_name not in NOT_SERVED
    except Resolver404:
        return False


def test_the_sdks_endpoint_lists_were_read():
    assert all(dist.is_file() for dist in NODE_DIST), "run `npm ci --prefix tests/node`"
    assert len(python_paths()) > 100 and len(node_paths()) > 100
    assert "/v1/auth/enchantedlink/verify" in python_paths() & node_paths()


def test_every_sdk_path_has_a_row():
    rows = table()
    assert f"| {WILDCARD} " in README
    missing = set()
    for path in python_paths() | node_paths():
        covered = any(row == path or row.startswith(path + "/") for row in rows)
        if not covered and not (re.match(r"^/v[12]/mgmt/", path) and not served(path)):
            missing.add(path)
    assert missing == set()


@pytest.mark.parametrize("row", sorted(table()))
def test_each_row_says_whether_the_path_is_served(row):
    supported = table()[row]
    assert supported in {"yes", "no"}
    assert all(served(path) == (supported == "yes") for path in expand(row)), row
