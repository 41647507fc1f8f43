"""The shape of the house (docs/architecture.md): arrows only point down (web → evaluation → crypto,
web → signaling → crypto), no import circle anywhere, no module over 600 lines.

Every import counts, wherever it is written: at module level, inside a function, or under
``if TYPE_CHECKING`` — an import moved into a function still ties the two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crypto", "evaluation", "signaling", "web")
ALLOWED = {
    "crypto": {"crypto"},
    "evaluation": {"evaluation", "crypto"},
    "signaling": {"signaling", "crypto"},
    "web": set(PACKAGES),
}
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imported_modules(path: Path) -> Iterator[str]:
    """Every dotted name `path` imports, relative imports resolved. ``from m import n`` gives
    ``m.n`` when that is a module of the project, else ``m`` (n is a name in m's namespace)."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def resolve(name: str) -> str | None:
    """The project module `name` names (or the nearest enclosing one), None outside the project."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def edges(module: str) -> set[str]:
    """The project modules `module` imports, itself excepted."""
    found = {target for name in imported_modules(MODULES[module]) if (target := resolve(name))}
    found.discard(module)
    return found


GRAPH = {m: edges(m) for m in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package: str) -> None:
    wrong = {
        module: sorted({t.split(".")[0] for t in targets} - ALLOWED[package])
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package and {t.split(".")[0] for t in targets} - ALLOWED[package]
    }
    assert wrong == {}


def test_no_import_circles() -> None:
    assert cycles(GRAPH) == []


def test_the_circle_finder_finds_circles() -> None:
    """The check above could pass by finding nothing: a known circle, and an import inside a
    function, must be found."""
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert "evaluation.db" in GRAPH["evaluation.accounts.tables"]


def test_a_package_import_of_a_name_points_at_its_init() -> None:
    """``from evaluation.audit import AuditLog`` depends on evaluation/audit/__init__.py, which
    imports its modules: written inside evaluation/audit/, that is a circle."""
    assert "evaluation.audit" in GRAPH["web.app"] or "evaluation.audit.log" in GRAPH["web.contexts"]
    assert {"evaluation.audit.log", "evaluation.audit.entry"} <= GRAPH["evaluation.audit"]


def test_modules_stay_small() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


PURE = (
    "evaluation.tenders.rules",
    "evaluation.tenders.lots",
    "evaluation.tenders.criteria",
    "evaluation.tenders.collusion",
    "evaluation.tenders.bid_container",
    "evaluation.experts.draw",
    "evaluation.experts.avoidance",
    "evaluation.experts.committee",
    "evaluation.experts.plan",
    "evaluation.experts.pool_csv",
    "evaluation.session.scoring",
    "evaluation.session.tally",
    "evaluation.session.rules",
    "evaluation.audit.entry",
    "evaluation.inputs",
)
"""The rules, kept pure (docs/architecture.md): plain values in, plain values out."""
PURE_MAY_USE = {*PURE, "evaluation.errors"}
IMPURE_LIBRARIES = ("sqlalchemy", "aiohttp", "asyncio", "aiosqlite", "asyncpg", "redis")


@pytest.mark.parametrize("module", PURE)
def test_rules_stay_pure(module: str) -> None:
    names = set(imported_modules(MODULES[module]))
    project = {t for n in names if (t := resolve(n)) and not t.startswith("crypto")}
    libraries = {n.split(".")[0] for n in names} & set(IMPURE_LIBRARIES)
    assert (sorted(project - PURE_MAY_USE), sorted(libraries)) == ([], [])


FEATURE_ORDER = ("evaluation.session", "evaluation.experts", "evaluation.tenders", "evaluation.audit")
"""Features of evaluation/ from the top: each may import those after it, never those before."""


@pytest.mark.parametrize("position", range(1, len(FEATURE_ORDER)))
def test_features_import_downward(position: int) -> None:
    feature, above = FEATURE_ORDER[position], FEATURE_ORDER[:position]
    upward = {
        module: sorted(t for t in targets if t.startswith(above))
        for module, targets in GRAPH.items()
        if module.startswith(feature) and any(t.startswith(above) for t in targets)
    }
    assert upward == {}
