"""The documents keep their word: the README opens with the two commands and stays short, CI
runs exactly the README's test command, docs/cli.md is what the code would generate, and
every relative link leads to a file. (The command lines themselves are run in
tests/integration/test_doc_commands.py and resolved in tests/unit/test_cli_hints.py.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def readme_commands() -> list[str]:
    """The lines of the README's first code block, without their comments."""
    block = re.search(r"```sh\n(.*?)```", README.read_text(), re.S)
    assert block is not None and README.read_text().index("```sh") < 20
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]


def test_the_readme_opens_with_install_and_test_and_stays_short() -> None:
    install, test = readme_commands()
    # PEP 668 systems refuse a bare `pip install .`: the venv is made in the same line.
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install .")
    assert install.endswith("earwig run")
    assert test.startswith(". .venv/bin/activate && pip install '.[test]'")
    for gate in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert f"python -m {gate}" in test
    assert len(README.read_bytes()) < 16_000


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    _, test = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == test


def test_the_command_reference_is_current() -> None:
    script = ROOT / "scripts" / "cli_reference.py"
    spec = importlib.util.spec_from_file_location("cli_reference", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == module.render(), "docs/cli.md is stale: run python scripts/cli_reference.py"
    assert "## earwig status" in current and "--json" in current


def test_every_relative_link_leads_to_a_file() -> None:
    broken = []
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (document.parent / target).resolve()
            if not path.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert not broken, broken
