"""`earwig backends --bench`: each usable backend on the same built-in clip, in its own process.

A fresh process per backend makes the peak memory figure that backend's alone (read from the
child's rusage) and keeps one backend's threads or caches from helping the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

SAMPLE_TEXT = (  # what data/sample.mp3 says (eSpeak NG, the same words as earwig.speech)
    "Welcome to the weekly meeting. Today we will talk about the budget for next year, "
    "the new office, and the summer holidays. Please send your questions to the team "
    "before Friday."
)


def sample_path() -> Path:
    return Path(str(resources.files("earwig") / "data" / "sample.mp3"))


def measure(name: str, config_path: Path | None, timeout: float = 600) -> dict[str, Any]:
    """Run one backend on the sample in a child process: load time, transcribe time, real-time
    factor, peak RSS, and the text (or the error)."""
    cmd = [sys.executable, "-m", "earwig.transcribe.bench", name]
    if config_path:
        cmd.append(str(config_path))
    # Files, not pipes: a chatty backend must never block on a full pipe while we wait.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"name": name, "error": f"no result within {timeout:.0f}s"}
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = (f.read().decode(errors="replace") for f in (out_file, err_file))
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        return {"name": name, "error": f"exited with {proc.returncode}: {tail}"}
    result.update(name=name, peak_rss=peak)
    return result


def _child(name: str, config_path: str | None) -> None:
    from earwig import config as config_mod
    from earwig.errors import EarwigError
    from earwig.transcribe import audio, registry
    from earwig.transcribe.base import SAMPLE_RATE

    try:
        cfg = config_mod.load(Path(config_path) if config_path else None).transcribe
        backend = registry.build(name, cfg)
        samples = audio.decode(sample_path())
        t0 = time.perf_counter()
        backend.load()
        loaded = time.perf_counter() - t0
        t0 = time.perf_counter()
        transcript = backend.transcribe(
            samples, registry.options(cfg), lambda _: None, lambda: False
        )
        seconds = time.perf_counter() - t0
    except EarwigError as exc:
        print(json.dumps({"error": exc.message}))
        return
    duration = len(samples) / SAMPLE_RATE
    print(
        json.dumps(
            {
                "model": backend.model_name,
                "load": loaded,
                "seconds": seconds,
                "rtf": seconds / duration,
                "text": transcript.text,
            }
        )
    )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
