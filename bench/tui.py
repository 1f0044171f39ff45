"""Dashboard speed with a big history: 10,000 jobs in the store of a real daemon.

Prints, medians over rounds:
  * start -> first painted queue (headless, connected, first page of rows on screen);
  * start -> all 10,000 jobs loaded (the rest comes in pages of 500);
  * applying 1,000 progress events (the path the socket's events take) and repainting;
  * a keypress (cursor down) -> screen updated, and typing a filter character -> rebuilt table.

    python bench/tui.py [--jobs 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from textual.app import App
from textual.coordinate import Coordinate
from textual.widgets import DataTable

import harness  # bench/harness.py: the daemon every benchmark starts the same way
from earwig.model import Job, JobState
from earwig.store import Store
from earwig.tui.app import make_app
from earwig.tui.queue import QueueScreen


def seed(db: Path, count: int) -> None:
    store = Store(db)
    now = time.time()
    with store.db.atomic():
        for i in range(count):
            state = JobState.DONE if i % 10 else JobState.FAILED
            store._insert_job(
                Job(
                    id=None,
                    source="watch",
                    title=f"episode {i:05d}.mp3",
                    state=state,
                    path=f"/media/{i}.mp3",
                    duration=1800.0,
                    created_at=now - (count - i) * 60,
                    updated_at=now - (count - i) * 60,
                    times={"queued": now - (count - i) * 60},
                )
            )
    store.close()


def queue_screen(app: App[object]) -> QueueScreen:
    screen = app.screen
    assert isinstance(screen, QueueScreen), screen
    return screen


async def measure(config: Path, jobs: int) -> dict[str, float]:
    t0 = time.perf_counter()
    app = make_app(config)
    result: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            table = app.screen.query_one(DataTable)
            if table.row_count:
                break
            await pilot.pause(0.005)
        result["first_paint"] = time.perf_counter() - t0
        while len(app.jobs) < jobs or queue_screen(app)._rebuild_pending:
            await pilot.pause(0.01)
        await pilot.pause()
        result["all_loaded"] = time.perf_counter() - t0
        assert table.row_count == jobs, table.row_count

        # 1,000 progress events on the jobs at the top of the table
        top = [
            int(str(table.coordinate_to_cell_key(Coordinate(r, 0)).row_key.value))
            for r in range(20)
        ]
        for job_id in top:
            app.jobs[job_id]["state"] = "transcribing"
        t = time.perf_counter()
        for n in range(1000):
            job_id = top[n % len(top)]
            app._on_event(
                {
                    "type": "event",
                    "event": "job.progress",
                    "data": {
                        "id": job_id,
                        "phase": "transcribing",
                        "fraction": n / 1000,
                        "speed": 3.0,
                        "eta": 10,
                    },
                }
            )
        await pilot.pause()
        result["progress_1000"] = time.perf_counter() - t

        result["keypress"] = await keypresses(pilot)

        await pilot.press("f")
        t = time.perf_counter()
        await pilot.press("9")  # returns once the key is handled; the rebuild may be queued
        while queue_screen(app)._rebuild_pending:
            await pilot.pause(0.001)
        await pilot.pause()
        result["filter_keypress"] = time.perf_counter() - t
        assert 0 < table.row_count < jobs, table.row_count
    return result


async def keypresses(pilot, count: int = 20) -> float:
    """The median of `count` cursor-down presses, each until the screen is updated."""
    times = []
    for _ in range(count):
        t = time.perf_counter()
        await pilot.press("down")
        await pilot.pause()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def baseline(jobs: int) -> dict[str, float]:
    """The raw widget: a bare Textual app with one DataTable holding the same rows."""
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    class Bare(App):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for name in ("state", "title", "kind", "progress", "backend", "length", "age"):
                table.add_column(name, key=name)
            fill(table, jobs)

    def fill(table: DataTable, count: int) -> None:
        table.clear()
        for i in range(count):
            table.add_row(
                Text("done", style="dim green"),
                Text(f"episode {i:05d}.mp3", overflow="ellipsis", no_wrap=True),
                "file",
                "",
                "faster-whisper",
                "30:00",
                f"{i}m",
                key=str(i),
            )

    t0 = time.perf_counter()
    app = Bare()
    result: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        while not table.row_count:
            await pilot.pause(0.005)
        await pilot.pause()
        result["all_loaded"] = time.perf_counter() - t0
        t = time.perf_counter()  # the same 1,000 progress cells, written straight in
        for n in range(1000):
            bar = f"{'█' * (n % 10)}{'░' * (10 - n % 10)} {n / 10:3.0f}% 3.0x 0:10"
            table.update_cell(str(n % 20), "progress", bar)
        await pilot.pause()
        result["progress_1000"] = time.perf_counter() - t
        result["keypress"] = await keypresses(pilot)
        t = time.perf_counter()
        fill(table, sum("9" in f"{i:05d}" for i in range(jobs)))  # what "9" leaves
        await pilot.pause()
        result["filter_keypress"] = time.perf_counter() - t
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ewt-", dir="/tmp"))
    try:
        daemon = harness.Daemon(root)
        seed(root / "e.db", args.jobs)
        with daemon:
            rounds = [asyncio.run(measure(daemon.config, args.jobs)) for _ in range(args.rounds)]
            bare = [asyncio.run(baseline(args.jobs)) for _ in range(args.rounds)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = statistics.median

    def row(label: str, key: str) -> None:
        ours = med(r[key] for r in rounds)
        line = f"{label:<46}: {ours * 1000:8.1f} ms"
        if key in bare[0]:
            raw = med(r[key] for r in bare)
            line += f"   bare DataTable {raw * 1000:8.1f} ms   x{ours / raw:.1f}"
        print(line)

    print(f"{args.jobs} jobs in the store, 120x40, {args.rounds} rounds, medians")
    print("(bare DataTable: a one-widget Textual app filled with the same rows in-process)")
    row("start -> first painted queue", "first_paint")
    row(f"start -> all {args.jobs} jobs loaded", "all_loaded")
    row("1,000 progress events applied and painted", "progress_1000")
    row("keypress (cursor down) -> screen updated", "keypress")
    row("filter keypress -> table rebuilt", "filter_keypress")


if __name__ == "__main__":
    main()
