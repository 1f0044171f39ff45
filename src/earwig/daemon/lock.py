"""One daemon per socket: an flock on a file next to the socket.

A lock, not a pid file: the kernel drops it when the process dies, even by kill -9, so a crash
never leaves a stale "already running". The pid written inside is only for the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from earwig.errors import AlreadyRunning
from earwig.paths import ensure_private_dir


class InstanceLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, socket_path: Path) -> None:
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"earwig is already running (pid {pid}) on {socket_path}",
                "stop it first (`kill " + pid + "`, or `systemctl --user stop earwig` when "
                "it runs as a service), "
                "or give this one another [daemon] socket",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
