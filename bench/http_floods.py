"""What a flood of HTTP clients costs the rest of the daemon (issue 41, items 3 and 8):

1. 1,100 connections that send their request line a byte a second, from 20 loopback
   addresses, with the daemon at a 1,024-descriptor limit: how long `earwig status` waits
   over the socket (the worst of 20 tries while the flood is held; a try gives up at 5 s),
   the daemon's descriptors and the log lines it wrote.
2. 500 Server-Sent Events clients that never read, over a database of `--jobs` jobs (their
   snapshot is what fills the buffers), 200 queue events for each, then all closed at once:
   the daemon's RSS before, held and after, and the worst status wait while they close.

    python bench/http_floods.py [--jobs 500]

Run it against another checkout's code with PYTHONPATH=/that/checkout/src (the daemon is a
subprocess and imports earwig from there); numbers are ratios to compare on one machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from earwig import protocol as p
from earwig.client import DaemonClient
from earwig.errors import EarwigError
from harness import Daemon, wait

SOURCES = [f"127.0.0.{i}" for i in range(2, 22)]


def status_wait(sock: Path, give_up: float = 5.0) -> float:
    t0 = time.monotonic()
    try:
        with DaemonClient(sock, timeout=give_up) as client:
            client.call(p.GetStatus())
    except (EarwigError, OSError):
        return give_up
    return time.monotonic() - t0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def slow_headers(daemon: Daemon, host: str, port: int) -> None:
    soft, hard = resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE, (1024, hard))
    lines_before = len(daemon.log.read_text().splitlines())
    held = []
    for i in range(1100):
        s = socket.socket()
        s.setblocking(False)
        s.bind((SOURCES[i % len(SOURCES)], 0))
        with contextlib.suppress(BlockingIOError):
            s.connect((host, port))
        held.append(s)
    stop = threading.Event()

    def dribble() -> None:
        while not stop.wait(1):
            for s in held:
                with contextlib.suppress(OSError):
                    s.send(b"G")

    threading.Thread(target=dribble, daemon=True).start()
    time.sleep(2)
    waits = []
    for _ in range(20):
        waits.append(status_wait(daemon.socket))
        time.sleep(0.25)
    held_fds = fds(daemon.pid)
    stop.set()
    for s in held:
        s.close()
    resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE, (soft, hard))
    lines = daemon.log.read_text().splitlines()[lines_before:]
    print(
        f"slow headers: status worst {max(waits):.3f}s median {sorted(waits)[10]:.3f}s "
        f"({sum(w >= 5 for w in waits)} of 20 gave up at 5 s); daemon fds held {held_fds}; "
        f"log lines {len(lines)}, tracebacks {sum('Traceback' in x for x in lines)}"
    )


def never_reading_streams(daemon: Daemon, host: str, port: int, token: str) -> None:
    before = rss_mb(daemon.pid)
    streams = []
    for i in range(500):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((SOURCES[i % len(SOURCES)], 0))
        s.settimeout(30)
        try:
            s.connect((host, port))
            s.sendall(
                f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
        except OSError:
            s.close()
            continue
        streams.append(s)
    with httpx.Client(
        base_url=f"http://{host}:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for _ in range(100):
            for action in ("pause", "resume"):
                with contextlib.suppress(httpx.HTTPError):
                    client.post(f"/api/queue/{action}", timeout=30)
    time.sleep(2)
    held = rss_mb(daemon.pid)
    waits: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            waits.append(status_wait(daemon.socket, 30))
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.5)
    for s in streams:
        s.close()
    time.sleep(10)
    done.set()
    prober.join()
    after = rss_mb(daemon.pid)
    print(
        f"never-reading streams: {len(streams)} open; RSS {before:.0f} -> {held:.0f} held "
        f"-> {after:.0f} MB 10 s after closing; worst status wait while closing "
        f"{max(waits):.3f}s (median {sorted(waits)[len(waits) // 2]:.3f}s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    with tempfile.TemporaryDirectory(prefix="ew-floods-") as tmp:
        root = Path(tmp)
        http = 'listen = "127.0.0.1:0"'
        with Daemon(root, http=http, transcribe="preload = false") as daemon:
            daemon.call(p.PauseQueue())
            urls = [f"http://127.0.0.1:9/episode-{i}.mp3" for i in range(args.jobs)]
            daemon.call(p.AddJobs(paths=urls), timeout=120)
            view = wait(lambda: daemon.call(p.GetStatus())["http"].get("url"))
            host, port = view.removeprefix("http://").rstrip("/").rsplit(":", 1)
            token = (root / "state" / "http-token").read_text().strip()
            slow_headers(daemon, host, int(port))
            time.sleep(12)  # the slow ones time out (or not)
            never_reading_streams(daemon, host, int(port), token)
        print(
            "code:",
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
            ).stdout.strip(),
        )


if __name__ == "__main__":
    main()
