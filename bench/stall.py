"""How long the daemon's event loop stalls while heavy requests run: the worst and median wait
of `earwig status`, polled without pause, while another process sends a 200 KB search (refused
with a sentence), 100 URL adds and the longest search allowed, against the same polling with
nothing else sent (this machine's own noise). The goal is a worst stall under 100 ms.

    python bench/stall.py [--rounds 3]

The queue is paused and the model not preloaded, so what is measured is the requests' own cost
on the loop (see docs/reliability.md for what competes with it when downloads run).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from earwig import protocol as p
from earwig.client import DaemonClient
from harness import Daemon

LOAD = """
import sys
from earwig import protocol as p
from earwig.client import DaemonClient
from earwig.client import DaemonClient

with DaemonClient(sys.argv[1], timeout=60) as client:
    try:
        client.call(p.Search(query=" ".join(f"word{i}" for i in range(30_000))))  # 200 KB
    except Exception:
        pass  # refused with a sentence
    client.call(p.AddJobs(paths=[f"http://127.0.0.1:9/episode-{i}.mp3" for i in range(100)]))
    for _ in range(5):
        client.call(p.Search(query=" OR ".join(["bridge"] * 400)))
"""


def poll(daemon: Daemon, until: float | subprocess.Popen[bytes]) -> list[float]:
    waits: list[float] = []
    with DaemonClient(daemon.socket, timeout=60) as client:
        while (time.monotonic() < until) if isinstance(until, float) else until.poll() is None:
            started = time.perf_counter()
            client.call(p.GetStatus())
            waits.append(time.perf_counter() - started)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        script = root / "load.py"
        script.write_text(LOAD)
        with Daemon(root, transcribe="preload = false") as daemon:
            daemon.call(p.PauseQueue())
            for round_ in range(1, args.rounds + 1):
                idle = poll(daemon, time.monotonic() + 2.0)
                load = subprocess.Popen([sys.executable, str(script), str(daemon.socket)])
                busy = poll(daemon, load)
                load.wait(60)
                print(
                    f"round {round_}: worst {max(busy) * 1000:.0f} ms, median "
                    f"{statistics.median(busy) * 1000:.1f} ms over {len(busy)} calls; idle worst "
                    f"{max(idle) * 1000:.0f} ms, median {statistics.median(idle) * 1000:.1f} ms; "
                    f"worst x{max(busy) / max(idle):.1f} idle"
                )


if __name__ == "__main__":
    main()
