"""Writes docs/cli.md, the command reference, from the click commands themselves, so the
reference cannot say what the code does not do: `python scripts/cli_reference.py` after
changing a command or an option (tests/unit/test_docs.py fails while docs/cli.md is stale;
`--check` says so without writing)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from earwig.cli import main

TARGET = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = 100  # fixed, so the text does not depend on the terminal it was generated in

PREAMBLE = """\
# Command reference

Generated from the code by `python scripts/cli_reference.py`: do not edit by hand
(`tests/unit/test_docs.py` fails when this file is out of date).

Every command takes `--config PATH` (or the `EARWIG_CONFIG` variable), before or after its
name. Exit codes: 0 ok, 1 error (the message says what and what to do), 2 a wrong option or
argument, 3 daemon not running, 78 a bad config file (`EX_CONFIG`; the systemd unit does not
restart on it). Commands that only talk to a running daemon (`earwig status`, `earwig jobs`,
`earwig logs`, `earwig add`...) still work when the config file has a mistake: they warn and
reach the daemon, which keeps running on its last good config.
"""


def walk(ctx: click.Context) -> Iterator[click.Context]:
    """Every visible command under `ctx`, depth first, in name order."""
    yield ctx
    command = ctx.command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(click.Context(sub, info_name=name, parent=ctx))


def render() -> str:
    root = click.Context(main, info_name="earwig", terminal_width=WIDTH, max_content_width=WIDTH)
    contexts = list(walk(root))
    out = [PREAMBLE.rstrip(), ""]
    for ctx in contexts[1:]:
        out.append(f"- [`{ctx.command_path}`](#{ctx.command_path.replace(' ', '-')})")
    for ctx in contexts:
        out += ["", f"## {ctx.command_path}", "", "```text", ctx.get_help().rstrip(), "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv[1:]:
        if TARGET.read_text() != text:
            sys.exit(f"{TARGET} is out of date: run python scripts/cli_reference.py")
    else:
        TARGET.write_text(text)
