"""Every `earwig ...` command line that earwig prints (hints, errors) or a document shows (the
README, CONTRIBUTING.md, docs/) names commands and options that exist: hints must never send
people to `earwig service stop`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from earwig.cli import main

ROOT = Path(__file__).parents[2]
QUOTED = re.compile(r"`(earwig(?: [^`]*)?)`")


def resolve(line: str) -> str | None:
    """None if `line` is a command earwig has, with options it takes; else what is wrong."""
    for sign in ("...", "\\|", "|", "[", "]"):
        line = line.replace(sign, " ")
    words = shlex.split(line)[1:]
    command: click.Command = main
    ctx = click.Context(main)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(ctx, words[0])
        if sub is None:
            if command is main or not command.invoke_without_command:
                return f"no command {words[0]!r} in {line!r}"
            break
        command, words = sub, words[1:]
    known = {
        opt
        for p in command.params
        for opt in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))
    }
    for word in words:
        option = word.split("=", 1)[0]
        if option.startswith("--") and option not in known:
            return f"{command.name} has no option {option} (in {line!r})"
    return None


def quoted_in_source() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "src" / "earwig").rglob("*.py")):
        text = path.read_text()
        # adjacent string literals ("...`earwig " "retry`") join as Python would join them
        text = re.sub(r'"\s*\n\s*(?:f|rf)?"', "", text)
        for match in QUOTED.finditer(text):
            found.append((str(path.relative_to(ROOT)), match.group(1)))
    return found


DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def quoted_in_documents() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), m.group(1))
        for path in DOCUMENTS
        for m in QUOTED.finditer(path.read_text())
    ]


@pytest.mark.parametrize(("where", "line"), quoted_in_source() + quoted_in_documents())
def test_every_command_a_hint_names_exists(where: str, line: str) -> None:
    if "{" in line:  # an f-string: check the command words before the first field
        line = line.split("{", 1)[0].strip()
    problem = resolve(line)
    assert problem is None, f"{where}: {problem}"


def test_the_checker_catches_a_command_that_does_not_exist() -> None:
    assert resolve("earwig service stop") is not None
    assert resolve("earwig jobs --bogus") is not None
    assert resolve("earwig retry 3 --model base") is None


def _commands(group: click.Group, prefix: str = "earwig") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
    return found


@pytest.mark.parametrize(("name", "command"), _commands(main))
def test_every_summary_in_help_is_a_whole_sentence(name: str, command: click.Command) -> None:
    """`earwig --help` lists each command by its first sentence, which click ends at the
    first ". ": an abbreviation there ("e.g.") cut `export` and `speakers name` short."""
    summary = command.get_short_help_str(limit=10_000)
    assert not re.search(r"\b(e\.g|i\.e|etc|vs)\.$", summary), f"{name}: {summary!r}"
