"""The rooms' boundaries, read from the source with ``ast``: no import cycles, no upward imports,
modules of one idea each."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "raysynth"
# Rooms below the experiment level never import the rooms that resolve or run an experiment.
LOWER_ROOMS = (
    "raysynth.generate", "raysynth.train", "raysynth.datasets", "raysynth.generators", "raysynth.quality",
)  # fmt: skip
UPPER_ROOMS = ("raysynth.sweep", "raysynth.inputs")
MAX_LINES = 300
SCHEMA_MODULES = {"raysynth.config"}  # declarative schemas may be longer


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, at module level or inside functions (not TYPE_CHECKING)."""
    found: set[str] = set()

    def target(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("raysynth"):
                    found.add(target(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("raysynth"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else target(node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, set(known)) - {name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_upward_imports():
    upward = [
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if name.startswith(LOWER_ROOMS)
        for target in targets
        if target.startswith(UPPER_ROOMS)
    ]
    assert not upward, upward


def test_the_generation_job_does_not_import_the_sweep():
    known = set(modules())
    assert not {
        t for t in imports_of(REPO_ROOT / "jobs" / "generate.py", known) if t.startswith("raysynth.sweep")
    }


def test_modules_hold_one_idea():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES and name not in SCHEMA_MODULES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
