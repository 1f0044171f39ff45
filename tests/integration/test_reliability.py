"""Nothing lost, nothing leaked, nothing stuck (issue 29): each test is a real user's bad day,
played on real parts: a real daemon process, a real small tmpfs filled and freed, the real
database file removed under it, real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Home
from helpers import run_cli, wait_for


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A real, small filesystem at `where` (root only: tests run as root in CI)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the tests as root)")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)])
    if done.returncode != 0:
        pytest.skip("this machine does not let root mount a tmpfs (a container without it)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the filesystem says it is full; return it (delete it to free)."""
    filler = folder / "filler.bin"
    with contextlib.suppress(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    return filler


def test_a_full_output_disk_waits_and_heals_by_itself(home: Home, speech_wav: Path) -> None:
    with small_tmpfs(home.out):
        filler = fill(home.out)
        daemon = home.daemon().start()
        try:
            shutil.copy(speech_wav, home.watch / "talk.wav")
            job = daemon.wait_job(
                lambda j: "disk space" in (j.get("waiting") or ""), 120, what="the job to wait"
            )
            shown = run_cli(home.config, "status").stdout
            listed = run_cli(home.config, "jobs").stdout
            assert job["state"] == "queued" and job["attempts"] == 0, job
            filler.unlink()  # space again: no `earwig retry`
            (done,) = daemon.wait_idle(1, timeout=120)
            leftovers = [p.name for p in home.out.iterdir() if p.name.startswith(".")]
        finally:
            daemon.kill()
    print(shown)
    assert f"the disk is full: cannot write to {home.out}" in shown, shown
    assert "No space left on device" in shown
    assert "the disk is full" in listed and "talk.wav" in listed, listed
    assert done["state"] == "done", done
    assert {Path(p).suffix for p in done["outputs"]} >= {".txt", ".json"}
    assert leftovers == []  # no temporary or half-written file


def test_the_database_removed_under_a_running_daemon_stops_work(
    home: Home, speech_wav: Path
) -> None:
    daemon = home.daemon().start()
    db = home.state / "earwig.db"
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        status = wait_for(
            lambda: (s := daemon.call("status"))["problems"] and s, 30, what="the loss to show"
        )
        shown = run_cli(home.config, "status").stdout
        shutil.copy(speech_wav, home.watch / "talk.wav")
        added = daemon.call("job.add", paths=[str(home.watch / "talk.wav")])
    finally:
        daemon.kill()
    print(shown)
    assert status["healthy"] is False
    assert f"the database {db} was removed while earwig was running" in shown
    assert "takes no new work" in shown
    assert "takes no new work" in added["results"][0]["error"]
    assert "CRITICAL" in daemon.log() and "was removed" in daemon.log()
    assert not db.exists()  # nothing was quietly made in its place


def test_an_empty_database_beside_old_transcripts_asks_first(home: Home, speech_wav: Path) -> None:
    home.out.mkdir(parents=True)
    for i in range(12):  # what an earlier earwig wrote, before its database was lost
        doc = {"source": str(home.watch / f"old-{i}.wav"), "title": f"old {i}", "segments": []}
        (home.out / f"old-{i}.json").write_text(json.dumps(doc, indent=2))
        (home.out / f"old-{i}.txt").write_text("said before\n")
    shutil.copy(speech_wav, home.watch / "talk.wav")
    daemon = home.daemon().start()
    try:
        job = daemon.wait_job(lambda j: j["state"] == "queued", 60, what="the file to be queued")
        status = daemon.call("status")
        shown = run_cli(home.config, "status").stdout
        assert daemon.call("job.get", id=job["id"])["job"]["state"] == "queued"
        run_cli(home.config, "resume")  # the user says: go ahead
        (done,) = daemon.wait_idle(1)
    finally:
        daemon.kill()
    print(shown)
    assert status["queue_paused"] is True
    assert "holds 12 transcripts earwig wrote: its history looks lost" in shown
    assert done["state"] == "done"


def test_a_read_only_database_at_start_is_one_line_and_exit_78(home: Home) -> None:
    daemon = home.daemon().start()
    daemon.stop()
    db = home.state / "earwig.db"
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not possible here (needs root and a filesystem with it)")
    try:
        out = run_cli(home.config, "run", timeout=60)
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)
    print(out.stderr)
    assert out.returncode == 78, out
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: cannot write the database {db}: ")
    assert len(out.stderr.strip().splitlines()) == 2  # the line and its hint
