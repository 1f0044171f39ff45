"""What do speaker labels cost next to transcription?

About ten minutes of bench/prose.txt read in turns by three eSpeak NG voices, then, rounds
times over, alternating: earwig's pipeline as `earwig transcribe` runs it (bundled model)
with speakers off, and with speakers = "auto" (the transcript's segments tell where speech
is; CAM++ embeddings, clustering), timing the labelling where it runs (Voices.add and
finish: the machine's noise is larger than the cost). Prints the medians, that time as a share
of the transcription (the budget: under 10%), the speakers found, and the diarization error
rate of the labelled segments against the known turns; also the VAD-based path
(`speakers.diarize`, no transcript) for comparison.

    python bench/speakers.py [--rounds 3] [--minutes 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

from test_speakers import der

from conftest import ANN, BEN, CAL, conversation
from earwig import config as config_mod
from earwig.speakers.diarize import Turn, Voices, diarize
from earwig.transcribe import pipeline, registry
from earwig.transcribe.audio import decode

PROSE = Path(__file__).with_name("prose.txt")


def script(minutes: float) -> list[tuple[str, str]]:
    """Sentences of the prose, two at a time per turn, voices in turn, ~minutes long."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", PROSE.read_text()) if s.strip()]
    lines, voices, seconds, i = [], (ANN, BEN, CAL), 0.0, 0
    while seconds < minutes * 60:
        text = " ".join(sentences[(2 * i) % len(sentences) : (2 * i) % len(sentences) + 2])
        lines.append((voices[i % 3], text))
        seconds += len(text.split()) / 2.5 + 0.6  # ~150 words a minute, and the gap
        i += 1
    return lines


SPENT = [0.0]  # seconds inside the speaker labelling, measured where it happens


def timed(method):
    def wrapper(*args, **kw):
        t = time.perf_counter()
        try:
            return method(*args, **kw)
        finally:
            SPENT[0] += time.perf_counter() - t

    return wrapper


Voices.add = timed(Voices.add)  # type: ignore[method-assign]
Voices.finish = timed(Voices.finish)  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "talk.wav"
        truth = conversation(wav, script(args.minutes))
        samples = decode(wav)
        cfg = config_mod.TranscribeConfig(threads=args.threads)
        transcriber = registry.create(cfg)
        transcriber.load()
        options = registry.options(cfg)
        labelled = dataclasses.replace(options, diarize=True)
        diarize(samples[: 16000 * 5])  # load the models before timing
        plain, with_speakers, vad_path = [], [], []
        transcript = found = None
        for _ in range(args.rounds):
            t = time.perf_counter()
            pipeline.transcribe_file(transcriber, wav, options, lambda f: None, lambda: False)
            plain.append(time.perf_counter() - t)
            SPENT[0] = 0.0
            transcript = pipeline.transcribe_file(
                transcriber, wav, labelled, lambda f: None, lambda: False
            )
            with_speakers.append(SPENT[0])
            t = time.perf_counter()
            found = diarize(samples)
            vad_path.append(time.perf_counter() - t)
    assert transcript is not None and found is not None
    med = statistics.median
    length = len(samples) / 16000
    extra = med(with_speakers)
    names = sorted({s.speaker for s in transcript.segments if s.speaker})
    turns = [Turn(s.start, s.end, names.index(s.speaker)) for s in transcript.segments if s.speaker]
    print(f"{length / 60:.1f} min, 3 voices, {args.rounds} rounds, medians, {args.threads} threads")
    print(f"transcription ({transcriber.name}, {transcriber.model_name}): {med(plain):.1f} s")
    print(f"  speakers = auto adds {extra:.2f} s ({extra / med(plain):.1%} of it)")
    rate, missed, false_alarm, confusion = der(truth, turns, parts=True)
    print(
        f"  speakers found: {len(names)}; DER of the labelled segments {rate:.3f} "
        f"(confusion {confusion:.3f}, missed {missed:.3f}, false alarm {false_alarm:.3f}: "
        "Whisper's segment times)"
    )
    print(
        f"without a transcript (VAD): {med(vad_path):.2f} s ({med(vad_path) / med(plain):.1%}), "
        f"{found.speakers} speakers, DER {der(truth, found.turns):.3f}"
    )


if __name__ == "__main__":
    main()
