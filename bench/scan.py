"""What does a large media library cost at start-up?

Builds a `beside` folder of N video names (default 20,000; half of them with a `NAME.en.srt`
beside), then runs the daemon's own parts in-process (real SQLite store, queue, intake and
folder watcher) twice:
  * first start: every file is new: a subtitled one is skipped before hashing (its job is
    left cancelled with the reason), the others are hashed and queued;
  * restart: every file is known by (path, size, mtime): nothing is hashed or probed again.
Prints the wall time of each scan, how many files were hashed, and the restart's cost per
file against a bare `os.walk` + `stat` of the same tree (the floor any scan pays).

    python bench/scan.py [--files 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from earwig import media
from earwig.config import WatchConfig
from earwig.daemon.bus import Bus
from earwig.daemon.intake import Intake
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.daemon.watch import FolderWatcher
from earwig.store import Store

hashed = 0
_sha256 = media.sha256_file


def counting_sha256(path: Path) -> str:
    global hashed
    hashed += 1
    return _sha256(path)


media.sha256_file = counting_sha256  # type: ignore[assignment]


def build(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / f"Show {i // 500}" / f"Season {i // 50 % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        video = folder / f"Episode {i}.mkv"
        video.write_bytes(os.urandom(2048))  # not decodable: the check must not need to
        if i % 2 == 0:
            (folder / f"Episode {i}.en.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nx\n")


async def scan(db: Path, watch: WatchConfig) -> tuple[float, int, int]:
    """One start: the watcher's scan, then every noted file through the intake."""
    global hashed
    hashed = 0
    store = Store(db)
    queue = JobQueue(store, Events(store, Bus()), lambda: RetryPolicy(3, 30.0))
    intake = Intake(queue, queue.events, lambda w: Path(tempfile.gettempdir()))
    watcher = FolderWatcher((watch,), 0.0, intake.watched_file_ready, intake.already_known)
    start = time.perf_counter()
    for w in watcher.watches:
        watcher._scan(w, initial=True)  # what run() does before the daemon says ready
    for path, pending in list(watcher.pending.items()):
        await intake.watched_file_ready(path, pending.watch)
    took = time.perf_counter() - start
    jobs = store.count_jobs()
    store.close()
    return took, hashed, jobs


def bare_walk(root: Path) -> float:
    start = time.perf_counter()
    for folder, _, names in os.walk(root):
        for name in names:
            os.stat(os.path.join(folder, name))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "library"
        build(root, args.files)
        watch = WatchConfig(root, output="beside")
        db = Path(tmp) / "earwig.db"
        first, first_hashed, jobs = asyncio.run(scan(db, watch))
        again, again_hashed, jobs_after = asyncio.run(scan(db, watch))
        floor = min(bare_walk(root) for _ in range(3))
    n = args.files
    print(f"{n} videos, {n // 2} with subtitles beside them")
    print(f"first start: {first:.1f} s, {first_hashed} hashed, {jobs} jobs")
    print(f"restart:     {again:.2f} s, {again_hashed} hashed, {jobs_after - jobs} new jobs")
    print(f"walk + stat: {floor:.2f} s; restart / walk: x{again / floor:.1f}")
    print(f"restart per file: {again / n * 1e6:.0f} us")


if __name__ == "__main__":
    main()
