"""Every `earwig ...` command line in the README's code blocks runs, as written, against a
real daemon with a small fixture: exit 0 and no traceback. A new README line that is neither
run here nor set aside below with a reason fails the test, so the README cannot drift."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from conftest import Home, encode
from helpers import run_cli, wait_for
from hubserver import Hub

README = Path(__file__).parents[2] / "README.md"

# Lines that are not run here, and why (each is exercised elsewhere or cannot be here).
SET_ASIDE = {
    "pip install . && earwig run": "the install command; `earwig run` is the daemon below",
    "earwig": "the dashboard needs a terminal: tests/tui drives it with Pilot",
    "earwig service install": "changes the user's service manager; --dry-run runs below",
    "earwig service uninstall": "changes the user's service manager",
    "earwig service status": "asks the user's service manager (absent here)",
}


def readme_commands() -> list[str]:
    text = README.read_text()
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("earwig") or " earwig " in command:
                lines.append(command)
    return lines


def test_every_command_line_in_the_readme_works(
    hub: Hub, home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    commands = readme_commands()
    assert len(commands) > 10 and "earwig status" in commands
    work = tmp_path / "work"
    work.mkdir()
    encode(speech_wav, work / "talk.mp3", "mp3")
    daemon = home.daemon().start()  # `earwig run`, on the test's private config
    try:
        shutil.copy(work / "talk.mp3", home.watch / "talk.mp3")  # `cp talk.mp3 ~/Transcribe/`
        wait_for(lambda: [j for j in daemon.jobs() if j["state"] == "done"], 120, what="job 1")
        for command in commands:
            if command in SET_ASIDE:
                continue
            args = shlex.split(command)[1:]
            out = run_cli(home.config, *args, cwd=work, timeout=300)
            assert out.returncode == 0, (command, out.stdout[-2000:], out.stderr[-2000:])
            assert "Traceback" not in out.stderr, (command, out.stderr)
        # `earwig retry --done-with tiny.en --model base` really re-transcribed job 1
        wait_for(
            lambda: (
                daemon.call("job.get", id=1)["job"]["model"] == "base"
                and daemon.call("job.get", id=1)["job"]["state"] == "done"
            ),
            180,
            what="job 1 redone with base",
        )
    finally:
        assert daemon.stop() == 0
    assert set(SET_ASIDE) <= set(commands), "a set-aside line is no longer in the README"
