"""The layout holds: no import circles, the Graph adapter does not import the emulator, the
emulator (the independent judge) imports nothing from the product but the clock, and every
module opens with a docstring saying its job."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """module -> reconciler modules it imports (any place in the file, lazy ones too)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # a package's __init__ importing its own submodules is not a circle of modules
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles() -> None:
    assert _cycle(_imports()) is None


def test_graph_adapter_does_not_import_the_emulator() -> None:
    graph = _imports()
    offenders = {m: sorted(i for i in deps if i.startswith("reconciler.emulator"))
                 for m, deps in graph.items() if m.startswith("reconciler.graph")}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_emulator_imports_only_the_clock_from_the_product() -> None:
    graph = _imports()
    offenders = {
        m: sorted(i for i in deps if not i.startswith("reconciler.emulator")
                  and i != "reconciler.clock")
        for m, deps in graph.items() if m.startswith("reconciler.emulator")
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def test_every_module_says_its_job() -> None:
    missing = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []
