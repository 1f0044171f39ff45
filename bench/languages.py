"""What does finding every language cost? A single-language and a switching recording through
faster-whisper's base model, with `multilingual` off (Whisper's own way: one language, detected
from the first 30 s) and on (earwig's per-piece detection, transcribe/spoken.py).

Both recordings are eSpeak NG voices, about 50 s: English only (single), and English, German,
English, German (switching). The rounds alternate the two settings; the medians and their ratio
are printed (the goals: at most 1.10x on the single-language file, 1.3x on the switching one),
with the languages each found.

    python bench/languages.py --model /path/to/faster-whisper-base [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from earwig.speech import synthesize
from earwig.transcribe.audio import decode
from earwig.transcribe.base import TranscribeOptions
from earwig.transcribe.faster_whisper import FasterWhisperBackend

EN = (
    "Welcome to the weekly meeting. Today we will talk about the budget for next year, the "
    "new office, and the summer holidays. Please send your questions to the team before Friday."
)
EN2 = (
    "The river was high after a week of rain, and the old bridge creaked under every cart. "
    "Our train leaves at half past nine, so please be at the station early with your tickets."
)
DE = (
    "Guten Morgen und willkommen zur Sitzung. Heute sprechen wir über den Haushalt für das "
    "nächste Jahr, das neue Büro und die Sommerferien. Bitte schicken Sie Ihre Fragen bis "
    "Freitag an das Team."
)


def recording(folder: Path, parts: list[tuple[str, str]]) -> np.ndarray:
    pieces = []
    for i, (voice, text) in enumerate(parts):
        pieces += [decode(synthesize(text, folder / f"{i}.wav", voice=voice))]
        pieces += [np.zeros(8000, np.float32)]
    return np.concatenate(pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a multilingual CTranslate2 model dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    backend = FasterWhisperBackend(args.model, threads=args.threads, batched=False)
    backend.load()
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "single": recording(Path(tmp), [("en-us", EN), ("en-us", EN2)] * 2),
            "switching": recording(Path(tmp), [("en-us", EN), ("de", DE)] * 2),
        }
    for name, audio in files.items():
        times: dict[bool, list[float]] = {False: [], True: []}
        found: dict[bool, str] = {}
        for _ in range(args.rounds):
            for on in (False, True):
                options = TranscribeOptions(multilingual=on)
                started = time.perf_counter()
                t = backend.transcribe(audio, options, lambda f: None, lambda: False)
                times[on].append(time.perf_counter() - started)
                seen = dict.fromkeys(s.language or t.language or "?" for s in t.segments)
                found[on] = "+".join(seen)
        plain, every = statistics.median(times[False]), statistics.median(times[True])
        print(
            f"{name:9s} {len(audio) / 16000:5.1f}s audio  off {plain:5.2f}s ({found[False]})  "
            f"on {every:5.2f}s ({found[True]})  ratio {every / plain:.2f}x",
            flush=True,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
