"""The benchmarks under bench/ run outside the suite: a name they import from the app that is renamed or
removed would only show when somebody next runs them, as it did once (sessions.start_session)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def app_imports():
    for script in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(), str(script))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "magiclink_auth":
                for alias in node.names:
                    yield pytest.param(node.module, alias.name, id=f"{script.name}:{node.module}.{alias.name}")


@pytest.mark.parametrize(("module", "name"), list(app_imports()))
def test_every_name_a_benchmark_imports_from_the_app_exists(module, name):
    assert hasattr(importlib.import_module(module), name), f"bench imports {module}.{name}, which is gone"
