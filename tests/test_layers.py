"""Layers point one way: no import cycles, and no module imports a layer above its own (issue 30).

Imports are read from the source (ast), function-level ones included; those under `if TYPE_CHECKING:`
are for annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("rag", "ui", "eval")
# From the bottom: a module may import its own layer and those below it.
LAYERS = (
    ("rag.text", "rag.config", "rag.tokenization", "rag.runtime", "rag.embedding", "rag.models", "rag.trust"),
    ("rag.schema",),
    ("rag.index",),
    ("rag.query",),
    ("rag.answering",),
    ("rag.pipeline",),
    ("rag.cli", "ui", "eval"),  # `rag eval` runs eval's suite; eval never imports the CLI (no cycle)
)
# Upward imports that were there before this test, each to be removed, never to be added to.
KNOWN_UPWARD = {
    ("rag.schema", "rag.query.question_source"),
    ("rag.schema", "rag.query.question_time"),
    ("rag.schema", "rag.query.roles"),
    ("rag.text", "rag.index.chunking"),
    ("rag.text", "rag.index.lexical"),
    ("rag.index.index_keeper", "rag.query.answer_type"),
    ("rag.index.index_keeper", "rag.query.entities"),
    ("rag.index.index_keeper", "rag.query.question_scope"),
    ("rag.index.index_keeper", "rag.query.reader"),
    ("rag.index.index_keeper", "rag.query.reader_model"),
    ("rag.index.index_keeper", "rag.query.retrieve"),
    ("rag.index.index_keeper", "rag.query.span_reader"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        found |= _imports(node)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module of the packages: the modules of the packages it imports."""
    sources = {_module(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    return {
        module: {name for name in _imports(ast.parse(path.read_text(encoding="utf-8"))) if name in sources and name != module}
        for module, path in sources.items()
    }


def _layer(module: str) -> int:
    return next(n for n, names in enumerate(LAYERS) for name in names if module == name or module.startswith(name + "."))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_no_module_imports_a_layer_above_its_own():
    upward = {(module, target) for module, targets in import_graph().items() for target in targets if _layer(target) > _layer(module)}
    assert upward - KNOWN_UPWARD == set(), "a new import points upward"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
