"""`earwig search` over real transcripts written by a real daemon, with and without it running."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import Home
from earwig import protocol as p
from helpers import DaemonProcess, run_cli


def test_search_finds_spoken_words_with_their_time(
    home: Home, daemon: DaemonProcess, long_wav: Path, second_wav: Path
) -> None:
    shutil.copy(long_wav, home.watch / "long.wav")
    shutil.copy(second_wav, home.watch / "morning.wav")
    jobs = {j["title"]: j for j in daemon.wait_idle(2)}
    doc = json.loads((home.out / "long.json").read_text())
    expected = [s["start"] for s in doc["segments"] if "sunny" in s["text"].lower()]
    assert expected, doc["segments"]

    out = run_cli(home.config, "search", "sunny", "--json", "--limit", "100")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    long_hits = sorted(h["start"] for h in hits if h["title"] == "long.wav")
    assert long_hits == sorted(expected)
    assert any(h["title"] == "morning.wav" for h in hits)
    assert all("**sunny**" in h["snippet"].lower() for h in hits)
    assert hits[0]["transcript"].endswith(".txt")

    # Through the socket too (what the TUI uses), and filtered by source.
    via_daemon = daemon.call(p.Search(query="sunny", source="morning"))["hits"]
    assert {h["title"] for h in via_daemon} == {"morning.wav"}

    # Re-transcribing does not duplicate hits; deleting removes them.
    assert run_cli(home.config, "retry", str(jobs["morning.wav"]["id"])).returncode == 0
    daemon.wait_idle(2)
    again = json.loads(run_cli(home.config, "search", "sunny", "--json", "--limit", "100").stdout)
    assert len(again) == len(hits)
    assert run_cli(home.config, "delete", str(jobs["morning.wav"]["id"])).returncode == 0
    after = json.loads(run_cli(home.config, "search", "sunny", "--json", "--limit", "100").stdout)
    assert {h["title"] for h in after} == {"long.wav"}
    assert (home.out / "morning.txt").exists()  # files are the user's: deletion leaves them

    # With the daemon stopped, search still works (read-only on the same file).
    assert daemon.stop() == 0
    out = run_cli(home.config, "search", "budg*")
    assert out.returncode == 0 and "long.wav" in out.stdout and "long.txt" in out.stdout


def test_search_errors_are_readable(home: Home, daemon: DaemonProcess, second_wav: Path) -> None:
    out = run_cli(home.config, "search", "sunny")
    assert out.returncode == 0 and "no matches" in out.stdout
    out = run_cli(home.config, "search", '"unbalanced')
    assert out.returncode == 1 and "cannot understand the search" in out.stderr
    assert "hint" in out.stderr and "Traceback" not in out.stderr
    out = run_cli(home.config, "search", "x", "--since", "someday")
    assert out.returncode == 1 and "not a date" in out.stderr


def test_search_before_anything_was_transcribed(home: Home) -> None:
    out = run_cli(home.config, "search", "anything")
    assert out.returncode == 0 and "no transcripts yet" in out.stdout


def test_deleting_a_running_job_is_refused(home: Home, daemon: DaemonProcess, long_wav: Path):
    shutil.copy(long_wav, home.watch / "long.wav")
    job = daemon.wait_job(lambda j: j["state"] == "transcribing", what="transcription")
    out = run_cli(home.config, "delete", str(job["id"]))
    assert out.returncode == 1 and "only finished jobs can be deleted" in out.stderr
