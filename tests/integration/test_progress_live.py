"""A long file's progress as a client sees it: early, steady, with its stages named, and its
lines streamed while it runs (daemon/progress.py, job.segments)."""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

import pytest

from conftest import SECOND_TEXT, Home
from earwig import protocol as p
from earwig.speech import SAMPLE_TEXT, synthesize
from helpers import DaemonProcess


@pytest.fixture(scope="session")
def two_minute_wav(media_dir: Path) -> Path:
    return synthesize(" ".join([SAMPLE_TEXT, SECOND_TEXT] * 9), media_dir / "two-minutes.wav")


def test_progress_is_early_steady_and_named_and_lines_arrive_live(
    home: Home, daemon: DaemonProcess, two_minute_wav: Path, second_wav: Path
) -> None:
    shutil.copy(second_wav, home.watch / "short.wav")  # a first job: how fast this machine is
    daemon.wait_idle(1)
    client = daemon.client()
    client.call(p.Subscribe(topics=["jobs"]))
    shutil.copy(two_minute_wav, home.watch / "long.wav")
    started: float | None = None  # when it went to transcribing
    progress: list[tuple[float, dict]] = []
    lines: list[dict] = []
    lines_before_done = 0
    deadline = time.monotonic() + 300
    for message in client.events(timeout=60):
        now = time.monotonic()
        assert now < deadline, "the job did not finish"
        name, data = message["event"], message["data"]
        if name == "job.updated" and data["state"] == "transcribing" and started is None:
            started = now
        elif name == "job.progress" and data.get("phase") != "downloading":
            progress.append((now, data))
        elif name == "job.segments":
            lines.extend(data["segments"])
        elif name == "job.updated" and data["state"] in ("done", "failed"):
            assert data["state"] == "done", data
            lines_before_done = len(lines)
            break
    client.close()
    assert started is not None and progress
    duration = daemon.call(p.GetJob(id=2))["job"]["duration"]
    assert duration is not None and duration > 110, duration  # it is a long file
    first = progress[0][0] - started
    times = [t for t, _ in progress]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(
        f"first progress {first:.2f}s after start, largest gap {max(gaps):.2f}s, "
        f"{len(progress)} events over {times[-1] - started:.1f}s"
    )
    assert first < 3.0, first
    assert max(gaps) <= 2.0, gaps
    stages = [p["phase"] for _, p in progress]
    assert stages[0] == "decoding", stages
    assert {"transcribing", "writing"} <= set(stages), stages
    running = [p for _, p in progress if p["phase"] in ("decoding", "transcribing")]
    fractions = [p.get("fraction") or 0.0 for p in running]
    assert all(b > a for a, b in itertools.pairwise(fractions)), fractions
    etas = [p.get("eta") or 0.0 for p in running]
    assert all(b < a for a, b in itertools.pairwise(etas)), etas
    # the lines arrived while it ran, in order, and are the transcript
    assert lines_before_done >= 3
    starts = [s["start"] for s in lines]
    assert starts == sorted(starts)
    saved = daemon.call(p.GetJob(id=2, transcript=True))["transcript"]["segments"]
    assert [s["text"] for s in saved] == [s["text"] for s in lines]
