"""The pool: 20 short files through 1, 2 and 3 OpenAI-compatible servers on loopback (and
the servers plus this machine's own slot), against the raw engine: the same 20 files sent
one after another to one server with the OpenAI client, as a script would.

Each server is PyPI's faster-whisper-server on the bundled model (tiny.en). For each setup a
fresh `earwig run` (workers = 0 unless the local slot is asked for) gets all 20 files dropped
into its watched folder at once; the clock runs from the first job starting to the last one
done. Prints throughput (seconds of audio per wall second), its ratio to the raw engine and
to one server, and earwig's own scheduling overhead per job: the median time from a slot
becoming free to it claiming its next job (goal: under 50 ms).

    python bench/pool.py [--files 20] [--rounds 1] [--servers 3]

All servers here share this machine's cores: on 2 cores, more servers cannot transcribe
faster; the ratio shows what earwig adds or loses. On separate machines each server brings
its own cores (or GPU), and the same ratios would scale with them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig import protocol as p
from earwig.speech import synthesize
from earwig.transcribe import audio, models
from harness import wait
from overhead import SENTENCES  # bench/overhead.py: the same clips

RAW = "raw engine (1 server, one file at a time)"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log: Path) -> tuple[subprocess.Popen, str]:
    model_dir, _ = models.resolve_ctranslate2("bundled")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "faster_whisper_server", str(model_dir), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with urllib.request.urlopen(base + "/health", timeout=2) as r:
            return r.status == 200

    wait(healthy, 120)
    return proc, base + "/v1"


def raw(clips: list[Path], url: str) -> float:
    """The engine alone: each file to one server in turn with the OpenAI client."""
    from openai import OpenAI

    client = OpenAI(api_key="none", base_url=url)
    t0 = time.perf_counter()
    for clip in clips:
        with clip.open("rb") as fh:
            client.audio.transcriptions.create(file=fh, model="whisper-1")
    return time.perf_counter() - t0


def through_earwig(clips: list[Path], urls: list[str], workers: int, root: Path) -> dict:
    shutil.rmtree(root, ignore_errors=True)
    servers = "".join(f'\n[[transcribe.servers]]\nurl = "{u}"\n' for u in urls)
    daemon = harness.Daemon(
        root,
        stable_after="0.2s",
        transcribe=f"workers = {workers}\nthreads = 2",
        output='formats = ["txt"]',
        extra=servers,
    )
    with daemon:
        for clip in clips:
            shutil.copy(clip, daemon.watch / clip.name)

        def finished() -> list[p.JobView] | None:
            jobs = daemon.jobs()
            done = [j for j in jobs if j["state"] in ("done", "failed")]
            return jobs if len(done) == len(clips) else None

        jobs = wait(finished)
        slots = daemon.call(p.GetStatus())["slots"]
    failed = [j for j in jobs if j["state"] != "done"]
    if failed:
        raise RuntimeError(f"{len(failed)} job(s) failed: {failed[0].get('error')}")
    start = min(j["times"]["fetching"] for j in jobs)
    end = max(j["times"]["done"] for j in jobs)
    gaps = [s["gap_ms"] for s in slots if s["gap_ms"] is not None]
    per_slot = {s["name"]: s["done"] for s in slots}
    return {"wall": end - start, "gap_ms": statistics.median(gaps) if gaps else None,
            "per_slot": per_slot}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument(
        "--local", action="store_true", help="only this machine: workers = 1 against 2"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="earwig-pool-"))
    clips = [
        synthesize(f"Clip {i + 1}. " + SENTENCES[i % len(SENTENCES)], tmp / f"clip{i:02d}.wav")
        for i in range(args.files)
    ]
    seconds = sum(len(audio.decode(c)) / audio.SAMPLE_RATE for c in clips)
    print(f"{len(clips)} files, {seconds:.0f} s of speech; servers: faster-whisper-server tiny.en")
    if args.local:
        local(clips, seconds, args.rounds, tmp)
        return
    procs, urls = [], []
    try:
        for n in range(args.servers):
            proc, url = start_server(tmp / f"server{n}.log")
            procs.append(proc)
            urls.append(url)
        raw(clips[:2], urls[0])  # warm each server's model: loading is not what is measured
        for url in urls[1:]:
            raw(clips[:1], url)
        setups = [(f"{n} server(s)", urls[:n], 0) for n in range(1, len(urls) + 1)]
        setups.append((f"{len(urls)} server(s) + local slot", urls, 1))
        results: dict[str, list[dict]] = {RAW: []}
        for name, _, _ in setups:
            results[name] = []
        for _ in range(args.rounds):
            results[RAW].append({"wall": raw(clips, urls[0]), "gap_ms": None, "per_slot": {}})
            for name, use, workers in setups:
                results[name].append(through_earwig(clips, use, workers, tmp / "run"))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    base = statistics.median(r["wall"] for r in results[RAW])
    one = statistics.median(r["wall"] for r in results["1 server(s)"])
    print("\n| setup | wall | audio s / s | vs raw engine | vs 1 server | overhead | per slot |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        gaps = [r["gap_ms"] for r in runs if r["gap_ms"] is not None]
        gap = f"{statistics.median(gaps):.1f} ms" if gaps else ""
        print(
            f"| {name} | {wall:.1f} s | {seconds / wall:.1f} | x{base / wall:.2f} | "
            f"x{one / wall:.2f} | {gap} | {runs[-1]['per_slot'] or ''} |"
        )
    shutil.rmtree(tmp, ignore_errors=True)


def local(clips: list[Path], seconds: float, rounds: int, tmp: Path) -> None:
    """This machine alone: is one worker with every thread, or two with half each, faster?
    (the measurement behind `workers = 1` as the default on small machines)."""
    walls: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in walls:
            walls[workers].append(through_earwig(clips, [], workers, tmp / "run")["wall"])
    one = statistics.median(walls[1])
    print("\n| this machine | wall | audio s / s | vs workers = 1 |\n|---|---|---|---|")
    for workers, runs in walls.items():
        wall = statistics.median(runs)
        print(f"| workers = {workers} | {wall:.1f} s | {seconds / wall:.1f} | x{one / wall:.2f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
