"""The shape of the sdk, read from its sources (ast): imports go one way, modules and functions
stay small enough to read.

Layers, lowest first; a module may import its own layer and those below it, never above:

    core       the data model, the notebook pipeline steps, lint, render, annotations
    build      labelbook.build: notebook -> Guide -> findings -> documents
    releases   labelbook.releases.*
    argilla    labelbook.argilla.* (and labelbook.server.*, which only the CLI starts)
    pipelines  labelbook.pipelines.*: stages are published and pulled through the adapter
    cli        labelbook.cli

Function-level (lazy) imports count: they are dependencies all the same. `labelbook` itself
(the package's __init__) is the public face and may name anything, lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

SDK = Path(__file__).resolve().parents[3] / "sdk"
PACKAGE = SDK / "labelbook"

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(SDK).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str) -> set[str]:
    """Every labelbook module `path` imports, at any depth in the file."""
    modules = _modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from .x import y: relative to the package, one level up per extra dot
                parts = package.split(".")
                base = ".".join(p for p in [*parts[: len(parts) - node.level + 1], base] if p)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("labelbook") and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    return {name: _imports(path, name) for name, path in _modules().items()}


def _layer(module: str) -> int:
    if module == "labelbook.cli" or module.startswith("labelbook.cli."):
        return 5
    if module == "labelbook.pipelines" or module.startswith("labelbook.pipelines."):
        return 4
    if module.startswith(("labelbook.argilla", "labelbook.server")):
        return 3
    if module.startswith("labelbook.releases"):
        return 2
    if module == "labelbook.build":
        return 1
    return 0


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle among the modules (empty when there is none), by depth-first search."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_among_labelbook_modules() -> None:
    graph = {name: deps for name, deps in _graph().items() if name != "labelbook"}
    graph = {name: {d for d in deps if d != "labelbook"} for name, deps in graph.items()}
    assert _cycle(graph) == []


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = _graph()
    assert "labelbook.lint" in graph["labelbook.build"]  # a module-level import
    assert "labelbook.render" in graph["labelbook.releases.changelog"]
    assert "labelbook.markup" in graph["labelbook.outline"]
    assert "labelbook.outline" in graph["labelbook.notebook"]


def test_imports_go_one_way_core_build_releases_argilla_pipelines_cli() -> None:
    upward = sorted(
        f"{name} imports {dep}"
        for name, deps in _graph().items()
        if name != "labelbook"
        for dep in deps
        if dep != "labelbook" and _layer(dep) > _layer(name)
    )
    assert upward == []


def test_the_data_model_imports_only_errors_and_itself() -> None:
    graph = _graph()
    assert graph["labelbook.guide"] <= {"labelbook.task", "labelbook.errors"} | {
        m for m in graph if m.startswith("labelbook.task.")
    }
    assert graph["labelbook.markup"] == set(), "markup is a leaf"


def _lines(node: ast.AST) -> int:
    return int(getattr(node, "end_lineno", 0)) - int(getattr(node, "lineno", 0)) + 1


def _functions(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((name, _lines(child)))
                walk(child, f"{name}.")

    walk(ast.parse(path.read_text(encoding="utf-8")), f"{path.relative_to(SDK)}:")
    return found


def test_no_function_is_over_80_lines() -> None:
    long = sorted(
        f"{name} ({lines} lines)"
        for path in PACKAGE.rglob("*.py")
        for name, lines in _functions(path)
        if lines > MAX_FUNCTION_LINES
    )
    assert long == []


def test_no_module_is_over_600_lines() -> None:
    long = sorted(
        f"{path.relative_to(SDK)} ({n} lines)"
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    )
    assert long == []
