"""Every `earwig ...` command line in the shell blocks of the README and of docs/ runs, as
written, against a real daemon with a small fixture: exit 0 and no traceback. A new line that
is neither run here nor set aside below with a reason fails the test, and so does a set-aside
line that no document shows any more, so the documents cannot drift."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from conftest import Home, encode
from earwig import protocol as p
from helpers import run_cli, wait_for
from hubserver import Hub

ROOT = Path(__file__).parents[2]
# The README first (its tour drops the file the later lines talk about), then docs/ by name.
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Lines that are not run here, and why (each is exercised elsewhere or cannot be here).
SET_ASIDE = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && earwig run": (
        "the install command; `earwig run` is the daemon below"
    ),
    "earwig add https://www.youtube.com/watch?v=jNQXAC9IVRw": (
        "needs the network; test_urls_and_subscriptions.py adds URLs served on loopback"
    ),
    "earwig subscribe https://example.org/podcast.xml --every 6h --backfill 3": (
        "needs the network; test_urls_and_subscriptions.py subscribes to feeds on loopback"
    ),
    "earwig": "the dashboard needs a terminal: tests/tui drives it with Pilot",
    "earwig service install": "changes the user's service manager; --dry-run runs below",
    "earwig service uninstall": "changes the user's service manager",
    "earwig service status": "asks the user's service manager (absent here)",
    "EARWIG_HTTP_TRUST=192.168.1.0/24,10.0.0.5 earwig config check": (
        "sets variables first; tests/unit/test_config_env.py reads the same ones"
    ),
    **dict.fromkeys(
        [
            "docker build -t earwig .",
            "docker run -d --name earwig -e PUID=1000 -e PGID=1000 -p 8327:8327 -v ./config:/config"
            " -v ./data:/data -v ./watch:/watch -v ./transcripts:/transcripts"
            " --restart unless-stopped earwig",
            "docker exec -it earwig earwig",
            "docker exec earwig earwig token",
        ],
        "Docker is not here: tests/container/test_image.py builds the image and runs it the same"
        " way with podman (PUID/PGID, the four volumes, the port, the dashboard through exec)",
    ),
    "docker run -d --name earwig --gpus all -e PUID=1000 -e PGID=1000 -p 8327:8327"
    " -v ./config:/config -v ./data:/data -v ./watch:/watch -v ./transcripts:/transcripts"
    " earwig:cuda": "needs an NVIDIA GPU and its container toolkit (neither is here)",
}


def documented_commands() -> list[str]:
    """The `earwig` lines of every ```sh block, in document order, each once."""
    lines: dict[str, None] = {}
    for document in DOCUMENTS:
        for block in re.findall(r"```sh\n(.*?)```", document.read_text(), re.S):
            for line in block.splitlines():
                command = line.split("  #", 1)[0].strip()
                if command.startswith("earwig") or " earwig " in command:
                    lines[command] = None
    return list(lines)


def test_every_command_line_in_the_docs_works(
    hub: Hub, home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    commands = documented_commands()
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
                daemon.call(p.GetJob(id=1))["job"]["model"] == "base"
                and daemon.call(p.GetJob(id=1))["job"]["state"] == "done"
            ),
            180,
            what="job 1 redone with base",
        )
    finally:
        assert daemon.stop() == 0
    assert set(SET_ASIDE) <= set(commands), "a set-aside line is no longer in any document"
