"""What the dashboard looks like, at 80x24 and 200x60, on fixed data from a real daemon.

The database is written before the daemon starts (fixed titles, states and times, nothing
left to run) and the app's clock is pinned, so every render is the same. Regenerate after a
deliberate change with `pytest tests/tui --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import Home
from earwig.model import Job, JobState, Segment, Transcript
from earwig.store import Store
from earwig.tui.app import make_app
from earwig.tui.detail import JobDetailScreen
from helpers import DaemonProcess

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
NOW = T0 + 3 * 3600

SIZES = [(80, 24), (200, 60)]  # the narrowest terminal people use, and a wide one
JOBS = [
    ("Weekly standup 2025-12-31.m4a", JobState.DONE, "watch", None, 1805.0),
    ("The history of rivers — episode 41.mp3", JobState.DONE, "subscription", "Rivers", 3711.0),
    ("lecture-07-thermodynamics.mp4", JobState.DONE, "cli", None, 4920.0),
    ("voice memo.wav", JobState.FAILED, "watch", None, None),
    ("Interview with a bridge builder.mp3", JobState.PAUSED, "subscription", "Rivers", None),
    ("old draft.mp3", JobState.CANCELLED, "cli", None, None),
]


def seed(path: Path) -> None:
    store = Store(path)
    for i, (title, state, source, sub, duration) in enumerate(JOBS):
        created = T0 + i * 600
        times = {"queued": created, str(state): created + 300}
        job = store.add_job(
            Job(
                id=None,
                source=source,
                title=title,
                subscription=sub,
                state=state,
                path=f"/media/{title}",
                duration=duration,
                created_at=created,
                updated_at=created + 300,
                times=times,
                backend="faster-whisper" if state is JobState.DONE else None,
                model="tiny.en (bundled)" if state is JobState.DONE else None,
                error="voice memo.wav is corrupt or empty: 12 of 12 audio packets could not be "
                "decoded"
                if state is JobState.FAILED
                else None,
                hint="the file is not a playable audio or video file"
                if state is JobState.FAILED
                else None,
                outputs=(f"/transcripts/{Path(title).stem}.txt",) if state is JobState.DONE else (),
            )
        )
        if state is JobState.DONE:
            assert job.id is not None
            store.save_transcript(
                job.id,
                Transcript(
                    (
                        Segment(0.0, 4.2, " Good morning everyone, welcome to the weekly meeting."),
                        Segment(4.2, 9.8, " Today we talk about the budget for next year."),
                        Segment(754.0, 760.5, " Please send your questions before Friday."),
                    ),
                    "en",
                    duration or 0,
                    "faster-whisper",
                    "tiny.en (bundled)",
                ),
            )
    store.close()


@pytest.fixture
def seeded(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    seed(home.state / "earwig.db")
    daemon = home.daemon().start()
    try:
        yield home
    finally:
        daemon.kill()
        monkeypatch.undo()
        time.tzset()


async def until(pilot, condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    """Run the app until `condition` holds; if it never does, fail rather than take a
    picture of whatever is on screen (a snapshot of a half-loaded screen proves nothing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"the snapshot's precondition never came: {what}")
        await pilot.pause(0.05)


async def loaded(pilot) -> None:
    app = pilot.app
    await until(
        pilot,
        lambda: (
            app.connection == "connected"
            and app.screen.query_one("DataTable").row_count == len(JOBS)
        ),
        f"connected, with the {len(JOBS)} seeded jobs in the table",
    )
    await settled(pilot)


def _panel_settled(app) -> bool:
    if app.current_mode != "queue":
        return True  # no panel to wait for
    queue = app.screen_stack[0]
    panel, job = queue.query_one("#panel"), queue._current()
    if job is None:
        return True
    return panel.job_id == job["id"] and (job["state"] != "done" or job["id"] in panel.tails)


def _detail_settled(app) -> bool:
    screen = app.screen
    if not isinstance(screen, JobDetailScreen):
        return True
    return screen.job is not None and (screen.job["state"] != "done" or bool(screen.segments))


async def settled(pilot) -> None:
    """The queue's job panel shows the job under the cursor, with its last lines when done
    (it follows the cursor after a short rest, and asks the daemon for the lines); a job
    screen shows its job, with its transcript when done (it asks the daemon for both)."""
    await until(pilot, lambda: _panel_settled(pilot.app), "the job panel showing its job")
    await until(pilot, lambda: _detail_settled(pilot.app), "the job screen showing its job")
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_queue(seeded: Home, snap_compare, size) -> None:
    app = make_app(seeded.config, now=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES)
def test_job_detail(seeded: Home, snap_compare, size) -> None:
    async def open_detail(pilot) -> None:
        await loaded(pilot)
        await pilot.press("down", "down", "down", "enter")  # the newest done job
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, JobDetailScreen) and pilot.app.screen.segments,
            "the job screen with its transcript",
        )
        await pilot.pause(0.2)

    app = make_app(seeded.config, now=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=open_detail)


@pytest.mark.parametrize("size", SIZES)
def test_search(seeded: Home, snap_compare, size) -> None:
    async def search(pilot) -> None:
        await loaded(pilot)
        await pilot.press("slash")
        # a blinking cursor is drawn or not depending on when the picture is taken: steady
        pilot.app.screen.query_one("#query").cursor_blink = False
        await pilot.press(*"budget")
        await until(pilot, lambda: getattr(pilot.app.screen, "hits", None), "search hits")
        await pilot.pause(0.2)

    app = make_app(seeded.config, now=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=search)


def test_seeded_daemon_has_nothing_to_run(seeded: Home) -> None:
    """The snapshots rely on a quiet daemon: no job of the seed is runnable."""
    daemon = DaemonProcess(seeded.config, seeded.root / "probe.log")
    states = {j["state"] for j in daemon.jobs()}
    assert states.isdisjoint({"queued", "downloading", "fetching", "transcribing"})


@pytest.mark.parametrize(
    ("name", "keys", "size"),
    [
        ("keys", ["question_mark"], (80, 24)),  # every key, per screen, behind ?
        ("keys_wide", ["question_mark"], (200, 60)),
        ("confirm_delete", ["down", "down", "down", "d"], (80, 24)),
        ("filtered", ["s", "s"], (200, 60)),  # "3 of 6 · done" stays on screen
        ("marked_sorted", ["space", "space", "o"], (80, 24)),
        ("subscriptions_tab", ["2"], (80, 24)),
        ("job_details", ["down", "down", "down", "enter", "i"], (80, 24)),
        ("failed_job", ["down", "down", "enter"], (80, 24)),
    ],
)
def test_views(seeded: Home, snap_compare, name: str, keys: list[str], size) -> None:
    async def press(pilot) -> None:
        await loaded(pilot)
        await pilot.press(*keys)
        await settled(pilot)

    app = make_app(seeded.config, now=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=press)
