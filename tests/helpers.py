"""Shared test helpers: waiting on conditions, word error rate, a real daemon process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import jiwer

from earwig import formatting
from earwig import protocol as p
from earwig.client import DaemonClient
from earwig.errors import DaemonNotAnswering, DaemonNotRunning

T = TypeVar("T")
R = TypeVar("R")


def wait_for(
    condition: Callable[[], T | Literal[False] | None],
    timeout: float = 60.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """Poll `condition` until it returns something truthy, and return that (so a condition
    that answers None or False until then gives its real value); fail with `what` after
    `timeout`. A daemon that does not answer in time (a loaded machine) counts as "not yet",
    never as the test's failure: the deadline decides."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (DaemonNotRunning, DaemonNotAnswering, ConnectionError, FileNotFoundError) as exc:
            value, last_exc = None, exc
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}: {last_exc}")


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalise(reference), normalise(hypothesis))


class DaemonProcess:
    """`earwig run` as a real subprocess on a private config, socket and database."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._socket: Path | None = None

    @property
    def socket(self) -> Path:
        if self._socket is None:
            from earwig import config

            self._socket = config.load(self.config_path).socket_path
        return self._socket

    def start(self, wait: bool = True, args: tuple[str, ...] = ()) -> DaemonProcess:
        """Start `earwig run` (with `args`, such as `--http ADDR`); with `wait`, until it
        answers on its socket."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "earwig", "--config", str(self.config_path), "run", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=daemon_env(),
        )
        log.close()
        if wait:
            wait_for(self.is_ready, 120, what="the daemon to answer on its socket")
        return self

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The `earwig run` process (started: a test that asks before start() is wrong)."""
        assert self.proc is not None, "the daemon was not started"
        return self.proc

    def is_ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
        with DaemonClient(self.socket, timeout=5) as client:
            return bool(client.call(p.GetStatus()))

    def client(self) -> DaemonClient:
        client = DaemonClient(self.socket, timeout=30)
        client.connect()
        return client

    def call(self, request: p.Request[R]) -> R:
        with self.client() as client:
            return client.call(request)

    def jobs(self) -> list[p.JobView]:
        return sorted(self.call(p.ListJobs())["jobs"], key=lambda j: j["id"])

    def wait_job(
        self, predicate: Callable[[p.JobView], bool], timeout: float = 120, what: str = ""
    ) -> p.JobView:
        return wait_for(
            lambda: next((j for j in self.jobs() if predicate(j)), None), timeout, what=what
        )

    def wait_idle(self, count: int, timeout: float = 180) -> list[p.JobView]:
        """Wait until `count` jobs exist and none is queued or running."""

        def settled() -> list[p.JobView] | None:
            jobs = self.jobs()
            busy = [j for j in jobs if j["state"] in ("queued", *formatting.RUNNING)]
            return jobs if len(jobs) >= count and not busy else None

        return wait_for(settled, timeout, what=f"{count} settled jobs")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the daemon and wait for it to exit; one that outlives `timeout` is killed
        (and the wait's TimeoutExpired raised), so a slow stop never leaves it running."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)

    def finish(self) -> None:
        """The fixtures' finaliser: whatever the test did, no daemon of it outlives it."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def http(self, timeout: float = 60) -> dict[str, str]:
        """The HTTP server's address once it listens: {"url", "listen", "token", ...}."""
        state = wait_for(
            lambda: (h := self.call(p.GetStatus())["http"]).get("state") == "listening" and h,
            timeout,
            what="the HTTP server to listen",
        )
        from earwig import config
        from earwig.web.token import token_path

        state_dir = config.load(self.config_path).daemon.state_dir
        return {**state, "token": token_path(state_dir).read_text().strip()}  # type: ignore[dict-item]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def stop_daemons_using(config_path: Path) -> list[int]:
    """Kill every `earwig run` started with `config_path` that still runs (the dashboard's
    `S` and `earwig web` start daemons a test holds no handle on); return their pids."""
    wanted = str(config_path)
    killed: list[int] = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if "run" in words and wanted in words and any("earwig" in w for w in words):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(int(entry.name))
    return killed


def daemon_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    env.pop("EARWIG_CONFIG", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    config_path: Path, *args: str, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "earwig", "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=daemon_env(),
        cwd=cwd,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def folder_for_all_users(prefix: str) -> Path:
    """A new folder (0755) that other users of this machine can reach, for tests that run
    as two users: pytest's own temporary folders are root's (0700). /var/tmp first: other
    tests have been seen to leave /tmp itself 0700 on shared machines."""
    import stat
    import tempfile

    for base in (Path("/var/tmp"), Path("/tmp")):
        chain = [base, *base.parents]
        if all(p.is_dir() and p.stat().st_mode & stat.S_IXOTH for p in chain):
            folder = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            folder.chmod(0o755)
            return folder
    raise AssertionError("neither /var/tmp nor /tmp can be reached by other users (chmod 1777)")
