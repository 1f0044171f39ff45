"""A pause keeps the work (issue 39, item 3), through a real daemon, the real model and the
CLI: a long recording paused after its first window goes on from there when resumed, and its
transcript is word for word, time for time, the one an uninterrupted run made."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol as p
from earwig.formatting import clock
from earwig.speech import synthesize
from helpers import run_cli

PROSE = Path(__file__).parents[2] / "bench" / "prose.txt"  # distinct sentences: no loops


@pytest.fixture(scope="module")
def prose_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About six minutes of distinct prose read by eSpeak NG: with the sequential path's
    three-minute windows, two whole windows and a short third."""
    return synthesize(PROSE.read_text(), tmp_path_factory.mktemp("prose") / "lecture.wav")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_paused_long_file_goes_on_from_its_last_window_with_the_same_transcript(
    home: Home, prose_wav: Path
) -> None:
    home.write_config(transcribe="batched = false")  # three-minute windows (faster_whisper.py)
    daemon = home.daemon().start()
    assert run_cli(home.config, "add", str(prose_wav)).returncode == 0
    daemon.wait_job(lambda j: j["state"] == "done", 900, "the uninterrupted run")
    whole = daemon.call(p.GetJob(id=1, transcript=True))["transcript"]
    files = {name: (home.out / name).read_text() for name in ("lecture.txt", "lecture.srt")}

    assert run_cli(home.config, "retry", "1").returncode == 0
    running = daemon.wait_job(
        lambda j: j["state"] == "transcribing" and j["saved"] > 0, 900, "the first window kept"
    )
    paused = run_cli(home.config, "pause", "1")
    job = daemon.call(p.GetJob(id=1))["job"]
    assert job["state"] == "paused" and job["saved"] == running["saved"], job
    minute = clock(job["saved"])
    kept = f"the first {minute} is transcribed and kept"
    assert (
        paused.stdout == f"#1 lecture.wav: paused: {kept}; `earwig resume 1` goes on from there\n"
    )
    shown = run_cli(home.config, "show", "1", "--no-transcript").stdout
    assert f"  kept     {kept}: it goes on from there\n" in shown

    assert run_cli(home.config, "resume", "1").stdout == "#1 lecture.wav: resumed\n"
    daemon.wait_job(lambda j: j["state"] == "done", 900, "the resumed run")
    again = daemon.call(p.GetJob(id=1, transcript=True))["transcript"]
    assert again["segments"] == whole["segments"]  # the same words at the same times
    assert {name: (home.out / name).read_text() for name in files} == files
    said = [e["message"] for e in daemon.call(p.TailLogs(limit=200))["log"]]
    assert f"lecture.wav: goes on at {minute} (what came before is kept)" in said, said
    assert any(m.startswith("done: lecture.wav") and f"the first {minute} kept" in m for m in said)
    assert daemon.call(p.GetJob(id=1))["job"]["saved"] == 0  # done: nothing left over
