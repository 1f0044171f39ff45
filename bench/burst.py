"""Many short clips at once: dropped into a watched folder (or sent to /v1 together), against
the raw engine one clip after another and the raw engine batched on all of them joined.

    python bench/burst.py [--clips 20 100] [--rounds 3] [--door folder|http]
                          [--against OTHER/src] [--gather 0.3]

The clips are 3-20 s of distinct prose (bench/prose.txt) read by eSpeak NG, so each clip's
transcript can be scored against its own text. Per round, in turn:

- raw sequential: faster-whisper's plain `WhisperModel.transcribe`, one clip after another,
  as earwig's backend runs a short clip alone (the bundled tiny.en, 2 threads, beam 5);
- raw batched, joined: faster-whisper's `BatchedInferencePipeline` on every clip's samples
  joined into one recording (its VAD packs several clips into each 30 s window: a ceiling
  no per-job path can reach, since a window there holds one job's audio only);
- the daemon: a real `earwig run` (bench/harness.py), every clip dropped into its watched
  folder at once (`--door http`: every clip its own /v1 request, all in flight together);
  wall time from the drop to the last transcript, and the first clip's latency (drop to its
  transcript); with `--against`, a second daemon run from another checkout's `src/` (the
  code before a change), in alternate order each round, on the same clips.

Then a lone clip on an idle daemon, several times: its latency (job added to done) is what
the gathering window may cost. Prints medians, ratios to both raw paths, and the mean word
error rate of each path. The models are loaded and the clips decoded before timing; the
folder's stability wait (0.5 s) is inside the daemon's figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig import protocol as p
from harness import wait
from long import PROSE, wer  # bench/long.py: the prose and the word error rate

THREADS = 2


def make_clips(folder: Path, count: int, seed: int = 7) -> list[tuple[Path, str]]:
    """`count` clips of 3-20 s, each a run of distinct sentences (or part of one), with
    its text. Lengths are spread evenly over the range, in a shuffled order."""
    from earwig.speech import synthesize

    sentences = [s.strip() for s in PROSE.read_text().splitlines() if s.strip()]
    words = " ".join(sentences).split()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    at = 0
    targets = [3 + 17 * i / max(1, count - 1) for i in range(count)]
    rng.shuffle(targets)
    for i, seconds in enumerate(targets):
        n = max(7, round(seconds * 2.6))  # eSpeak NG reads about 2.6 words a second
        if at + n > len(words):
            at = 0
        text = " ".join(words[at : at + n])
        at += n
        clips.append((synthesize(text, folder / f"burst{i + 1:03d}.wav"), text))
    return clips


def variants(clips: list[Path], round: int, folder: Path) -> list[Path]:
    """A copy of each clip for this round with `round` samples of silence added: the same
    audio again would rightly be answered from the earlier job (deduplication)."""
    import wave

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for clip in clips:
        copy = folder / f"r{round}-{clip.name}"
        with wave.open(str(clip), "rb") as src, wave.open(str(copy), "wb") as dst:
            dst.setparams(src.getparams())
            dst.writeframes(src.readframes(src.getnframes()) + bytes(2 * round))
        out.append(copy)
    return out


class Raw:
    """The raw engine on the bundled model, loaded once: sequential and batched."""

    def __init__(self, clips: list[tuple[Path, str]]) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from earwig.transcribe.audio import decode
        from earwig.transcribe.models import resolve_ctranslate2

        model_dir, _ = resolve_ctranslate2("bundled")
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=THREADS
        )
        self.batched = BatchedInferencePipeline(self.model)
        self.samples = [decode(c) for c, _ in clips]
        self.model.transcribe(self.samples[0], language="en")[0].__iter__().__next__()  # warm

    def sequential(self) -> list[str]:
        out = []
        for s in self.samples:
            segments, _ = self.model.transcribe(s, language="en", beam_size=5)
            out.append(" ".join(x.text for x in segments))
        return out

    def joined(self) -> str:
        import numpy as np

        segments, _ = self.batched.transcribe(
            np.concatenate(self.samples), language="en", beam_size=5, batch_size=8
        )
        return " ".join(x.text for x in segments)


class Earwig:
    """A real daemon from `src` (None: this checkout), its model loaded before timing."""

    def __init__(self, root: Path, src: Path | None, door: str, gather: float | None) -> None:
        self.root, self.door, self.round = root, door, 0
        shutil.rmtree(root, ignore_errors=True)
        extra = f"\ngather = {gather}" if gather is not None else ""
        listen = "127.0.0.1:0" if door == "http" else ""
        saved = os.environ.get("PYTHONPATH")
        if src is not None:
            os.environ["PYTHONPATH"] = str(src)
        try:
            self.daemon = harness.Daemon(
                root,
                transcribe=f"threads = {THREADS}{extra}",
                output='formats = ["txt"]',
                extra=f'[downloads]\ndir = "{root}/media"\n',
                http=f'listen = "{listen}"',
            ).start(120)
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved

        def ready() -> p.Status | None:
            st = self.daemon.call(p.GetStatus())
            if door == "http" and st["http"].get("state") != "listening":
                return None
            return st if st["backend"]["loaded"] else None

        status = wait(ready, 300)
        self.url = status["http"].get("url", "").rstrip("/")
        self.token = (root / "state" / "http-token").read_text().strip() if door == "http" else ""

    def burst(self, clips: list[Path]) -> tuple[float, float, list[str]]:
        """Every clip at once: (wall to the last transcript, latency of the first, texts)."""
        self.round += 1
        if self.door == "http":
            return self._requests(clips)
        staged = self.root / f"stage{self.round}"
        names = []
        for c in variants(clips, self.round, staged):
            names.append(c.stem)
        t0 = time.time()
        for c in staged.iterdir():
            os.rename(c, self.daemon.watch / c.name)  # appears whole, at once

        def finished() -> list[p.JobView] | None:
            mine = [j for j in self.daemon.jobs(1000) if j["title"].startswith(f"r{self.round}-")]
            done = [j for j in mine if j["state"] in ("done", "failed")]
            return done if len(done) == len(clips) else None

        jobs = wait(finished, 3600, 0.2)
        assert all(j["state"] == "done" for j in jobs), [j for j in jobs if j["state"] != "done"]
        ends = [j["times"]["done"] for j in jobs]
        texts = [(self.daemon.out / f"{n}.txt").read_text() for n in names]
        return max(ends) - t0, min(ends) - t0, texts

    def _requests(self, clips: list[Path]) -> tuple[float, float, list[str]]:
        import httpx

        clips = variants(clips, self.round, self.root / f"stage{self.round}")
        t0 = time.perf_counter()

        def send(clip: Path) -> tuple[float, str]:
            with httpx.Client(timeout=3600) as c, clip.open("rb") as fh:
                r = c.post(
                    self.url + "/v1/audio/transcriptions",
                    files={"file": (clip.name, fh, "audio/wav")},
                    data={"model": "whisper-1"},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                r.raise_for_status()
                return time.perf_counter() - t0, str(r.json()["text"])

        with concurrent.futures.ThreadPoolExecutor(len(clips)) as pool:
            answers = list(pool.map(send, clips))
        return max(a[0] for a in answers), min(a[0] for a in answers), [a[1] for a in answers]

    def lone(self, clip: Path) -> float:
        """One clip on an idle daemon: seconds from its job being added to done."""
        self.round += 1
        if self.door == "http":
            wall, _, _ = self._requests([clip])
            return wall
        (copy,) = variants([clip], self.round, self.root / f"lone{self.round}")
        added = self.daemon.call(p.AddJobs(paths=[str(copy)], force=True))["results"][0]
        job = added["job"]

        def done() -> p.JobView | None:
            j = self.daemon.call(p.GetJob(id=job["id"]))["job"]
            return j if j["state"] in ("done", "failed") else None

        j = wait(done, 600, 0.05)
        assert j["state"] == "done", j
        return j["times"]["done"] - j["times"]["queued"]

    def close(self) -> None:
        self.daemon.stop(120)


def burst_table(
    count: int, args: argparse.Namespace, root: Path, clips: list[tuple[Path, str]] | None = None
) -> None:
    """Every path on `count` clips (these `clips`, with their text, or this benchmark's),
    `args.rounds` rounds, then the lone clip; print the tables."""
    med = statistics.median
    clips = clips or make_clips(root / f"clips{count}", count)
    paths = [c for c, _ in clips]
    raw = Raw(clips)
    seconds = sum(len(s) for s in raw.samples) / 16000
    reference = [t for _, t in clips]
    print(f"\n{count} clips, {seconds:.0f} s of speech, {args.door}, {args.rounds} rounds; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    daemons = {"earwig": Earwig(root / "this", None, args.door, args.gather)}
    if args.against:
        daemons["before"] = Earwig(root / "before", args.against, args.door, None)
    walls: dict[str, list[float]] = {}
    firsts: dict[str, list[float]] = {}
    errors: dict[str, list[float]] = {}

    def timed(label: str, fn: Callable[[], tuple[float, float, list[str]]]) -> None:
        wall, first, texts = fn()
        walls.setdefault(label, []).append(wall)
        firsts.setdefault(label, []).append(first)
        if len(texts) == len(reference):
            scores = [wer(r, t) for r, t in zip(reference, texts, strict=True)]
        else:  # one text for all the clips joined
            scores = [wer(" ".join(reference), " ".join(texts))]
        errors.setdefault(label, []).append(statistics.fmean(scores))

    def seq() -> tuple[float, float, list[str]]:
        t0 = time.perf_counter()
        texts = raw.sequential()
        return time.perf_counter() - t0, float("nan"), texts

    def joined() -> tuple[float, float, list[str]]:
        t0 = time.perf_counter()
        text = raw.joined()
        return time.perf_counter() - t0, float("nan"), [text]

    lone: dict[str, list[float]] = {k: [] for k in daemons}
    try:
        for r in range(args.rounds):
            order = list(daemons.items())
            if r % 2:
                order.reverse()
            timed("raw sequential", seq)
            timed("raw batched, joined", joined)
            for label, d in order:
                timed(label, functools.partial(d.burst, paths))
            line = ", ".join(f"{k} {v[-1]:.1f}s" for k, v in walls.items())
            print(f"  round {r + 1} (load {os.getloadavg()[0]:.1f}): {line}", flush=True)
        for i in range(args.lone):
            order = list(daemons.items())
            if i % 2:
                order.reverse()
            for label, d in order:
                lone[label].append(d.lone(paths[i % len(paths)]))
    finally:
        for d in daemons.values():
            d.close()
    seq_wall, joined_wall = med(walls["raw sequential"]), med(walls["raw batched, joined"])
    print(f"\n| {count} clips ({seconds:.0f} s) | median wall | audio s/s | vs raw sequential "
          "| vs raw batched | first clip | WER |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for label, ws in walls.items():
        m = med(ws)
        first = med(firsts[label])
        first_text = "" if first != first else f"{first:.1f} s"  # NaN: no first clip
        print(f"| {label} | {m:.1f} s | {seconds / m:.1f} | x{seq_wall / m:.2f} | "
              f"x{joined_wall / m:.2f} | {first_text} | {med(errors[label]):.3f} |")  # fmt: skip
    print("\n| lone clip, job added to done | median | all |\n|---|---|---|")
    for label, ts in lone.items():
        print(f"| {label} | {med(ts):.2f} s | {', '.join(f'{t:.2f}' for t in ts)} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clips", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lone", type=int, default=5, help="lone-clip latencies to take")
    parser.add_argument("--door", choices=("folder", "http"), default="folder")
    parser.add_argument("--against", type=Path, help="another checkout's src/, run in turn")
    parser.add_argument("--gather", type=float, help="[transcribe] gather for this checkout")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ewburst-", dir="/tmp"))
    try:
        for count in args.clips:
            burst_table(count, args, root / str(count))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
