"""The HTTP token: made on first need, kept 0600 in the state directory.

Every HTTP request carries it (Bearer, or the cookie that `/?token=` sets) unless it comes
from a network the user trusts: loopback is shared by every local user, so a port on
127.0.0.1 alone would let any of them read your transcripts (Jupyter's reasoning).
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
from pathlib import Path

NAME = "http-token"
LOGIN_PAGE = "web-login.html"


def token_path(state_dir: Path) -> Path:
    return state_dir / NAME


def load_or_create(state_dir: Path) -> str:
    """The token, made (atomically, 0600) if there is none yet."""
    path = token_path(state_dir)
    with contextlib.suppress(FileNotFoundError):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{NAME}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
    try:
        os.link(tmp, path)  # never replaces a token another process made meanwhile
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    finally:
        tmp.unlink(missing_ok=True)
    return token


def login_page(state_dir: Path, link: str) -> Path:
    """A page (0600, beside the token) that sends the browser on to the login `link`, for
    `earwig web` to open: a browser started with the link itself has the token on its
    command line, which every local user reads in `ps`; with this file, only its path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOGIN_PAGE
    href = html.escape(link, quote=True)
    page = (
        '<!doctype html><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={href}"><title>earwig</title>'
        f'<p><a href="{href}">Open earwig</a></p>\n'
    )
    tmp = path.with_name(f".{LOGIN_PAGE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(page)
    os.replace(tmp, path)
    return path
