"""The package's import graph, read from its source, and the layer each module belongs to.

``python -m tests.architecture`` prints who imports whom, the layer of each module, the import cycles and
the imports that point up the stack or sideways between two surfaces; tests/test_architecture.py asserts
there are none. Every ``import`` counts, the ones inside functions too: a late import is still a
dependency, only hidden.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "magiclink_auth"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Highest first. A module may import from its own layer or below, never from above. Surfaces are the ways in
# (HTTP, admin, the auth backend, commands); "wiring" is what Django loads to assemble the app.
LAYERS = ("wiring", "surfaces", "services", "core")

# Module (or package, covering all below it) -> layer. The longest matching prefix wins.
LAYER_OF = {
    "apps": "wiring",
    "checks": "wiring",
    "urls": "wiring",
    "api": "surfaces",
    "web": "surfaces",
    "admin": "surfaces",
    "middleware": "surfaces",
    "backends": "surfaces",
    "management": "surfaces",
    "templatetags": "surfaces",
    "flows": "services",
    "deactivation": "services",
    "existing_users": "services",
    "managed_users": "services",
    "management_keys": "services",
    "tenants": "services",
    "account_changes": "services",
    "issuance": "services",
    "crossdevice": "services",
    "enchanted": "core",
    "sessions": "services",
    "limits": "services",
    "pumping": "services",
    "throttling": "services",
    "elevation": "services",
    "notices": "services",
    "users": "services",
    "cleanup": "services",
    "tokens": "core",
    "counters": "core",
    "ratelimit": "core",
    "network": "core",
    "agents": "core",
    "outages": "core",
    "reporting": "core",
    # The app's cookies: their names and attributes; set on responses by the surfaces, read by the limits.
    "cookies": "core",
    # The claims' cache, asked by the adapter.
    "authz": "core",
    "keys": "core",
    "jwts": "core",
    "identifiers": "core",
    "redirects": "core",
    "delivery": "core",
    "tasks": "core",
    "sealing": "core",
    "text": "core",
    "audit": "core",
    "models": "core",
    # Hot-path queries compiled once, used by the core modules (tokens, tasks, users).
    "prepared": "core",
    "errors": "core",
    "conf": "core",
    "signals": "core",
    "adapter": "core",
    "migrations": "core",
}

# Surfaces sit side by side and share only what is below them: api/ never imports web/, nor the reverse.
# Each entry is one surface; a module that is not in a package is its own.
SURFACE_GROUPS = ("api", "web", "admin", "management")


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join([PACKAGE, *parts])] = path
    return names


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found |= {".".join(parts[:end]) for end in range(len(parts), 0, -1)
                          if ".".join(parts[:end]) in known}
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            for alias in node.names:
                # `from .x import y` imports the module x.y when there is one, otherwise a name of x.
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
    return {name for name in found if name in known and name != module}


def graph() -> dict[str, set[str]]:
    names = module_names()
    known = set(names)
    return {module: imports_of(module, path, known) for module, path in names.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]
    for end in range(len(parts), 0, -1):
        layer = LAYER_OF.get(".".join(parts[:end]))
        if layer:
            return layer
    if not parts:
        return "core"
    raise LookupError(f"{module} has no layer: add it to LAYER_OF in tests/architecture.py")


def _surface(module: str) -> str | None:
    parts = module.split(".")[1:]
    return parts[0] if parts and parts[0] in SURFACE_GROUPS else None


def upward_imports(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    rank = {layer: index for index, layer in enumerate(LAYERS)}
    bad = []
    for source, targets in edges.items():
        for target in targets:
            if rank[layer_of(target)] < rank[layer_of(source)]:
                bad.append((source, target))
    return sorted(bad)


def sideways_imports(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from one surface into another (api/ -> web/, admin/ -> api/, ...)."""
    bad = []
    for source, targets in edges.items():
        for target in targets:
            if layer_of(source) == layer_of(target) == "surfaces" and _surface(target) and (
                    _surface(source) != _surface(target)):
                bad.append((source, target))
    return sorted(bad)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def _short(module: str) -> str:
    return module[len(PACKAGE) + 1:] or PACKAGE


def report() -> str:
    edges = {module: targets for module, targets in graph().items() if ".migrations" not in module}
    lines = ["# magiclink_auth import graph (module [layer] -> modules it imports)"]
    for layer in LAYERS:
        lines.append(f"\n## {layer}")
        for module in sorted(edges):
            if layer_of(module) == layer:
                targets = ", ".join(_short(t) for t in sorted(edges[module])) or "-"
                lines.append(f"{_short(module)} -> {targets}")
    found = cycles(edges)
    lines.append(f"\n## cycles: {len(found)}")
    lines += ["  " + " <-> ".join(_short(m) for m in component) for component in found]
    up = upward_imports(edges)
    lines.append(f"\n## upward imports: {len(up)}")
    lines += [f"  {_short(a)} [{layer_of(a)}] -> {_short(b)} [{layer_of(b)}]" for a, b in up]
    side = sideways_imports(edges)
    lines.append(f"\n## imports between surfaces: {len(side)}")
    lines += [f"  {_short(a)} -> {_short(b)}" for a, b in side]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
