"""A daemon that never silently stops: each case is a fault that once left part of it dead
while `earwig status` said all was well. Real daemon process, real files, real sockets,
real HTTP servers on 127.0.0.1, a real second SQLite connection holding the write lock."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol
from earwig import protocol as p
from helpers import run_cli, wait_for
from httpserver import LocalServer, rss

BAD_NAME = b"caf\xe9 latin-1.wav"  # a name written by an old Windows share: not UTF-8


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def parts(daemon) -> dict:
    return daemon.call(p.GetStatus())["parts"]


def test_names_that_are_not_utf8_never_stop_the_watcher(
    home: Home, speech_wav: Path, second_wav: Path
) -> None:
    shutil.copy(
        os.fsencode(speech_wav), os.path.join(os.fsencode(home.watch), BAD_NAME)
    )  # there at start
    daemon = home.daemon().start()
    try:
        wait_for(lambda: "ready" in daemon.log(), 30, what="the ready line")
        shutil.copy(speech_wav, home.watch / "first.wav")
        daemon.wait_job(lambda j: j["title"] == "first.wav" and j["state"] == "done", 120)
        # one arriving while running, then a good file after it
        shutil.copy(
            os.fsencode(speech_wav), os.path.join(os.fsencode(home.watch), b"\xff\xfe odd.wav")
        )
        shutil.copy(second_wav, home.watch / "second.wav")
        daemon.wait_job(lambda j: j["title"] == "second.wav" and j["state"] == "done", 120)
        assert all(p["state"] == "running" and not p["restarts"] for p in parts(daemon).values()), (
            parts(daemon)
        )
        logs = run_cli(home.config, "logs", "-n", "100").stdout
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "earwig",
                "--config",
                str(home.config),
                "add",
                os.path.join(os.fsencode(home.watch), BAD_NAME),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        started = time.monotonic()
        assert daemon.stop() == 0
        stopped_in = time.monotonic() - started
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.kill()
    assert "not valid UTF-8" in logs and "caf\\xe9" in logs
    assert added.returncode == 1 and "not valid UTF-8" in added.stderr
    assert "Traceback" not in added.stderr
    assert stopped_in < 20


def test_one_malformed_inbox_line_spoils_nothing(home: Home) -> None:
    inbox = home.watch / "inbox.txt"
    inbox.write_text("http://127.0.0.1:9/one.mp3\nhttp://[::1\nhttp://127.0.0.1:9/two.mp3\n")
    daemon = home.daemon().start()
    try:
        jobs = wait_for(lambda: len(j := daemon.jobs()) == 3 and j, 30, what="three jobs")
        wait_for(
            lambda: not list(home.watch.glob("inbox.txt.claimed-*")),
            30,
            what="the claimed inbox to be finished",
        )
        inbox.write_text("http://127.0.0.1:9/three.mp3\n")  # and it keeps working
        wait_for(lambda: len(daemon.jobs()) == 4, 30, what="the next inbox line")
    finally:
        daemon.kill()
    bad = next(j for j in jobs if j["url"] is None)
    assert bad["state"] == "failed" and "not a URL" in (bad["error"] or "")
    assert {j["url"] for j in jobs if j["url"]} == {
        "http://127.0.0.1:9/one.mp3",
        "http://127.0.0.1:9/two.mp3",
    }
    assert len((home.watch / "inbox.done").read_text().splitlines()) >= 3


def test_a_watch_folder_removed_and_made_again_is_watched_again(
    home: Home, speech_wav: Path
) -> None:
    daemon = home.daemon().start()
    try:
        shutil.rmtree(home.watch)
        wait_for(
            lambda: "is gone" in run_cli(home.config, "logs").stdout,
            30,
            what="the gone folder in the log",
        )
        home.watch.mkdir()
        wait_for(
            lambda: "is back" in run_cli(home.config, "logs").stdout,
            30,
            what="the folder back in the log",
        )
        shutil.copy(speech_wav, home.watch / "after.wav")
        (job,) = daemon.wait_idle(1)
    finally:
        daemon.kill()
    assert job["title"] == "after.wav" and job["state"] == "done"


def test_a_database_error_while_saving_puts_the_job_back(home: Home, long_wav: Path) -> None:
    daemon = home.daemon().start()
    try:
        shutil.copy(long_wav, home.watch / "long.wav")
        daemon.wait_job(lambda j: j["state"] == "transcribing", 60)
        # Another process takes the write lock and keeps it: every write the daemon tries
        # fails after its busy timeout with "database is locked", as on a full disk.
        holder = sqlite3.connect(home.state / "earwig.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            restarted = wait_for(
                lambda: parts(daemon)["runner"]["restarts"] >= 1 and parts(daemon),
                120,
                what="the runner's failure to show in status",
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        shown = run_cli(home.config, "status").stdout
        (job,) = daemon.wait_idle(1, timeout=240)
        logs = run_cli(home.config, "logs", "-n", "200").stdout
    finally:
        daemon.kill()
    assert "locked" in restarted["runner"]["last_error"]
    assert "problem" in shown and "runner" in shown
    assert job["state"] == "done", job
    assert "back in the queue after a database error" in logs


def test_slow_feeds_never_stall_the_daemon(home: Home, speech_wav: Path) -> None:
    # Four hosts on the loopback range, two feeds each: eight checks at once (more than
    # asyncio's default thread pool has on 2 cores), every one dripping a byte every 2 s.
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LocalServer(f"127.0.0.{i}")) for i in range(2, 6)]
        feeds = ""
        for n, server in enumerate(servers):
            for k in range(2):
                url = server.add(
                    f"/slow{k}.xml", body=rss([]), content_type="application/rss+xml", drip=2.0
                )
                feeds += f'\n[[subscription]]\nname = "slow{n}{k}"\nurl = "{url}"\nevery = "1d"\n'
        home.write_config(extra=feeds)
        daemon = home.daemon().start()
        try:
            wait_for(
                lambda: sum(s.count() for s in servers) >= 8, 30, what="all eight checks to start"
            )
            shutil.copy(speech_wav, home.watch / "meanwhile.wav")
            job = daemon.wait_job(lambda j: j["title"] == "meanwhile.wav", 15)
            daemon.wait_job(lambda j: j["id"] == job["id"] and j["state"] == "done", 120)

            def all_failed() -> list[p.SubscriptionView] | None:
                subs = daemon.call(p.GetStatus())["subscriptions"]
                return subs if all(s["last_error"] for s in subs) else None

            subs = wait_for(all_failed, 60, what="every slow feed to fail within its deadline")
            started = time.monotonic()
            assert daemon.stop() == 0
            stopped_in = time.monotonic() - started
        finally:
            if daemon.proc and daemon.proc.poll() is None:
                daemon.kill()
    errors = [s["last_error"] or "" for s in subs]
    assert all("too slow" in e or "in time" in e for e in errors), subs
    assert stopped_in < 30


def test_a_client_that_never_reads_does_not_block_the_others(daemon) -> None:
    flood = socket.socket(socket.AF_UNIX)
    flood.connect(str(daemon.socket))
    flood.sendall(protocol.encode(protocol.hello()))
    request = protocol.encode({"id": 1, "type": "status", "params": {}})
    flood.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 20
    while sent < 900 and time.monotonic() < deadline:  # until the daemon stops reading us
        try:
            flood.send(request)
            sent += 1
        except BlockingIOError:
            time.sleep(0.01)
    try:
        out = run_cli(daemon.config_path, "status", timeout=30)
        assert out.returncode == 0 and "running" in out.stdout
        assert rss_mb(daemon.proc.pid) < 400
    finally:
        flood.close()


def test_hostile_messages_get_answers_not_dropped_connections(daemon) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    reader = sock.makefile("rb")
    sock.sendall(protocol.encode(protocol.hello()))
    assert json.loads(reader.readline())["type"] == "welcome"
    bad = [
        b"[" * 1000 + b"]" * 1000 + b"\n",
        protocol.encode({"id": 2, "type": "job.get", "params": {"id": 2**70}}),
        protocol.encode({"id": 3, "type": "jobs.list", "params": {"limit": 1.5}}),
        protocol.encode({"id": 4, "type": "jobs.list", "params": {"offset": 2**70}}),
        protocol.encode({"id": 5, "type": "subscribe", "params": {"topics": [[1]]}}),
    ]
    for line in bad:
        sock.sendall(line)
        reply = json.loads(reader.readline())
        assert reply["ok"] is False and reply["error"]["code"] != "internal", reply
    sock.sendall(protocol.encode({"id": 6, "type": "status", "params": {}}))
    assert json.loads(reader.readline())["ok"] is True  # the same connection still works
    sock.close()


def test_a_damaged_database_is_reported_at_start(home: Home) -> None:
    daemon = home.daemon().start()
    for i in range(200):
        daemon.call(p.AddJobs(paths=[f"http://127.0.0.1:9/{i}.mp3"]))
    daemon.stop()
    db = home.state / "earwig.db"
    assert (db.stat().st_mode & 0o777) == 0o600
    with db.open("r+b") as fh:  # garbage over a page in the middle
        fh.seek(8 * 4096)
        fh.write(os.urandom(4096))
    out = run_cli(home.config, "run", timeout=60)
    assert out.returncode != 0 and "damaged" in out.stderr and ".recover" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_unwritable_output_folder_fails_before_transcription(
    home: Home, speech_wav: Path
) -> None:
    if os.geteuid() == 0:
        # root writes through mode bits: a file where the folder should be stops root too
        home.out.parent.mkdir(parents=True, exist_ok=True)
        home.out.write_text("not a folder")
    else:
        home.out.mkdir(parents=True)
        home.out.chmod(0o500)
    daemon = home.daemon().start()
    try:
        shutil.copy(speech_wav, home.watch / "talk.wav")
        (job,) = daemon.wait_idle(1)
    finally:
        daemon.kill()
    assert job["state"] == "failed" and "cannot write transcripts" in (job["error"] or ""), job
    assert "transcribing" not in job["times"]  # it never started the long part


@pytest.mark.parametrize("spelling", ["127.1", "2130706433", "localhost"])
def test_other_spellings_of_a_host_share_its_limit(spelling: str) -> None:
    from earwig.sources.errors import host_of

    assert host_of(f"http://{spelling}:8000/a.mp3") == host_of("http://127.0.0.1/b.mp3")
