"""The layers of the whole package, as rules on its imports (every import counts: at the top,
inside a function, under TYPE_CHECKING), read from the source with `ast`:

1. the core (every module outside daemon/, web/, tui/, cli.py and the daemon's services:
   model, jobs, protocol, store, config, transcribe/, sources/, ...) imports none of daemon/,
   web/, tui/, cli; a service package of the daemon (SERVICES: mediaservers/) may use
   daemon/ but never web/, tui/ or cli;
2. web/ never names earwig.daemon.app, even for types: it is typed against web/host.Host;
3. daemon/ imports no tui/ and no cli, and web/ only from app.py's composition root (one
   import, inside a function, so a daemon without [http] never loads the HTTP stack); no
   module of daemon/ but app.py imports app.py;
4. tui/ reaches the daemon only through client and protocol: no daemon/, web/, store;
5. cli.py imports daemon/ only in the `run` command (it starts the daemon) and of web/ only
   web/token.py (`earwig token`, `earwig web`);
6. each door of web/doors/ stands alone: none imports another (a new door is one module).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"
PACKAGE = SRC / "earwig"
OUTER = ("daemon", "web", "tui", "cli", "__main__")
SERVICES = ("mediaservers",)  # packages that are parts of the daemon, outside daemon/


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    name: str  # what it imports, dotted (a module, or module.attribute)
    function: str | None  # the enclosing function, if any
    line: int


def module_name(path: Path, root: Path = SRC) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path, root: Path = SRC) -> list[Import]:
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, function or child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from the package up
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.append(Import(module, base, function, child.lineno))
                found.extend(
                    Import(module, f"{base}.{a.name}", function, child.lineno) for a in child.names
                )
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


@functools.cache
def all_imports() -> list[Import]:
    return [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_rules_see_every_kind_of_import(tmp_path: Path) -> None:
    """The reader itself: TYPE_CHECKING, functions and relative imports all count."""
    sample = tmp_path / "earwig" / "web" / "probe.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from earwig.daemon.app import Daemon\n"
        "def f():\n    from ..daemon import app\n",
        encoding="utf-8",
    )
    names = {(i.name, i.function) for i in imports_of(sample, tmp_path)}
    assert ("earwig.daemon.app.Daemon", None) in names
    assert ("earwig.daemon.app", "f") in names


def test_core_imports_no_outer_layer() -> None:
    outer = ("earwig.daemon", "earwig.web", "earwig.tui", "earwig.cli")
    bad = [
        i
        for i in all_imports()
        if layer(i.module) not in (*OUTER, *SERVICES) and under(i.name, *outer)
    ]
    assert not bad, bad


def test_the_daemons_services_stay_behind_the_daemon() -> None:
    bad = [
        i
        for i in all_imports()
        if layer(i.module) in SERVICES and under(i.name, "earwig.web", "earwig.tui", "earwig.cli")
    ]
    assert not bad, bad


def test_web_never_names_the_daemons_wiring() -> None:
    bad = [
        i for i in all_imports() if layer(i.module) == "web" and under(i.name, "earwig.daemon.app")
    ]
    assert not bad, bad
    for path in (PACKAGE / "web").rglob("*.py"):
        assert "earwig.daemon.app" not in path.read_text(encoding="utf-8"), path


def test_daemon_reaches_web_only_from_its_composition_root() -> None:
    found = [i for i in all_imports() if layer(i.module) == "daemon"]
    assert not [i for i in found if under(i.name, "earwig.tui", "earwig.cli")]
    into_web = [i for i in found if under(i.name, "earwig.web")]
    assert {(i.module, i.function) for i in into_web} == {("earwig.daemon.app", "_start_http")}
    wiring = [
        i for i in found if under(i.name, "earwig.daemon.app") and i.module != "earwig.daemon.app"
    ]
    assert not wiring, wiring


def test_tui_reaches_the_daemon_only_through_client_and_protocol() -> None:
    bad = [
        i
        for i in all_imports()
        if layer(i.module) == "tui"
        and under(i.name, "earwig.daemon", "earwig.web", "earwig.store", "earwig.cli")
    ]
    assert not bad, bad


def test_cli_starts_the_daemon_and_otherwise_talks_to_it() -> None:
    found = [i for i in all_imports() if i.module == "earwig.cli"]
    daemon = {i.function for i in found if under(i.name, "earwig.daemon")}
    assert daemon == {"run"}, daemon
    web = {i.name for i in found if under(i.name, "earwig.web")}
    token = {"earwig.web.token", "earwig.web.token.load_or_create", "earwig.web.token.login_page"}
    assert web <= token, web  # the token, and the login page `earwig web` opens


def test_each_door_stands_alone() -> None:
    doors = {module_name(p) for p in (PACKAGE / "web" / "doors").glob("*.py")} - {
        "earwig.web.doors"
    }
    bad = [i for i in all_imports() if i.module in doors and under(i.name, *doors)]
    assert not bad, bad


def test_the_house_map_names_every_module() -> None:
    """docs/architecture.md names each module that exists: as `pkg/name.py`, or as `name.py`
    in its package's row of the module table (a new module without a line there fails)."""
    doc = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line.split("|") for line in doc.splitlines() if line.startswith("| `")]
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name in ("__init__.py", "__main__.py") or rel.as_posix() in doc:
            continue
        package = "/".join(rel.parts[:-1])
        named = [r for r in rows if f"`{package}/" in r[1]] if package else []
        if not any(f"`{rel.name}`" in "|".join(r) for r in named) and not (
            not package and f"`{rel.name}`" in doc
        ):
            missing.append(rel.as_posix())
    assert not missing, f"docs/architecture.md does not name {missing}"
    packages = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py")}
    for package in packages - {"__init__.py"}:
        assert f"`{package.removesuffix('/__init__.py')}/" in doc, package
