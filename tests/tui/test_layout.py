"""The dashboard's modules import one another in one direction only (no circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import earwig.tui

TUI = Path(earwig.tui.__file__).parent


def runtime_imports(path: Path) -> set[str]:
    """The earwig.tui modules `path` imports when it runs (not those under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "earwig.tui":
                    found.update(f"earwig.tui.{a.name}" for a in node.names)
                elif node.module.startswith("earwig.tui."):
                    found.add(node.module)
            for field in ("body", "orelse", "finalbody", "handlers"):
                visit([n for n in getattr(node, field, []) if isinstance(n, ast.stmt)])

    visit(tree.body)
    return found


def test_no_module_of_the_dashboard_imports_itself_back() -> None:
    graph = {f"earwig.tui.{p.stem}": runtime_imports(p) for p in TUI.glob("*.py")}

    def reaches(start: str, node: str, seen: set[str]) -> bool:
        for nxt in graph.get(node, ()):
            if nxt == start:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(start, nxt, seen):
                    return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, set()))
    assert not circles, f"import circle through {circles}"
    assert "earwig.tui.queue" in graph["earwig.tui.app"]  # the tabs are plain imports
