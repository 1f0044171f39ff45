"""A long recording through earwig vs faster-whisper called directly, sequential and batched.

About six minutes of distinct prose (bench/prose.txt) read by eSpeak NG. Each path is given
the file and decodes it inside its timing. Each round, in turn:
raw `WhisperModel.transcribe` (sequential), raw `BatchedInferencePipeline.transcribe`, earwig's
pipeline exactly as `earwig transcribe` runs it (windows, prefetch, its backend), and a real
daemon given the file (first state change -> done, so the folder's stability wait is not
counted). Same model, threads, beam size 5 and language in all four; models are loaded before
timing. Prints medians, the ratios against both raw paths, and each path's word error rate.

    python bench/long.py [--rounds 3] [--threads 2] [--model bundled] [--device auto]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig import protocol as p
from harness import wait

PROSE = Path(__file__).with_name("prose.txt")


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


class Daemon:
    """A real `earwig run` (bench/harness.py); `transcribe(path)` adds a copy of the file
    and returns the seconds from the job's first state change to done, and its text."""

    def __init__(self, root: Path, threads: int, model: str, device: str) -> None:
        self.root = root
        self.daemon = harness.Daemon(
            root,
            transcribe=f'threads = {threads}\nmodel = "{model}"\nlanguage = "en"\n'
            f'device = "{device}"',
            output='formats = ["txt"]',
        ).start()
        self.out = self.daemon.out
        # preloaded before timing
        wait(lambda: self.daemon.call(p.GetStatus())["backend"]["loaded"], 1800.0)
        self.n = 0

    def transcribe(self, clip: Path) -> tuple[float, str]:
        self.n += 1
        name = f"round{self.n}{clip.suffix}"
        copy = self.root / name
        shutil.copy(clip, copy)
        # the same audio every round: forced, or sha256 dedup would rightly skip it
        self.daemon.call(p.AddJobs(paths=[str(copy)], force=True))

        def finished() -> p.JobView | None:
            jobs = [j for j in self.daemon.jobs() if j["title"] == name]
            return jobs[0] if jobs and jobs[0]["state"] in ("done", "failed") else None

        job = wait(finished, 1800.0, 0.2)
        assert job["state"] == "done", job
        text = (self.out / f"round{self.n}.txt").read_text()
        return job["times"]["done"] - job["times"]["fetching"], text

    def close(self) -> None:
        self.daemon.stop(60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from earwig.config import TranscribeConfig
    from earwig.speech import synthesize
    from earwig.transcribe import audio, pipeline, registry
    from earwig.transcribe.base import TranscribeOptions
    from earwig.transcribe.faster_whisper import pick_compute_type, pick_device
    from earwig.transcribe.models import resolve_ctranslate2

    reference = " ".join(PROSE.read_text().split())
    root = Path(tempfile.mkdtemp(prefix="ewlong-", dir="/tmp"))
    try:
        clip = synthesize(reference, root / "prose.wav")
        samples = audio.decode(clip)
        seconds = len(samples) / 16000
        model_dir, model_name = resolve_ctranslate2(args.model)
        device, _ = pick_device(args.device)
        compute = pick_compute_type("auto", device)
        print(
            f"{seconds:.0f}s of prose, model {model_name} on {device} ({compute}), "
            f"{args.threads} threads, beam 5, batch {args.batch_size}, {args.rounds} rounds"
        )
        raw = WhisperModel(
            str(model_dir), device=device, compute_type=compute, cpu_threads=args.threads
        )
        batched = BatchedInferencePipeline(raw)
        cfg = TranscribeConfig(
            backend="faster-whisper",
            model=args.model,
            threads=args.threads,
            language="en",
            device=args.device,
            batch_size=args.batch_size,
        )
        ours = registry.create(cfg)
        ours.load()
        options = TranscribeOptions(language="en")

        # The engine is given the file, as earwig is: both decode it inside the timing.
        def raw_sequential() -> str:
            segments, _ = raw.transcribe(str(clip), language="en", beam_size=5)
            return " ".join(s.text for s in segments)

        def raw_batched() -> str:
            segments, _ = batched.transcribe(
                str(clip), language="en", beam_size=5, batch_size=args.batch_size
            )
            return " ".join(s.text for s in segments)

        def earwig_transcribe() -> str:
            t = pipeline.transcribe_file(ours, clip, options, lambda f: None, lambda: False)
            return t.text

        daemon = Daemon(root / "daemon", args.threads, args.model, args.device)
        paths: dict[str, Callable[[], tuple[float, str]]] = {}
        for label, fn in (
            ("raw sequential", raw_sequential),
            ("raw batched", raw_batched),
            ("earwig transcribe", earwig_transcribe),
        ):

            def timed(fn: Callable[[], str] = fn) -> tuple[float, str]:
                t0 = time.perf_counter()
                text = fn()
                return time.perf_counter() - t0, text

            paths[label] = timed
        paths["earwig daemon"] = lambda: daemon.transcribe(clip)
        walls: dict[str, list[float]] = {k: [] for k in paths}
        errors: dict[str, list[float]] = {k: [] for k in paths}
        try:
            for r in range(args.rounds):
                line = []
                for label, run in paths.items():
                    wall, text = run()
                    walls[label].append(wall)
                    errors[label].append(wer(reference, text))
                    line.append(f"{label} {wall:.1f}s")
                print(f"  round {r + 1}: " + ", ".join(line))
        finally:
            daemon.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    med = statistics.median
    seq, bat = med(walls["raw sequential"]), med(walls["raw batched"])
    print()
    head = ("path", "median", "RTF", "vs sequential", "vs batched", "WER")
    print("{:<20} {:>8} {:>6} {:>14} {:>11} {:>6}".format(*head))
    for label in paths:
        m = med(walls[label])
        print(
            f"{label:<20} {m:>7.1f}s {m / seconds:>6.3f} {seq / m:>13.2f}x {m / bat:>10.2f}x "
            f"{med(errors[label]):>6.3f}"
        )
    print("(vs sequential: how many times faster; vs batched: wall-time ratio, goal <= 1.05)")


if __name__ == "__main__":
    main()
