"""What does the daemon cost on top of the raw backend?

Generates N distinct speech clips, then, R times over:
  * direct: the same backend and model in this process (load + decode + transcribe each clip);
  * daemon: a real `earwig run` on a temp dir; all clips are dropped into the watched folder
    at once and the clock stops when the last transcript is saved.
Prints the median daemon/direct wall-time ratio, the median drop-to-job-start latency (which
includes the `stable_after` wait, set here with --stable-after), and the daemon's RSS when idle
before the model loads and after it has run.

    python bench/overhead.py [--files 5] [--rounds 3] [--stable-after 0.5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig import protocol as p
from earwig.speech import synthesize
from earwig.transcribe.audio import decode
from earwig.transcribe.base import TranscribeOptions
from earwig.transcribe.faster_whisper import FasterWhisperBackend
from harness import wait

SENTENCES = [
    "Welcome to the weekly meeting. Today we will talk about the budget for next year.",
    "Good morning everyone. The weather today is sunny and warm.",
    "Please send your questions to the team before Friday afternoon.",
    "The new office opens in spring, and everyone will get a desk by the window.",
    "Our guest today writes books about rivers, bridges and the people who build them.",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_clips(folder: Path, count: int) -> list[Path]:
    clips = []
    for i in range(count):
        text = f"Clip number {i + 1}. " + " ".join(
            SENTENCES[(i + k) % len(SENTENCES)] for k in range(3)
        )
        clips.append(synthesize(text, folder / f"clip{i + 1:02d}.wav"))
    return clips


def direct(clips: list[Path], threads: int) -> float:
    t0 = time.perf_counter()
    backend = FasterWhisperBackend("bundled", threads=threads)
    for clip in clips:
        backend.transcribe(decode(clip), TranscribeOptions(), lambda f: None, lambda: False)
    return time.perf_counter() - t0


def through_daemon(clips: list[Path], threads: int, stable_after: float) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="ewb-", dir="/tmp"))
    try:
        daemon = harness.Daemon(
            root, stable_after=f"{stable_after}s", transcribe=f"threads = {threads}"
        )
        with daemon:
            time.sleep(1.0)  # let start-up settle before reading idle memory
            idle_rss = rss_mb(daemon.pid)
            dropped_at = time.time()
            t0 = time.perf_counter()
            for clip in clips:
                shutil.copy(clip, daemon.watch / clip.name)

            def finished() -> list[p.JobView] | None:
                jobs = daemon.jobs()
                return (
                    jobs
                    if len(jobs) == len(clips)
                    and all(j["state"] in ("done", "failed") for j in jobs)
                    else None
                )

            jobs = wait(finished)
            wall = time.perf_counter() - t0
            assert all(j["state"] == "done" for j in jobs), jobs
            latencies = [j["times"]["fetching"] - dropped_at for j in jobs]
            return {
                "wall": wall,
                "busy": max(j["times"]["done"] for j in jobs)
                - min(j["times"]["fetching"] for j in jobs),
                "first_start": min(latencies),
                "idle_rss": idle_rss,
                "loaded_rss": rss_mb(daemon.pid),
            }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--stable-after", type=float, default=0.5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(Path(tmp), args.files)
        audio_s = sum(len(decode(c)) for c in clips) / 16000
        print(
            f"{args.files} clips, {audio_s:.0f}s of speech, {args.threads} threads, "
            f"stable_after {args.stable_after}s, {args.rounds} rounds (alternating)"
        )
        directs, daemons = [], []
        for r in range(args.rounds):
            directs.append(direct(clips, args.threads))
            daemons.append(through_daemon(clips, args.threads, args.stable_after))
            print(f"  round {r + 1}: direct {directs[-1]:.2f}s  daemon {daemons[-1]['wall']:.2f}s")

    med = statistics.median
    ratios = [d["wall"] / x for d, x in zip(daemons, directs, strict=True)]

    def row(label: str, value: str) -> None:
        print(f"{label:<44}: {value}")

    print()
    row("direct (load + decode + transcribe), median", f"{med(directs):.2f}s")
    row("daemon (drop -> last transcript), median", f"{med(d['wall'] for d in daemons):.2f}s")
    row("ratio daemon/direct, median", f"{med(ratios):.2f}")
    row("daemon first job start -> last done, median", f"{med(d['busy'] for d in daemons):.2f}s")
    row(
        "drop -> first job start, median",
        f"{med(d['first_start'] for d in daemons):.2f}s (stable_after is {args.stable_after}s)",
    )
    row("daemon RSS idle, before the model loads", f"{med(d['idle_rss'] for d in daemons):.0f} MB")
    row(
        "daemon RSS after transcribing (model warm)",
        f"{med(d['loaded_rss'] for d in daemons):.0f} MB",
    )


if __name__ == "__main__":
    main()
