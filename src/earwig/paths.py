"""Every default location earwig uses, in one place.

Defaults follow each platform's conventions through platformdirs; the config file can move any
of them. The socket prefers $XDG_RUNTIME_DIR (per-user, 0700, cleaned at logout) and falls back
to a private directory under the state dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "earwig"
CONFIG_ENV = "EARWIG_CONFIG"


def default_config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_database_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "earwig.db"


def default_models_dir() -> Path:
    """Models earwig made itself (whisper.cpp files converted from the bundled model)."""
    return Path(platformdirs.user_data_dir(APP)) / "models"


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP))


def default_media_dir() -> Path:
    """Downloaded media waiting for (or kept after) transcription."""
    return Path(platformdirs.user_cache_dir(APP)) / "media"


def default_socket_path(state_dir: Path) -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / APP if runtime else state_dir / "run"
    return base / "earwig.sock"


def default_watch_dir() -> Path:
    return Path.home() / "Transcribe"


def default_output_dir() -> Path:
    return Path.home() / "Transcripts"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make the leaf 0700: the socket and lock live here."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
