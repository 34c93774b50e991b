"""ternadmin's modules import downwards only, and never in a circle.

Layers, lowest first: each module may import its own layer and those below it, never one
above. Tables and words are at the root, pages last, so the path of a reclaim reads straight
down: view → service → claims → drive → engine. The layers follow the project's layout (README,
"How it is put together"); a module that is in none of them fails the test until it is placed.

Read from the source with ``ast`` (nothing is imported): every ``import`` counts for the layers,
including those inside functions; only imports a module runs when it is loaded (not inside a
function, not under ``TYPE_CHECKING``) count for circles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO_ROOT

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "tables and words",
        (
            "applies.models",
            "applies.fields",
            "applies.states",
            "applies.vocabulary",
            "applies.windows",
            "applies.lines",
            "applies.dbclock",
            "applies.db",
            "applies.schema",
            "applies.inputs",
            "applies.redact",
            "applies.durations",
            "applies.roles",
            "applies.owners",
            "applies.paginators",
            "applies.api_tokens",
            # Which engines ternadmin drives: settings only, so what sits below the engines
            # (classification) may ask it too.
            "applies.engines.driven",
        ),
    ),
    (
        "claims",
        (
            "applies.clauses",
            "applies.operation_clauses",
            "applies.candidates",
            "applies.leases",
            "applies.target_lock",
            "applies.claims",
            "applies.operation_claims",
            "applies.stop_reconciliation",
            "applies.expiry",
            "applies.classify",
        ),
    ),
    ("engines", ("applies.engines",)),
    ("drives", ("applies.recovery", "applies.drives")),
    (
        "scheduled work",
        ("applies.sweep", "applies.brake", "applies.schedules", "applies.metrics", "applies.tasks"),
    ),
    ("services", ("applies.services",)),
    ("selectors", ("applies.selectors",)),
    (
        "pages",
        (
            "applies.presentation",
            "applies.forms",
            "applies.filters",
            "applies.tables",
            "applies.templatetags",
            "applies.views",
            "applies.api",
            "applies.admin",
            "applies.ops_views",
            "applies.middleware",
            "applies.context_processors",
            "applies.logins",
            "applies.urls",
            "applies.ops_urls",
        ),
    ),
    ("wiring and tools", ("applies.apps", "applies.checks", "applies.management", "applies.demo")),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    at_load: bool  # run when the importer is loaded (not in a function, not for typing only)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((REPO_ROOT / "applies").rglob("*.py")):
        name = module_name(path)
        if name != "applies" and ".migrations" not in name:  # the package itself is empty
            found[name] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, importer: str, known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".")
        is_package = known.get(importer, Path()).name == "__init__.py"
        keep = len(package) - node.level + (1 if is_package else 0)
        base = ".".join([*package[:keep], *([base] if base else [])])
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    nodes: list[ast.stmt], at_load: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, at_load
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, False)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk(node.body, False)
            yield from _walk(node.orelse, at_load)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    statements = [
                        c for c in children if isinstance(c, ast.stmt | ast.excepthandler)
                    ]
                    yield from _walk(statements, at_load)  # type: ignore[arg-type]


def imports() -> list[Import]:
    known = modules()
    found = []
    for importer, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, at_load in _walk(tree.body, True):
            for target in _targets(node, importer, known):
                if target.startswith("applies") and target in known and target != importer:
                    found.append(Import(importer, target, at_load))
    return found


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return best[1] if best else None


def test_every_module_has_a_layer() -> None:
    assert [name for name in modules() if layer_of(name) is None] == []


def test_modules_import_only_their_own_layer_and_those_below() -> None:
    upward = {}
    for edge in imports():
        low, high = layer_of(edge.importer), layer_of(edge.imported)
        assert low is not None and high is not None
        if high > low:
            upward[edge.importer, edge.imported] = f"{LAYERS[low][0]} → {LAYERS[high][0]}"
    assert upward == {}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle in ``graph`` (as the modules along it), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_in_a_circle_when_loaded() -> None:
    graph: dict[str, set[str]] = {}
    for edge in imports():
        if edge.at_load:
            graph.setdefault(edge.importer, set()).add(edge.imported)
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def test_the_consoles_views_and_the_api_read_through_selectors() -> None:
    """``applies.selectors``: "Views never build querysets of their own"."""
    pages = [
        name
        for name in modules()
        if name in ("applies.views", "applies.api") or name.startswith("applies.api.")
    ]
    assert pages and [name for name in pages if ".objects" in modules()[name].read_text()] == []
