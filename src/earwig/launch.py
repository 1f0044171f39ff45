"""How earwig starts things outside itself: its own daemon (the service files and the
dashboard's `S` key) and the desktop's opener for a transcript. Argument lists, never a shell."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def daemon_command(config_path: Path | None) -> list[str]:
    """`earwig run` by this interpreter, so the same environment (venv, pipx) runs it."""
    argv = [sys.executable, "-m", "earwig"]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    return [*argv, "run"]


def open_with_system(path: Path) -> str | None:
    """Open a file or folder with the desktop's opener; returns an error message or None."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(opener) is None:
        return f"no {opener} here: open {path} yourself"
    subprocess.Popen(
        [opener, str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return None
