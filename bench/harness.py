"""What the benchmarks share: a real `earwig run` on a private config, and waiting on a
condition with a deadline. One way to start a daemon, so every benchmark measures the same
daemon set up the same way (its own socket, database and state folder; no XDG_RUNTIME_DIR;
ready when its socket answers), and a failed start says why instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from earwig import protocol as p
from earwig.client import DaemonClient
from earwig.errors import DaemonNotRunning

T = TypeVar("T")
R = TypeVar("R")


def wait(condition: Callable[[], T | None], timeout: float = 600.0, interval: float = 0.02) -> T:
    """Poll `condition` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (DaemonNotRunning, OSError):  # not up yet (no socket, refused, timed out)
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {condition}")


class Daemon:
    """`earwig run` under `root`: the config is written from the sections given (TOML text
    per section, e.g. transcribe='threads = 2'), watching `root/in` and writing `root/out`.

    with Daemon(root, transcribe="threads = 2") as daemon:
        daemon.call(p.ListJobs())
    """

    def __init__(
        self,
        root: Path,
        *,
        stable_after: str = "0.5s",
        transcribe: str = "",
        output: str = "",
        extra: str = "",
        http: str = 'listen = ""',  # the [http] table (default: no HTTP server, on no port)
        log: Path | None = None,
    ) -> None:
        self.root, self.watch, self.out = root, root / "in", root / "out"
        self.watch.mkdir(parents=True, exist_ok=True)
        self.socket = root / "s" / "earwig.sock"
        self.config = root / "config.toml"
        self.config.write_text(
            f'[daemon]\ndatabase = "{root}/e.db"\nstate_dir = "{root}/state"\n'
            f'socket = "{self.socket}"\nstable_after = "{stable_after}"\n'
            f"[transcribe]\n{transcribe}\n"
            f'[output]\ndir = "{self.out}"\n{output}\n'
            f"[http]\n{http}\n"
            f'[[watch]]\npath = "{self.watch}"\n{extra}'
        )
        self.log = log or root / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Daemon:
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "earwig", "--config", str(self.config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=self.root,  # its relative paths (none today) land in its own folder
            )

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the daemon exited: {self.log.read_text()[-2000:]}")
            with DaemonClient(self.socket, timeout=5) as client:
                return bool(client.call(p.GetStatus()))

        wait(answers, timeout, 0.1)
        return self

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.proc is not None, "start() it first"
        return self.proc

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, request: p.Request[R], timeout: float = 30.0) -> R:
        with DaemonClient(self.socket, timeout=timeout) as client:
            return client.call(request)

    def jobs(self, limit: int = 1000) -> list[p.JobView]:
        return self.call(p.ListJobs(limit=limit))["jobs"]

    def stop(self, timeout: float = 120.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout)

    def __enter__(self) -> Daemon:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
