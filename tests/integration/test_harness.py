"""The test harness's own promise: no daemon a test started outlives it, whatever the test did
(a failed assertion, a timeout, a daemon the dashboard's `S` started with no handle kept)."""

from __future__ import annotations

import subprocess
import sys

from conftest import Home
from earwig import protocol as p
from helpers import DaemonProcess, daemon_env, wait_for


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] not in "ZX"  # a zombie has stopped
    except OSError:
        return False


def test_a_home_stops_every_daemon_on_its_config(home: Home) -> None:
    tracked = home.daemon().start()
    pid = tracked.process.pid
    home.finish()  # what the `home` fixture's finaliser calls, pass or fail
    assert tracked.process.poll() is not None and not running(pid)

    # one started as the dashboard's `S` starts it: its own session, no handle in the test
    untracked = subprocess.Popen(
        [sys.executable, "-m", "earwig", "--config", str(home.config), "run"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=daemon_env(),
    )
    try:
        answers = DaemonProcess(home.config, home.root / "probe.log").call
        wait_for(lambda: answers(p.GetStatus())["pid"] == untracked.pid, 120, what="it to answer")
        home.finish()
        assert untracked.wait(30) is not None
    finally:
        if untracked.poll() is None:
            untracked.kill()
            untracked.wait(30)
