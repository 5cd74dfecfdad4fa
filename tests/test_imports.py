"""Imports run one way: no module of an app imports, even lazily, one that imports it back, and
xpmsync's modules import only modules of their own layer or below."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ["accounts", "clients", "xpmsync", "gapportal", "devtools"]

# xpmsync from the top down (README, "Architecture"): a module may import its own layer or lower.
XPMSYNC_LAYERS = [
    {"views", "urls", "admin", "context_processors", "apps", "management"},
    {"panel"},
    {"connection", "review", "oauth"},
    {"tasks"},
    {"sync", "schedule"},
    {"credentials", "mirror"},
    {"values", "summary", "bulk", "progress", "timeline", "safety", "ratelimit", "run_limits"},
    {"parse"},
    {"api", "identity", "fields", "models", "tokens"},
]


def modules(app: str) -> dict[str, Path]:
    """The app's modules by dotted name, migrations aside."""
    found = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[dotted.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The app's modules that ``name`` imports anywhere in its file, function bodies included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(app: str) -> dict[str, set[str]]:
    mods = modules(app)
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycle_in(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle, as a list of modules, or [] if there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


@pytest.mark.parametrize("app", APPS)
def test_no_app_has_an_import_cycle(app):
    assert cycle_in(graph(app)) == []


def test_the_cycle_finder_finds_a_lazy_import_back():
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    source = "def f():\n    from .api import x\n"
    path = ROOT / "tests" / "_probe.py"
    path.write_text(source)
    try:
        assert imports_of("xpmsync.sync", path, {"xpmsync.api", "xpmsync.sync"}) == {"xpmsync.api"}
    finally:
        path.unlink()


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for rank, layer in enumerate(XPMSYNC_LAYERS):
        if top in layer:
            return rank
    raise AssertionError(f"{module} has no layer in XPMSYNC_LAYERS: place it")


def test_xpmsync_imports_only_downwards():
    upward = []
    for module, targets in graph("xpmsync").items():
        if module == "xpmsync" or module.startswith("xpmsync.sandbox"):
            continue  # the sandbox stands in for Xero; it reads only the field table
        for target in targets:
            if target.startswith("xpmsync.sandbox") or target == "xpmsync":
                continue
            if _layer(target) < _layer(module):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_xpmsync_module_is_over_400_lines():
    long = {
        name: len(path.read_text().splitlines())
        for name, path in modules("xpmsync").items()
        if len(path.read_text().splitlines()) > 400
    }
    assert long == {}
