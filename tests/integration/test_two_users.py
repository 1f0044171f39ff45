"""Two real users of this machine: earwig runs as one, a media server as the other.

The transcripts and the subtitles beside a film follow earwig's umask, so the other user
reads them (as Jellyfin running as `jellyfin` must read Film.en.srt); `[output] mode` says
otherwise when asked; the token, the database, the log and the config stay the first user's
alone. Users are made with useradd and removed afterwards, so this needs root: CI runs as
root, and there it is never skipped.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import make_video
from helpers import folder_for_all_users, wait_for

NEEDS_ROOT = "making users needs root (CI runs as root, where this test always runs)"
if os.geteuid() != 0 or not shutil.which("useradd"):
    if os.environ.get("CI"):
        pytest.fail(f"tests/integration/test_two_users.py: {NEEDS_ROOT}", pytrace=False)
    pytest.skip(NEEDS_ROOT, allow_module_level=True)


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int

    def argv(self, *argv: str, python: bool = False) -> list[str]:
        """`argv` run as this user (no other groups). `python`: this machine's interpreter
        may lie under a folder only root can enter (pyenv in /root), so the process keeps
        one capability, to reach it: reading and searching folders. It changes nothing that
        is measured here (what the process creates, and what the *other* user can read)."""
        reach = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        user = [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        return ["setpriv", *user, *(reach if python else []), "--", *argv]

    def run(self, *argv: str, python: bool = False, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*argv, python=python), capture_output=True, text=True, **kwargs
        )

    def can_read(self, path: Path) -> bool:
        return self.run("cat", str(path)).returncode == 0


def make_user(name: str) -> User:
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/false", name],
        check=True,
        capture_output=True,
    )
    entry = pwd.getpwnam(name)
    return User(name, entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="module")
def users() -> Iterator[tuple[User, User]]:
    """`earwig` runs as the first; the second stands for a media server's user."""
    suffix = os.urandom(3).hex()
    made: list[User] = []
    try:
        made.append(make_user(f"ew-daemon-{suffix}"))
        made.append(make_user(f"ew-media-{suffix}"))
        yield made[0], made[1]
    finally:
        for user in made:
            subprocess.run(["userdel", user.name], capture_output=True)


@pytest.fixture
def place(users: tuple[User, User]) -> Iterator[Path]:
    """A folder both users can reach (pytest's own temporary folders are root's, 0700)."""
    owner = users[0]
    root = folder_for_all_users("ew-modes-")
    try:
        for name in ("watch", "library", "out", "state", "models", "run"):
            (root / name).mkdir()
            os.chown(root / name, owner.uid, owner.gid)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write_config(root: Path, output: str = "") -> Path:
    config = root / "config.toml"
    config.write_text(
        f"""
[daemon]
database = "{root / "state" / "earwig.db"}"
state_dir = "{root / "state"}"
socket = "{root / "run" / "earwig.sock"}"
stable_after = "0.5s"

[transcribe]
threads = 2
models_dir = "{root / "models"}"

[output]
dir = "{root / "out"}"
{output}

[http]
listen = "127.0.0.1:0"

[[watch]]
path = "{root / "watch"}"

[[watch]]
path = "{root / "library"}"
output = "beside"
"""
    )
    return config


def test_another_user_reads_the_transcripts_and_subtitles_but_no_secret(
    users: tuple[User, User], place: Path, speech_wav: Path, second_wav: Path
) -> None:
    earwig, media_server = users
    config = write_config(place)
    os.chown(config, earwig.uid, earwig.gid)
    config.chmod(0o600)
    log = (place / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        earwig.argv(sys.executable, "-m", "earwig", "--config", str(config), "run", python=True),
        umask=0o022,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(place), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    log.close()
    try:
        shutil.copy(speech_wav, place / "watch" / "meeting.wav")
        make_video(second_wav, place / "library" / "Film (2019).mkv")
        transcript = place / "out" / "meeting.txt"
        subtitle = place / "library" / "Film (2019).en.srt"

        def written() -> bool:
            assert daemon.poll() is None, (place / "daemon.log").read_text()
            return transcript.exists() and subtitle.exists()

        wait_for(written, 300, interval=0.5, what="the transcript and the film's subtitles")
        for path in (transcript, place / "out" / "meeting.srt", subtitle):
            info = path.stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (earwig.uid, 0o644), path
            assert media_server.can_read(path), path
        assert "morning" in media_server.run("cat", str(subtitle)).stdout.lower()

        token = place / "state" / "http-token"
        wait_for(token.exists, 60, what="the HTTP token")
        secrets = [token, place / "state" / "earwig.db", place / "state" / "earwig.log", config]
        for path in secrets:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert path.stat().st_uid == earwig.uid, path
            assert not media_server.can_read(path), path
    finally:
        daemon.terminate()
        daemon.wait(60)


def test_output_mode_says_otherwise_than_the_umask(
    users: tuple[User, User], place: Path, speech_wav: Path
) -> None:
    """`earwig transcribe` as the first user: a private umask keeps the transcript from the
    second; `[output] mode = "0644"` hands it over whatever the umask."""
    earwig, media_server = users
    shutil.copy(speech_wav, place / "meeting.wav")
    for output, expected, readable in (("", 0o600, False), ('mode = "0644"', 0o644, True)):
        config = write_config(place, output)
        done = earwig.run(
            sys.executable,
            "-m",
            "earwig",
            "--config",
            str(config),
            "transcribe",
            str(place / "meeting.wav"),
            "--format",
            "txt",
            python=True,
            umask=0o077,
            env={**os.environ, "HOME": str(place), "PYTHONDONTWRITEBYTECODE": "1"},
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        transcript = place / "out" / "meeting.txt"
        assert stat.S_IMODE(transcript.stat().st_mode) == expected
        assert media_server.can_read(transcript) is readable
        transcript.unlink()
