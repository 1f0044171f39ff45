"""The HTTP doors: 20 clips of 5-20 s sent at once to /v1/audio/transcriptions, against the
raw engine transcribing the same clips one after another and batched on all of them joined;
the same 20 requests against faster-whisper-server (PyPI) on the same model; GET /api/status
latency; and the daemon's idle memory with HTTP on and off.

    python bench/http_api.py [--clips 20] [--rounds 3] [--against OTHER/src] [--no-server]
                             [--status 300]

(a) bench/burst.py's table with every clip its own /v1 request, all in flight together (each
its own connection and thread, as 20 Bazarr or Open WebUI users would send them): throughput
is seconds of audio per wall second from the first request sent to the last answer read,
medians of `--rounds`, against the raw engine (faster-whisper on the bundled tiny.en, loaded
beforehand, the clips decoded beforehand) one clip after another and batched on the clips
joined; the first answer's latency; a lone request's latency; with `--against`, a daemon run
from another checkout's `src/` in alternate order. Each request is an API job: it goes through
the queue, the runner and the store like any job.
(b) faster-whisper-server 0.0.3 on the same model directory, the same 20 requests at once.
(c) the median and 95th percentile of GET /api/status over one keep-alive connection (and of
the socket's "status" for comparison); RSS of an idle daemon (preload = false, so the model
is not in either figure) without and with [http] listen.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import burst  # bench/burst.py: the table of (a)
import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig import protocol as p
from earwig.client import DaemonClient
from earwig.speech import synthesize
from earwig.transcribe.audio import SAMPLE_RATE, decode
from harness import wait
from overhead import SENTENCES, rss_mb  # bench/overhead.py


def make_clips(folder: Path, count: int) -> list[tuple[Path, str]]:
    """5 to 20 s each: one to four sentences; with their text."""
    clips = []
    for i in range(count):
        n = 1 + i % 4
        text = f"Clip {i + 1}. " + " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(n))
        clips.append((synthesize(text, folder / f"clip{i + 1:02d}.wav"), text))
    return clips


def start_daemon(
    root: Path, http: bool, workers: int = 1, preload: bool = True
) -> tuple[harness.Daemon, DaemonClient, str, str]:
    """A daemon (bench/harness.py) with HTTP on a free port or off; ready once it listens
    and, with `preload`, has its model loaded: (daemon, a connected client, URL, token)."""
    shutil.rmtree(root, ignore_errors=True)
    listen = "127.0.0.1:0" if http else ""
    daemon = harness.Daemon(
        root,
        transcribe=f"threads = 2\nworkers = {workers}\npreload = {str(preload).lower()}",
        extra=f'[downloads]\ndir = "{root}/media"\n',
        http=f'listen = "{listen}"',
    ).start(120)
    client = DaemonClient(daemon.socket, timeout=30)
    client.connect()

    def ready() -> p.Status | None:
        st = client.call(p.GetStatus())
        if http and st["http"].get("state") != "listening":
            return None
        if preload and not st["backend"]["loaded"]:
            return None
        return st

    status = wait(ready, 120)
    url = status["http"].get("url", "").rstrip("/")
    token = (root / "state" / "http-token").read_text().strip() if http else ""
    return daemon, client, url, token


def at_once(clips: list[Path], base: str, token: str) -> float:
    """Every clip as its own request, all in flight together; the wall time to the last."""
    import httpx

    def send(clip: Path) -> str:
        with httpx.Client(timeout=600) as c, clip.open("rb") as fh:
            r = c.post(
                base + "/v1/audio/transcriptions",
                files={"file": (clip.name, fh, "audio/wav")},
                data={"model": "whisper-1", "response_format": "json"},
                headers={"Authorization": f"Bearer {token or 'none'}"},
            )
            r.raise_for_status()
            return str(r.json()["text"])

    with concurrent.futures.ThreadPoolExecutor(len(clips)) as pool:
        t0 = time.perf_counter()
        texts = list(pool.map(send, clips))
        wall = time.perf_counter() - t0
    assert all(texts), "an empty transcript"
    return wall


def latency(url: str, token: str, client: DaemonClient, n: int) -> dict[str, float]:
    import httpx

    http, sock = [], []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        c.get("/api/status")
        for _ in range(n):
            t0 = time.perf_counter()
            c.get("/api/status").raise_for_status()
            http.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.call(p.GetStatus())
            sock.append(time.perf_counter() - t0)

    def q95(xs: list[float]) -> float:
        return sorted(xs)[int(0.95 * (len(xs) - 1))]

    return {
        "http_median_ms": 1000 * statistics.median(http),
        "http_p95_ms": 1000 * q95(http),
        "socket_median_ms": 1000 * statistics.median(sock),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lone", type=int, default=5, help="lone requests to time")
    parser.add_argument("--against", type=Path, help="another checkout's src/, run in turn")
    parser.add_argument("--no-server", action="store_true", help="skip faster-whisper-server")
    parser.add_argument("--status", type=int, default=300, help="status requests to time")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ewh-", dir="/tmp"))
    try:
        clips = make_clips(tmp, args.clips)
        table = argparse.Namespace(**vars(args), door="http", gather=None)
        burst.burst_table(args.clips, table, tmp / "a", clips)
        if not args.no_server:
            sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
            from speechserver import SpeechServer

            paths = [c for c, _ in clips]
            server = SpeechServer(tmp / "fws.log").start()
            try:
                at_once(paths[:1], server.base, "")
                wall = at_once(paths, server.base, "")
            finally:
                server.stop()
            seconds = sum(len(decode(c)) / SAMPLE_RATE for c in paths)
            print(f"\n| (b) faster-whisper-server, {len(paths)} at once | {wall:.1f} s | "
                  f"{seconds / wall:.1f} audio s / s |")  # fmt: skip

        memory = {}
        for http in (False, True):
            daemon, client, url, token = start_daemon(tmp / "idle", http, preload=False)
            try:
                time.sleep(2.0)  # start-up settles before idle memory is read
                memory[http] = rss_mb(daemon.pid)
                if http:
                    lat = latency(url, token, client, args.status)
            finally:
                client.close()
                daemon.stop(60)
        print("\n| (c) | figure | goal |\n|---|---|---|")
        print(f"| GET /api/status median | {lat['http_median_ms']:.1f} ms | < 20 ms |")
        print(f"| GET /api/status 95th percentile | {lat['http_p95_ms']:.1f} ms | |")
        print(f"| socket status median (for comparison) | {lat['socket_median_ms']:.1f} ms | |")
        print(f"| idle RSS, HTTP off | {memory[False]:.0f} MB | |")
        print(f"| idle RSS, HTTP on | {memory[True]:.0f} MB (+{memory[True] - memory[False]:.0f}"
              " MB) | < +30 MB |")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
