"""How readable are earwig's subtitles? Cue statistics of the .srt written for a long recording.

About six minutes of prose (bench/prose.txt) read by eSpeak NG goes through earwig's pipeline
exactly as a job does (from one minute on that is faster-whisper's batched path), and the .srt
earwig writes is read back: cue count, longest cue (seconds and characters), the longest line,
the widest cue in lines, the reading speed (characters a second: median, 95th percentile,
maximum) and the share of cues over each limit (42 characters a line, 2 lines, 7 s, 20
characters a second). With --timings, the batched path's three ways of timing its text are
also run in turn (none, timestamp tokens, word timestamps) and their median wall times and word
error rates printed, to show what the timings that cues need cost.

    python bench/cues.py [--rounds 3] [--threads 2] [--model bundled] [--timings]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

PROSE = Path(__file__).with_name("prose.txt")
CLOCK = re.compile(r"(\d+):(\d+):(\d+)[,.](\d+) --> (\d+):(\d+):(\d+)[,.](\d+)")


def seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def read_srt(text: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines) of each cue of a SubRip file."""
    cues = []
    for block in text.strip().split("\n\n"):
        rows = block.split("\n")
        found = CLOCK.search(rows[1]) if len(rows) > 1 else None
        if found:
            g = found.groups()
            cues.append((seconds(*g[:4]), seconds(*g[4:]), rows[2:]))
    return cues


def stats(cues: list[tuple[float, float, list[str]]]) -> dict[str, float]:
    durations = [e - s for s, e, _ in cues]
    chars = [sum(len(line) for line in lines) for _, _, lines in cues]
    lines = [len(line) for _, _, ls in cues for line in ls]
    speeds = sorted(c / max(d, 0.001) for c, d in zip(chars, durations, strict=True))
    n = len(cues)
    return {
        "cues": n,
        "median cue s": statistics.median(durations),
        "longest cue s": max(durations),
        "longest cue chars": max(chars),
        "longest line": max(lines),
        "most lines": max(len(ls) for _, _, ls in cues),
        "median cps": statistics.median(speeds),
        "p95 cps": speeds[int(0.95 * (n - 1))],
        "max cps": speeds[-1],
        "% lines > 42": 100 * sum(x > 42 for x in lines) / len(lines),
        "% cues > 2 lines": 100 * sum(len(ls) > 2 for _, _, ls in cues) / n,
        "% cues > 7 s": 100 * sum(d > 7.0 for d in durations) / n,
        "% cues < 0.8 s": 100 * sum(d < 0.8 for d in durations) / n,
        "% cues > 20 cps": 100 * sum(s > 20 for s in speeds) / n,
        "overlaps": sum(cues[i][1] > cues[i + 1][0] + 1e-6 for i in range(n - 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--timings", action="store_true", help="also time the three timings")
    parser.add_argument("--keep", type=Path, help="write the .srt here too")
    args = parser.parse_args()

    import jiwer

    from earwig import outputs
    from earwig.config import TranscribeConfig
    from earwig.speech import synthesize
    from earwig.transcribe import audio, pipeline, registry
    from earwig.transcribe.base import TranscribeOptions

    def normalise(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())

    reference = " ".join(PROSE.read_text().split())
    root = Path(tempfile.mkdtemp(prefix="ewcues-", dir="/tmp"))
    try:
        clip = synthesize(reference, root / "prose.wav")
        cfg = TranscribeConfig(backend="faster-whisper", model=args.model, threads=args.threads)
        ours = registry.create(cfg)
        ours.load()
        options = TranscribeOptions(language="en")
        t0 = time.perf_counter()
        t = pipeline.transcribe_file(ours, clip, options, lambda f: None, lambda: False)
        wall = time.perf_counter() - t0
        srt = outputs.to_srt(t, {})
        if args.keep:
            args.keep.write_text(srt)
        print(
            f"{t.duration:.0f}s of prose, model {t.model}, {len(t.segments)} segments, "
            f"{wall:.1f}s, WER {jiwer.wer(normalise(reference), normalise(t.text)):.3f}"
        )
        for key, value in stats(read_srt(srt)).items():
            print(f"  {key:<18} {value:8.1f}")
        if not args.timings:
            return
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from earwig.transcribe.models import resolve_ctranslate2

        model_dir, _ = resolve_ctranslate2(args.model)
        raw = WhisperModel(str(model_dir), compute_type="int8", cpu_threads=args.threads)
        engine = BatchedInferencePipeline(raw)
        samples = audio.decode(clip)
        ways = {
            "no timestamps": {},
            "timestamp tokens": {"without_timestamps": False},
            "word timestamps": {"word_timestamps": True},
        }
        walls: dict[str, list[float]] = {k: [] for k in ways}
        errors: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, extra in ways.items():
                t0 = time.perf_counter()
                found, _ = engine.transcribe(
                    samples, language="en", beam_size=5, batch_size=8, **extra
                )
                text = " ".join(s.text for s in found)
                walls[name].append(time.perf_counter() - t0)
                errors[name] = jiwer.wer(normalise(reference), normalise(text))
        base = statistics.median(walls["no timestamps"])
        for name in ways:
            m = statistics.median(walls[name])
            print(f"  {name:<17} {m:6.1f}s  {m / base:5.2f}x  WER {errors[name]:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
