"""Peak memory against the length of the recording: it should not grow with the file.

For 10 minutes, 1 hour and 4 hours of audio (silence with a spoken sentence every couple of
minutes, so the transcript is short but every second is decoded), prints the peak RSS of
`earwig transcribe` and of a real daemon transcribing the same file, each in a fresh process,
with the bundled model. Goal: the same peak for all three lengths, under 600 MB.

    python bench/memory.py [--lengths 600,3600,14400] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig import protocol as p

SENTENCE = "This is a note in a long recording, so that there is something to transcribe."
RATE = 16000
GAP = 120  # seconds between spoken sentences


def make_recording(seconds: int, folder: Path) -> Path:
    """A 16 kHz mono wav of `seconds`, written block by block (never held in memory)."""
    import numpy as np

    from earwig.speech import synthesize
    from earwig.transcribe import audio

    voice = audio.decode(synthesize(SENTENCE, folder / "sentence.wav"))
    voice16 = (np.clip(voice, -1, 1) * 32767).astype("<i2").tobytes()
    silence = bytes(2 * RATE * GAP)
    path = folder / f"recording-{seconds}s.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        written = 0
        while written < seconds * RATE:
            out.writeframes(voice16)
            out.writeframes(silence)
            written += len(voice16) // 2 + RATE * GAP
    return path


def peak_of_command(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a command run in a fresh child of a fresh process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "assert code == 0, code\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
        "time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    )
    kb, seconds = out.stdout.split()
    return int(kb) / 1024, float(seconds)


def peak_of_daemon(recording: Path, threads: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds from queued to done) of `earwig run` given the recording."""
    root = Path(tempfile.mkdtemp(prefix="ewmem-", dir="/tmp"))
    try:
        with harness.Daemon(root, stable_after="1s", transcribe=f"threads = {threads}") as daemon:
            os.link(recording, daemon.watch / recording.name)  # no copy: the same file, at once

            def finished() -> p.JobView | None:
                done = [j for j in daemon.jobs() if j["state"] in ("done", "failed")]
                return done[0] if done else None

            job = harness.wait(finished, 6 * 3600, 1.0)
            assert job["state"] == "done", job
            peak = 0.0
            for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):  # the process's peak resident set
                    peak = int(line.split()[1]) / 1024
            return peak, job["times"]["done"] - job["times"]["fetching"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--lengths", default="600,3600,14400", help="seconds, comma-separated")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="ewmem-audio-", dir="/tmp"))
    try:
        print(f"{'audio':>8} {'transcribe peak':>16} {'time':>8} {'daemon peak':>12} {'time':>8}")
        for seconds in lengths:
            rec = make_recording(seconds, folder)
            out = folder / "out"
            cli_peak, cli_time = peak_of_command(
                [
                    sys.executable,
                    "-m",
                    "earwig",
                    "transcribe",
                    str(rec),
                    "--output-dir",
                    str(out),
                    "--format",
                    "txt",
                ]
            )
            d_peak, d_time = peak_of_daemon(rec, args.threads)
            print(
                f"{seconds / 60:>7.0f}m {cli_peak:>13.0f} MB {cli_time:>7.0f}s "
                f"{d_peak:>9.0f} MB {d_time:>7.0f}s",
                flush=True,
            )
            rec.unlink()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(this script itself peaked at {own:.0f} MB while writing the recordings)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
