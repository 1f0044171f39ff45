"""The dashboard driven by Textual's Pilot against a real daemon on a temp socket."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from textual.screen import Screen
from textual.widgets import DataTable

from conftest import Home
from earwig import protocol as p
from earwig.model import Job, JobState
from earwig.store import Store
from earwig.tui.app import EarwigApp, make_app
from earwig.tui.detail import JobDetailScreen
from earwig.tui.dialogs import ConfirmDialog, HelpScreen
from earwig.tui.messages import HistoryPage
from earwig.tui.queue import QueueScreen, StatusBar
from earwig.tui.search import SearchScreen
from helpers import DaemonProcess, wait_for

SIZE = (100, 30)
S = TypeVar("S", bound=Screen[Any])


def screen_of(app: EarwigApp, kind: type[S]) -> S:
    """The app's current screen as the kind the test expects it to be (failing if not)."""
    screen = app.screen
    assert isinstance(screen, kind), f"on {screen!r}, not a {kind.__name__}"
    return screen


async def until(condition: Callable[[], object], pilot, timeout: float = 120, what: str = ""):
    """Let the app run until `condition` holds (a deadline, not a sleep: generous, since it
    only matters when the condition never comes, and a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def run(home: Home, scenario: Callable[[EarwigApp, object], Awaitable[None]]) -> None:
    async def main() -> None:
        app = make_app(home.config)
        async with app.run_test(size=SIZE) as pilot:
            await scenario(app, pilot)

    asyncio.run(main())


def table_rows(app: EarwigApp) -> list[list[str]]:
    screen = app.screen
    table = screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def status_text(app: EarwigApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


def test_the_queue_is_live_and_shows_progress(home: Home, daemon: DaemonProcess, long_wav):
    async def scenario(app: EarwigApp, pilot) -> None:
        await until(
            lambda: "No jobs yet" in str(app.screen.query_one("#notice").render()),
            pilot,
            what="the empty-queue notice",
        )
        shutil.copy(long_wav, home.watch / "long.wav")
        await until(
            lambda: any("█" in r[3] for r in table_rows(app)),
            pilot,
            what="a progress bar in the table",
        )
        row = table_rows(app)[0]
        assert row[0] == "transcribing" and row[1] == "long.wav" and "%" in row[3]
        await until(lambda: table_rows(app)[0][0] == "done", pilot, 120, what="done")
        assert table_rows(app)[0][3] == ""  # no bar once finished
        assert "1 done" in status_text(app) and "faster-whisper" in status_text(app)

    run(home, scenario)


def test_steering_from_the_keyboard(home: Home, daemon: DaemonProcess, second_wav: Path):
    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot, what="connection")
        await pilot.press("P")  # pause the queue so the job waits for us
        await until(lambda: app.status.get("queue_paused"), pilot, what="queue paused")
        assert daemon.call(p.GetStatus())["queue_paused"] is True
        assert "QUEUE PAUSED" in status_text(app)

        await pilot.press("a")
        await pilot.press(*str(second_wav), "enter")
        await until(lambda: app.jobs, pilot, what="the added job")
        (job_id,) = app.jobs
        await until(lambda: table_rows(app), pilot)
        await pilot.press("p")
        await until(lambda: daemon.call(p.GetJob(id=job_id))["job"]["state"] == "paused", pilot)
        await pilot.press("p")
        await until(lambda: daemon.call(p.GetJob(id=job_id))["job"]["state"] == "queued", pilot)
        await pilot.press("c")
        await until(lambda: daemon.call(p.GetJob(id=job_id))["job"]["state"] == "cancelled", pilot)
        await until(lambda: table_rows(app)[0][0] == "cancelled", pilot, what="the table")
        await pilot.press("r")
        await until(lambda: daemon.call(p.GetJob(id=job_id))["job"]["state"] == "queued", pilot)
        await pilot.press("P")
        await until(lambda: daemon.call(p.GetJob(id=job_id))["job"]["state"] == "done", pilot, 120)
        await pilot.press("a")
        await pilot.press(*"/no/such/file.wav", "enter")
        await until(
            lambda: "no such file" in str(app.screen.query_one("#dialog-error").render()),
            pilot,
            what="the dialog's error",
        )
        await pilot.press("escape")
        assert len(daemon.jobs()) == 1

    run(home, scenario)


def test_details_search_and_jump_to_the_hit(home: Home, daemon: DaemonProcess, second_wav):
    shutil.copy(second_wav, home.watch / "morning.wav")
    daemon.wait_idle(1)

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await pilot.press("enter")
        await until(
            lambda: isinstance(app.screen, JobDetailScreen) and app.screen.segments,
            pilot,
            what="the transcript",
        )
        texts = " ".join(r[1] for r in table_rows(app)).lower()
        assert "sunny" in texts and "morning" in texts
        meta = str(app.screen.query_one("#meta").render())
        assert "morning.wav" in meta and "faster-whisper" in meta and "morning.{txt" in meta
        await pilot.press("f", *"enjoy")
        table = app.screen.query_one(DataTable)
        assert "enjoy" in str(table.get_row_at(table.cursor_row)[1]).lower()
        await pilot.press("escape", "escape")  # leave the find box, then the screen
        await until(lambda: isinstance(app.screen, QueueScreen), pilot)

        await pilot.press("slash")
        await until(lambda: isinstance(app.screen, SearchScreen), pilot)
        await pilot.press(*"sunny")
        await until(lambda: screen_of(app, SearchScreen).hits, pilot, what="search hits")
        hit = screen_of(app, SearchScreen).hits[0]
        assert hit["title"] == "morning.wav"
        await pilot.press("enter", "enter")  # to the table, then open the hit
        await until(lambda: isinstance(app.screen, JobDetailScreen) and app.screen.segments, pilot)
        table = app.screen.query_one(DataTable)
        assert "sunny" in str(table.get_row_at(table.cursor_row)[1]).lower()

        await pilot.press("escape", "escape", "slash", *'"unbalanced')
        info = lambda: str(app.screen.query_one("#search-info").render())  # noqa: E731
        # while typing, an unreadable query asks for more instead of flashing an error
        await until(lambda: "keep typing" in info(), pilot, what="keep typing")
        await pilot.press("enter")  # enter says what is wrong
        await until(lambda: "cannot understand" in info(), pilot, what="the syntax error")

    run(home, scenario)


def test_a_long_history_loads_in_pages_and_stays_in_order(home: Home) -> None:
    """More than two pages of history (the app fetches 500 jobs at a time). The oldest job
    is paused, so it must sort to the top although it arrives on the last page; job 2 was
    re-transcribed a minute ago, so it sorts first among the finished ones."""
    store = Store(home.state / "earwig.db")
    t0 = time.time() - 10 * 86400
    with store.db.atomic():
        for i in range(1203):
            state = JobState.PAUSED if i == 0 else JobState.DONE
            updated = time.time() - 60 if i == 1 else t0 + i * 60
            store.add_job(
                Job(
                    id=None,
                    source="watch",
                    title=f"episode {i:04d}.mp3",
                    state=state,
                    path=f"/media/{i}.mp3",
                    created_at=t0 + i * 60,
                    updated_at=updated,
                )
            )
    store.close()
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        table = app.screen.query_one(DataTable)
        await until(lambda: table.row_count == 1203, pilot, what="all 1203 rows")
        await until(
            lambda: not screen_of(app, QueueScreen)._rebuild_pending, pilot, what="no rebuild"
        )
        titles = [r[1] for r in table_rows(app)]
        assert titles[:3] == ["episode 0000.mp3", "episode 0001.mp3", "episode 1202.mp3"]
        assert titles[-1] == "episode 0002.mp3"
        assert len(set(titles)) == 1203

        # Whether a page lands before or after the first paint depends on timing, so the
        # two ways a late page is placed are also driven directly through the app's page path.
        async def page(*jobs: dict[str, Any]) -> None:
            views = [cast(p.JobView, job) for job in jobs]  # only the fields the queue reads
            for view in views:
                app.jobs[view["id"]] = view
            app.broadcast(lambda: HistoryPage(views))
            await pilot.pause()

        older = {"id": -1, "title": "older.mp3", "state": "done", "updated_at": t0 - 60}
        await page(older)
        assert not screen_of(app, QueueScreen)._rebuild_pending  # appended, not rebuilt
        assert table_rows(app)[-1][1] == "older.mp3"
        stuck = {"id": -2, "title": "stuck.mp3", "state": "queued", "priority": 0}
        await page(stuck)
        await until(lambda: table_rows(app)[0][1] == "stuck.mp3", pilot, what="stuck on top")
        assert table.row_count == 1205

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_disconnect_then_reconnect(home: Home, second_wav: Path) -> None:
    daemon = home.daemon().start()
    shutil.copy(second_wav, home.watch / "morning.wav")
    daemon.wait_idle(1)
    holder = {"daemon": daemon}

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await asyncio.to_thread(holder["daemon"].stop, signal.SIGTERM)
        await until(lambda: app.connection != "connected", pilot, what="disconnected")
        # the bar is drawn at the next refresh, which a loaded machine may not have had yet
        await until(lambda: "disconnected" in status_text(app), pilot, 30, what="the bar")
        assert "○" in status_text(app)
        assert table_rows(app)  # the last known queue stays on screen
        holder["daemon"] = await asyncio.to_thread(home.daemon().start)
        await until(lambda: app.connection == "connected", pilot, 30, what="reconnected")
        await until(lambda: table_rows(app) and table_rows(app)[0][1] == "morning.wav", pilot)
        assert "●" in status_text(app)

    try:
        run(home, scenario)
    finally:
        holder["daemon"].kill()


def test_not_running_says_so_and_s_starts_it(home: Home) -> None:
    async def scenario(app: EarwigApp, pilot) -> None:
        await until(
            lambda: "press S" in str(app.screen.query_one("#notice").render()),
            pilot,
            what="the not-running notice",
        )
        assert app.connection == "not running"
        await pilot.press("S")
        await until(lambda: app.connection == "connected", pilot, 60, what="started daemon")

    try:
        run(home, scenario)
    finally:
        pid = wait_for(lambda: DaemonProcess(home.config, home.root / "x.log").call(p.GetStatus()))
        subprocess.run(["kill", str(pid["pid"])], check=False)
        wait_for(lambda: not home.socket.exists(), what="the daemon to stop")


def test_a_protocol_mismatch_is_explained(home: Home, tmp_path: Path) -> None:
    """A daemon of another protocol version cannot be installed here, so a socket that
    answers like one stands in for it."""
    home.socket.parent.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(home.socket))
    server.listen()
    answer = (
        b'{"id":null,"ok":false,"error":{"code":"protocol","message":"protocol mismatch: '
        b'client speaks 1, this side speaks 2","hint":"run the same earwig version"}}\n'
    )

    def serve() -> None:
        for _ in range(3):
            conn, _ = server.accept()
            conn.recv(1024)
            conn.sendall(answer)
            conn.close()

    import threading

    threading.Thread(target=serve, daemon=True).start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(
            lambda: "speaks 2" in str(app.screen.query_one("#notice").render()),
            pilot,
            what="the mismatch notice",
        )
        assert app.connection == "incompatible"
        assert "speaks 1" in str(app.screen.query_one("#notice").render())

    try:
        run(home, scenario)
    finally:
        server.close()


def test_a_daemon_that_does_not_answer_is_explained(home: Home) -> None:
    """A socket that accepts and never answers (a stuck daemon, or one at its fd limit): the
    dashboard says so, with what to do, and keeps trying (it used to lose its connect loop)."""
    home.socket.parent.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(home.socket))
    server.listen(16)

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(
            lambda: "earwig logs" in str(app.screen.query_one("#notice").render()),
            pilot,
            60,
            what="the not-answering notice",
        )
        assert app.connection == "not answering"
        assert "not answering" in str(app.screen.query_one("#notice").render())

    try:
        run(home, scenario)
    finally:
        server.close()


def test_the_dashboard_imports_no_daemon_internals_or_ml() -> None:
    code = (
        "import sys\n"
        "import earwig.tui.app\n"
        "bad = [m for m in sys.modules if m.startswith(('earwig.daemon', 'earwig.store', "
        "'earwig.transcribe', 'earwig.sources', 'faster_whisper', 'ctranslate2', 'av', "
        "'pywhispercpp', 'openai', "
        "'sqlite_utils', 'yt_dlp'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_tabs_switch_instead_of_stacking_and_keys_are_listed(home: Home, daemon) -> None:
    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot, what="connection")
        for key in "34234234":
            await pilot.press(key)
        assert app.current_mode == "log" and len(app.screen_stack) == 1
        bar = str(app.screen.query_one("TabBar").render())
        assert "4 Log" in bar and "1 Queue" in bar
        await pilot.press("1")  # one key home, not eight esc
        assert app.current_mode == "queue" and isinstance(app.screen, QueueScreen)
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), pilot, what="the key list")
        listed = dict(screen_of(app, HelpScreen).keys)
        assert {"enter", "d", "t", "P", "?", "q"} <= set(listed), listed
        assert "asks first" in listed["d"]
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        await pilot.click("TabBar", offset=(20, 0))  # "2 Subscriptions" is clickable
        await until(lambda: app.current_mode == "subscriptions", pilot, what="the click")

    run(home, scenario)


def test_delete_asks_first_and_no_keeps_the_job(home: Home, daemon, second_wav: Path) -> None:
    shutil.copy(second_wav, home.watch / "morning.wav")
    daemon.wait_idle(1)

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        # the panel under the queue shows the selected job, and its last lines once it rests
        panel = lambda: str(app.screen.query_one("#panel").render())  # noqa: E731
        await until(lambda: "sunny" in panel().lower(), pilot, what="the transcript's end")
        assert "#1 morning.wav" in panel() and "done" in panel()
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="the question")
        assert "Delete #1 morning.wav?" in str(app.screen.query_one("Label").render())
        await pilot.press("n")
        await until(lambda: isinstance(app.screen, QueueScreen), pilot)
        assert len(daemon.jobs()) == 1
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        await pilot.press("y")
        await until(lambda: not daemon.jobs(), pilot, what="the job deleted")
        await until(lambda: not table_rows(app), pilot, what="the row gone")

    run(home, scenario)


def test_an_open_job_follows_its_run_and_the_find_bar_moves_between_hits(
    home: Home, daemon, long_wav
) -> None:
    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot)
        shutil.copy(long_wav, home.watch / "long.wav")
        await until(lambda: table_rows(app) and table_rows(app)[0][0] != "queued", pilot)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetailScreen), pilot)
        screen = screen_of(app, JobDetailScreen)
        meta = lambda: str(screen.query_one("#meta").render())  # noqa: E731
        assert "[done]" not in meta()
        # no reopening: the screen follows the events until the transcript is there
        await until(lambda: "[done]" in meta() and screen.segments, pilot, 120, what="done")
        words = " ".join(s["text"] for s in screen.segments).lower()
        needle = "the"
        hits = [i for i, s in enumerate(screen.segments) if needle in s["text"].lower()]
        assert len(hits) >= 2, words
        await pilot.press("f", *needle, "enter")
        info = lambda: str(screen.query_one("#find-info").render())  # noqa: E731
        table = screen.query_one(DataTable)
        assert table.cursor_row == hits[0] and info() == f"1 of {len(hits)}"
        await pilot.press("n")  # the table has focus now: n moves, it does not type
        assert table.cursor_row == hits[1] and info() == f"2 of {len(hits)}"
        await pilot.press("N")
        assert table.cursor_row == hits[0]
        await pilot.press("escape")  # closes the bar only
        assert isinstance(app.screen, JobDetailScreen) and not screen.query_one("#findbar").display
        await pilot.press("f", *"zebraxyz")
        assert "no match" in info()
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, QueueScreen)

    run(home, scenario)


def test_s_says_why_the_daemon_did_not_start(home: Home) -> None:
    """A config the daemon refuses (a second [daemon] table): `S` shows its own words."""
    home.config.write_text(home.config.read_text() + '\n[daemon]\nsocket = "/tmp/x.sock"\n')

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "not running", pilot, what="not running")
        await pilot.press("S")
        await until(lambda: app.start_failure, pilot, 60, what="the failure")
        assert "did not start (exit 78)" in app.start_failure, app.start_failure
        assert str(home.config) in app.start_failure  # the daemon's message names the file
        await until(
            lambda: "exit 78" in str(app.screen.query_one("#notice").render()),
            pilot,
            what="the reason on screen",
        )

    run(home, scenario)


def test_a_speaker_is_named_from_the_job_screen(home: Home, tmp_path: Path) -> None:
    from conftest import conversation

    home.write_config(transcribe='speakers = "auto"')
    conversation(tmp_path / "talk.wav")
    daemon = home.daemon().start()
    shutil.copy(tmp_path / "talk.wav", home.watch / "talk.wav")
    daemon.wait_idle(1)

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetailScreen) and app.screen.segments, pilot)
        screen = screen_of(app, JobDetailScreen)
        await pilot.press("down")  # the second line: the second voice
        await pilot.press("R")
        await until(lambda: app.screen is not screen, pilot, what="the name dialog")
        await pilot.press(*"Ben", "enter")
        await until(
            lambda: any(s.get("speaker") == "Ben" for s in screen.segments), pilot, what="Ben"
        )
        assert table_rows(app)[1][1].startswith("Ben: ")
        voices = daemon.call(p.ListSpeakers())["voices"]
        assert [v["name"] for v in voices] == ["Ben"]

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_t_moves_the_row_and_the_cursor_goes_with_it(
    home: Home, daemon, speech_wav: Path, second_wav: Path
) -> None:
    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot)
        await pilot.press("P")  # hold the queue: both files wait
        await until(lambda: app.status.get("queue_paused"), pilot)
        shutil.copy(speech_wav, home.watch / "a.wav")
        await until(lambda: len(table_rows(app)) == 1, pilot, what="a.wav queued")
        shutil.copy(second_wav, home.watch / "b.wav")
        await until(lambda: len(table_rows(app)) == 2, pilot, what="b.wav queued")
        assert [r[1] for r in table_rows(app)] == ["a.wav", "b.wav"]
        await pilot.press("j", "t")  # b.wav to the top of the queue
        await until(
            lambda: [r[1] for r in table_rows(app)] == ["b.wav", "a.wav"], pilot, what="moved"
        )
        # the cursor went with its job (k9s, lazygit): the next key acts on b.wav again
        queue = screen_of(app, QueueScreen)
        table = queue.query_one(DataTable)
        await until(lambda: table.cursor_row == 0, pilot, what="the cursor on b.wav")
        current = queue._current()
        assert current is not None and current["title"] == "b.wav"
        assert queue.selected == current["id"]

    run(home, scenario)


def test_the_job_screen_shows_the_summary_and_i_its_chapters(home: Home, second_wav: Path) -> None:
    """A language model's summary (the scripted stand-in of tests/llmserver.py): its title in
    the job screen's header, `i` the summary and the chapters."""
    from llmserver import Standin

    with Standin("scripted") as model:
        home.write_config(extra=f'\n[llm]\nbase_url = "{model.base}"\nmodel = "scripted"\n')
        daemon = home.daemon().start()
        shutil.copy(second_wav, home.watch / "morning.wav")
        job = daemon.wait_job(lambda j: j["state"] == "done" and not j["stage"], 180)
        assert daemon.call(p.GetJob(id=job["id"])).get("summary")

        async def scenario(app: EarwigApp, pilot) -> None:
            await until(lambda: app.connection == "connected" and table_rows(app), pilot)
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, JobDetailScreen), pilot)
            screen = screen_of(app, JobDetailScreen)
            meta = lambda: str(screen.query_one("#meta").render())  # noqa: E731
            await until(lambda: "A scripted title" in meta(), pilot, what="the summary's title")
            assert "A scripted summary" not in meta()  # folded: the title alone
            await pilot.press("i")
            await until(lambda: "A scripted summary of the recording." in meta(), pilot)
            assert "00:00 Opening" in meta()

        try:
            run(home, scenario)
        finally:
            daemon.kill()
