"""The dashboard's second round, driven by Pilot against a real daemon: the cursor stays on
its job, destructive keys ask one way, lines arrive live, every tab says when the daemon is
away, and the keys a k9s or lazygit user reaches for."""

from __future__ import annotations

import shutil
import signal
import stat
import time
from pathlib import Path

import pytest
from test_dashboard import run, screen_of, table_rows, until
from textual.widgets import DataTable, Input

from conftest import Home
from earwig import protocol as p
from earwig.model import Job, JobState, Segment, Transcript
from earwig.store import Store
from earwig.tui.app import EarwigApp
from earwig.tui.detail import JobDetailScreen
from earwig.tui.dialogs import AddDialog, ConfirmDialog, HelpScreen
from earwig.tui.log import LogScreen
from earwig.tui.queue import QueueScreen
from earwig.tui.search import SearchScreen
from earwig.tui.sources import SourcesScreen
from earwig.tui.widgets import StatusBar
from helpers import DaemonProcess


def notes(app: EarwigApp) -> list[str]:
    """What the app has told the user in toasts, oldest first."""
    return [n.message for n in app._notifications]


def panel_text(app: EarwigApp) -> str:
    return str(app.screen.query_one("#panel").render())


def titles(app: EarwigApp) -> list[str]:
    return [r[1].removeprefix("● ") for r in table_rows(app)]


def seed(home: Home, jobs: list[tuple[str, JobState]], segments: int = 0) -> None:
    """Jobs written before the daemon starts (nothing runnable unless queued)."""
    store = Store(home.state / "earwig.db")
    t0 = time.time() - 3600
    for i, (title, state) in enumerate(jobs):
        job = store.add_job(
            Job(
                id=None,
                source="watch",
                title=title,
                state=state,
                path=str(home.watch / title),
                duration=60.0 * (i + 1),
                created_at=t0 + i * 60,
                updated_at=t0 + i * 60,
                error="it broke" if state is JobState.FAILED else None,
            )
        )
        if state is JobState.DONE and segments:
            lines = tuple(
                Segment(float(n * 5), float(n * 5 + 4), f" line {n} of {title}", speaker="Ann")
                for n in range(segments)
            )
            assert job.id is not None
            store.save_transcript(job.id, Transcript(lines, "en", 60.0, "faster-whisper", "t"))
    store.close()


def test_the_cursor_stays_on_its_job_and_says_when_it_leaves(
    home: Home, daemon: DaemonProcess, speech_wav: Path, second_wav: Path
) -> None:
    shutil.copy(speech_wav, home.watch / "a.wav")
    daemon.wait_idle(1)

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await pilot.press("P")  # hold the queue: what arrives waits
        await until(lambda: app.status.get("queue_paused"), pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen) and titles(app) == ["a.wav"]
        shutil.copy(second_wav, home.watch / "b.wav")  # arrives above a.wav
        await until(lambda: titles(app) == ["b.wav", "a.wav"], pilot, what="b.wav on top")
        table = screen.query_one(DataTable)
        await until(lambda: table.cursor_row == 1, pilot, what="the cursor moved with a.wav")
        current = screen._current()
        assert current is not None and current["title"] == "a.wav"
        await pilot.press("k")  # onto b.wav, then show only active jobs and cancel it
        await pilot.press("s")
        await until(lambda: titles(app) == ["b.wav"], pilot, what="the active view")
        await pilot.press("c")  # queued: nothing to lose, no question
        await until(lambda: not table_rows(app) or titles(app) != ["b.wav"], pilot)
        await until(lambda: "left this view" in panel_text(app), pilot, what="the panel says")
        assert "#2 b.wav is cancelled and left this view (active)" in panel_text(app)

    run(home, scenario)


def test_destructive_keys_ask_before_running_work_is_lost(home: Home, long_wav: Path) -> None:
    home.write_config(transcribe="batched = false")  # slow and steady: time to press keys
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot)
        shutil.copy(long_wav, home.watch / "long.wav")
        await until(lambda: titles(app) and table_rows(app)[0][0] == "transcribing", pilot)
        await pilot.press("c")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="c asks")
        question = str(app.screen.query_one("Label").render())
        detail = str(app.screen.query_one("#confirm-detail").render())
        assert question == "Cancel #1 long.wav?" and "work so far is lost" in detail
        await pilot.press("n")
        await until(lambda: isinstance(app.screen, QueueScreen), pilot)
        assert daemon.call(p.GetJob(id=1))["job"]["state"] == "transcribing"
        await pilot.press("p")  # pause asks the same way
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="p asks")
        assert str(app.screen.query_one("Label").render()) == "Pause #1 long.wav?"
        await pilot.press("escape", "c")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        await pilot.press("y")
        # the answer comes once it has stopped (at once: the engine is not waited for)
        await until(lambda: any(n.endswith(": cancelled") for n in notes(app)), pilot, 60)
        assert daemon.call(p.GetJob(id=1))["job"]["state"] == "cancelled"
        await pilot.press("r")  # again, and this time d deletes it while it runs: asked once
        await until(lambda: table_rows(app)[0][0] == "transcribing", pilot, 60)
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="d asks")
        detail = str(app.screen.query_one("#confirm-detail").render())
        assert "cancelled first" in detail and "watched folder" in detail
        assert "does not queue it again" in detail
        await pilot.press("y")
        await until(lambda: not daemon.jobs(), pilot, 60, what="deleted after the cancel")
        assert not [n for n in notes(app) if "only finished jobs" in n]  # never refused

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_a_question_closes_itself_when_its_job_stops_meanwhile(home: Home, long_wav: Path) -> None:
    """Issue 39, item 4: `p` asks about a running job; the job is paused meanwhile from
    elsewhere (another client, as the web page would). The question closes itself and says
    why, and the next key is the user's again: `p` resumes the paused job (no question)."""
    home.write_config(transcribe="batched = false")
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot)
        shutil.copy(long_wav, home.watch / "long.wav")
        await until(lambda: titles(app) and table_rows(app)[0][0] == "transcribing", pilot)
        await pilot.press("p")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot, what="p asks")
        paused = daemon.call(p.PauseJob(id=1))["job"]
        assert paused["state"] == "paused"  # the answer waits until it has stopped
        said = "#1 is paused now: nothing to ask any more"
        await until(lambda: said in notes(app), pilot, what="the dialog saying why it closed")
        await until(lambda: isinstance(app.screen, QueueScreen), pilot, what="the dialog gone")
        await until(lambda: table_rows(app)[0][0] == "paused", pilot, what="the row paused")
        await pilot.press("p")  # the user's key again, and nothing to lose: no question
        await until(lambda: daemon.call(p.GetJob(id=1))["job"]["state"] != "paused", pilot)
        assert not isinstance(app.screen, ConfirmDialog)

    run(home, scenario)


def test_lines_arrive_on_the_job_screen_while_it_runs(home: Home, long_wav: Path) -> None:
    home.write_config(transcribe="batched = false")
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot)
        shutil.copy(long_wav, home.watch / "long.wav")
        await until(lambda: titles(app) and table_rows(app)[0][0] == "transcribing", pilot)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetailScreen), pilot)
        detail = screen_of(app, JobDetailScreen)
        meta = lambda: str(detail.query_one("#meta").render())  # noqa: E731
        await until(
            lambda: detail.segments and app.jobs[1]["state"] == "transcribing",
            pilot,
            120,
            what="a line while it is still transcribing",
        )
        assert "transcribing" in meta() or "decoding" in meta()
        await until(lambda: "[done]" in meta(), pilot, 120, what="done")
        saved = daemon.call(p.GetJob(id=1, transcript=True))["transcript"]["segments"]
        await until(lambda: len(detail.segments) == len(saved), pilot)
        assert [s["text"] for s in detail.segments] == [s["text"] for s in saved]

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_every_tab_says_the_daemon_is_away_in_the_same_place(home: Home) -> None:
    seed(home, [("old.wav", JobState.DONE)], segments=2)
    holder = {"daemon": home.daemon().start()}

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetailScreen), pilot)
        await pilot.press("escape")
        holder["daemon"].stop(signal.SIGTERM)
        await until(lambda: app.connection != "connected", pilot, what="disconnected")
        for key in ("1", "2", "3", "4", "5"):
            await pilot.press(key)
            await pilot.pause()
            bars = list(app.screen.query(StatusBar))
            assert len(bars) == 1, key
            said = str(bars[0].render())
            assert said.startswith("○ disconnected"), (key, said)
        await pilot.press("escape", "3")  # esc: out of the search box
        sources = str(app.screen.query_one(DataTable).get_row_at(0)[1])
        assert "daemon away" in sources  # not "watching" from before

    try:
        run(home, scenario)
    finally:
        holder["daemon"].kill()


def test_sort_marks_and_bulk_steering(home: Home) -> None:
    seed(
        home,
        [
            ("charlie.wav", JobState.FAILED),
            ("alpha.wav", JobState.CANCELLED),
            ("bravo.wav", JobState.FAILED),
            ("delta.wav", JobState.DONE),
        ],
    )
    daemon = home.daemon().start()
    daemon.call(p.PauseQueue())  # retried jobs wait: their files do not exist anyway

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and len(table_rows(app)) == 4, pilot)
        await pilot.press("o")  # by title
        await until(lambda: titles(app) == sorted(titles(app)), pilot, what="by title")
        assert titles(app) == ["alpha.wav", "bravo.wav", "charlie.wav", "delta.wav"]
        assert "by title" in str(app.screen.query_one("#filterline").render())
        await pilot.press("O")
        await until(lambda: titles(app)[0] == "delta.wav", pilot, what="reversed")
        await pilot.click("DataTable", offset=(70, 0))  # the `length` header
        queue = screen_of(app, QueueScreen)
        await until(lambda: queue.sort != "title", pilot, what="a header click sorts")
        await pilot.press("s", "s", "s")  # failed only
        await until(lambda: sorted(titles(app)) == ["bravo.wav", "charlie.wav"], pilot)
        await pilot.press("escape")
        await pilot.press("o")  # back through the columns to the queue's own order
        while queue.sort != "state":
            await pilot.press("o")
        await until(lambda: titles(app)[0] != "", pilot)
        # mark the two failed jobs and retry both with one key
        failed = [i for i, r in enumerate(table_rows(app)) if r[0] == "failed"]
        table = queue.query_one(DataTable)
        for row in failed:
            table.move_cursor(row=row)
            await pilot.press("space")
        assert queue.marked == {1, 3}
        await until(lambda: sum(r[1].startswith("● ") for r in table_rows(app)) == 2, pilot)
        await pilot.press("r")
        await until(
            lambda: {daemon.call(p.GetJob(id=i))["job"]["state"] for i in (1, 3)} == {"queued"},
            pilot,
            what="both retried",
        )
        await until(lambda: any("2 jobs: queued again" in n for n in notes(app)), pilot)
        assert not queue.marked
        # and delete two at once: one question for both
        for title in ("alpha.wav", "delta.wav"):
            table.move_cursor(row=titles(app).index(title))
            await pilot.press("space")
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        assert str(app.screen.query_one("Label").render()) == "Delete 2 jobs?"
        await pilot.press("y")
        await until(lambda: len(daemon.jobs()) == 2, pilot, what="two deleted")

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_the_job_screen_keys_words_copy_and_pager(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(home, [("talk.wav", JobState.DONE), ("broken.wav", JobState.FAILED)], segments=30)
    record = tmp_path / "pager-args"
    pager = tmp_path / "pager.sh"
    pager.write_text(f'#!/bin/sh\necho "$@" > {record}\ncat "$2" >> {record}\n')
    pager.chmod(pager.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PAGER", f"{pager} --")  # not a pager it knows: no +LINE
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and len(table_rows(app)) == 2, pilot)
        await pilot.press("g", "enter")  # broken.wav (the newest) first: why no transcript
        await until(lambda: isinstance(app.screen, JobDetailScreen) and app.screen.job, pilot)
        meta = str(app.screen.query_one("#meta").render())
        assert "no transcript: it failed" in meta and "r tries again" in meta
        await pilot.press("escape", "j", "enter")
        await until(lambda: isinstance(app.screen, JobDetailScreen) and app.screen.segments, pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("G")
        assert table.cursor_row == 29
        await pilot.press("k", "k")
        assert table.cursor_row == 27
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("end", "g", "j")
        assert table.cursor_row == 1
        await pilot.press("y")
        assert app.clipboard == "[00:05] Ann: line 1 of talk.wav"
        await pilot.press("v")
        await until(lambda: record.exists(), pilot, what="the pager ran")
        shown = record.read_text().splitlines()
        assert shown[0].startswith("-- ") and "+2" not in shown[0]
        assert shown[2] == "[00:05] Ann: line 1 of talk.wav" and len(shown) == 31
        monkeypatch.setenv("PAGER", "less")  # one it knows: it starts at the line
        from earwig.tui.detail import pager_command

        assert pager_command(Path("/x.txt"), 2) == ["less", "+2", "/x.txt"]

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_log_sources_help_and_add_keys(home: Home, daemon: DaemonProcess, tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "interview-one.wav").write_bytes(b"")
    (tmp_path / "media" / "interview-two.wav").write_bytes(b"")

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected", pilot)
        # Tab completes the path in the add dialog, as a shell does
        await pilot.press("a")
        await until(lambda: isinstance(app.screen, AddDialog), pilot)
        await pilot.press(*f"{tmp_path}/me", "tab")
        field = app.screen.query_one("#item", Input)
        assert field.value == f"{tmp_path}/media/"
        await pilot.press(*"in", "tab")
        assert field.value == f"{tmp_path}/media/interview-"
        listed = str(app.screen.query_one("#dialog-error").render())
        assert "interview-one.wav" in listed and "interview-two.wav" in listed
        await pilot.press("escape")

        # Sources: d drains the local slot and undrains it; P pauses the pool
        await pilot.press("3")
        await until(lambda: isinstance(app.screen, SourcesScreen), pilot)
        table = app.screen.query_one(DataTable)
        slot_row = next(
            i for i in range(table.row_count) if "this machine" in str(table.get_row_at(i)[2])
        )
        table.move_cursor(row=slot_row)
        await pilot.press("d")
        await until(lambda: daemon.call(p.ListSlots())["slots"][0]["drained"], pilot, what="drain")
        await until(lambda: "drained" in str(table.get_row_at(slot_row)[1]), pilot)
        await pilot.press("d")
        await until(lambda: not daemon.call(p.ListSlots())["slots"][0]["drained"], pilot)
        await pilot.press("P")
        await until(lambda: daemon.call(p.GetStatus())["queue_paused"], pilot, what="pool paused")
        await until(lambda: "pool paused" in str(table.get_row_at(slot_row)[1]), pilot)
        await pilot.press("P")
        await until(lambda: not daemon.call(p.GetStatus())["queue_paused"], pilot)

        # Log: lines about a job open it; f filters; space holds and follows
        await pilot.press("4")
        await until(lambda: isinstance(app.screen, LogScreen), pilot)
        log = screen_of(app, LogScreen)
        await until(lambda: log.shown, pilot, what="log lines")
        assert log.following and "following" in str(log.query_one("#log-info").render())
        await pilot.press("space")
        assert not log.following and "held" in str(log.query_one("#log-info").render())
        await pilot.press("space", "f", *"drained", "enter")
        await until(lambda: log.shown and all("drained" in e["message"] for e in log.shown), pilot)
        assert "lines match" in str(log.query_one("#log-info").render())
        await pilot.press("enter")  # no job on a slot's line: says so, stays here
        await until(lambda: any("not about a job" in n for n in notes(app)), pilot)
        await pilot.press("escape")  # the filter first, then the tab
        assert isinstance(app.screen, LogScreen) and not log.text_filter

        # ? says which screens have which keys, and how to close it
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), pilot)
        help_ = screen_of(app, HelpScreen)
        titles_ = [t for t, _ in help_.sections]
        assert titles_[:2] == ["Log: keys", "Everywhere"]
        assert {"Queue", "Job", "Subscriptions", "Sources", "Search"} <= set(titles_)
        keys = {k for _, ks in help_.sections for k, _ in ks}
        assert "5 or /" in keys and "5//" not in keys
        assert "esc or ? closes" in str(app.screen.query_one("#help-hint").render())

    run(home, scenario)


def test_search_leaves_the_input_after_a_hit_and_marks_every_word(home: Home) -> None:
    seed(home, [("talk.wav", JobState.DONE)], segments=4)
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await pilot.press("slash", *"line talk", "enter")
        await until(lambda: screen_of(app, SearchScreen).hits, pilot, what="hits")
        assert str(app.screen.query_one("#search-info").render()) == "4 hits"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetailScreen) and app.screen.segments, pilot)
        assert {w.lower() for w in screen_of(app, JobDetailScreen).words} == {"line", "talk"}
        await pilot.press("escape")
        await until(lambda: app.current_mode == "search" and len(app.screen_stack) == 1, pilot)
        assert not isinstance(app.focused, Input)
        await pilot.press("1")  # a tab key again, not a character in the query
        await until(lambda: app.current_mode == "queue", pilot, what="back to the queue")

    try:
        run(home, scenario)
    finally:
        daemon.kill()


def test_keys_typed_for_the_search_box_never_steer_a_job(home: Home) -> None:
    """Issue 39's sequence: in Search, open a hit, press 1 then 5, and type. `5` (and `/`)
    mean "type a query": the search box comes back focused, its cursor after the query, and
    the letters land in it; r, o and f never reach the hit's job screen (r would queue the
    done job again)."""
    seed(home, [("talk.wav", JobState.DONE)], segments=4)
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and table_rows(app), pilot)
        await pilot.press("5", *"line", "enter")
        await until(lambda: isinstance(app.focused, DataTable), pilot, what="on the hits")
        await pilot.press("enter")  # open the hit
        await until(lambda: isinstance(app.screen, JobDetailScreen) and app.screen.segments, pilot)
        for tab_key in ("5", "slash"):
            await pilot.press("1", tab_key)
            await until(lambda: app.current_mode == "search", pilot, what="the Search tab")
            query = app.screen.query_one("#query", Input)
            await until(lambda: app.focused is app.screen.query_one("#query"), pilot, what="box")
            assert isinstance(app.screen, SearchScreen), app.screen
            assert query.cursor_position == len(query.value) and query.selection.is_empty
            await pilot.press(*" rof")
            assert query.value == "line rof", tab_key
            await pilot.press(*["backspace"] * 4, "enter")  # the hit again, and open it
            await until(lambda: isinstance(app.focused, DataTable), pilot, what="on the hits")
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, JobDetailScreen), pilot, what="the hit")
        # from the hit's own screen, `/` is the same promise
        await pilot.press("slash", *"xyz")
        assert app.screen.query_one("#query", Input).value == "linexyz"
        job = daemon.call(p.GetJob(id=1))["job"]
        assert job["state"] == "done" and not job.get("attempts"), job
        assert not any("open" in n for n in notes(app)), notes(app)

    run(home, scenario)


def test_subscriptions_take_j_k_and_enter_shows_their_jobs(home: Home) -> None:
    """Two subscriptions (their feeds do not answer: the list is what matters); enter on
    one shows only its jobs on the Queue tab, esc there shows all again."""
    feeds = "".join(
        f'\n[[subscription]]\nname = "{name}"\nurl = "http://127.0.0.1:9/{name}.xml"\n'
        'every = "24h"\n'
        for name in ("Rivers", "Bridges")
    )
    home.write_config(extra=feeds)
    store = Store(home.state / "earwig.db")
    for i, sub in enumerate(("Rivers", "Bridges", "Rivers")):
        store.add_job(
            Job(
                id=None,
                source="subscription",
                title=f"episode {i}.mp3",
                subscription=sub,
                state=JobState.DONE,
                path=f"/media/{i}.mp3",
                created_at=time.time() - 60 * (3 - i),
                updated_at=time.time() - 60 * (3 - i),
            )
        )
    store.close()
    daemon = home.daemon().start()

    async def scenario(app: EarwigApp, pilot) -> None:
        await until(lambda: app.connection == "connected" and len(app.subscriptions) == 2, pilot)
        await pilot.press("2")
        await until(lambda: len(table_rows(app)) == 2, pilot, what="two subscriptions")
        table = app.screen.query_one(DataTable)
        names = [r[0] for r in table_rows(app)]
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("k")
        assert table.cursor_row == 0
        await pilot.press("G")
        assert table.cursor_row == 1
        await pilot.press("enter")  # the second subscription's jobs
        await until(lambda: app.current_mode == "queue", pilot, what="the queue tab")
        want = names[1]
        expected = {"Rivers": {"episode 0.mp3", "episode 2.mp3"}, "Bridges": {"episode 1.mp3"}}
        await until(lambda: set(titles(app)) == expected[want], pilot, what=f"{want}'s jobs")
        assert f"from {want}" in str(app.screen.query_one("#filterline").render())
        await pilot.press("escape")
        await until(lambda: len(titles(app)) == 3, pilot, what="all jobs again")
        # "next check" reads as a time from now, not a day and a clock
        await pilot.press("2")
        nxt = [r[2] for r in table_rows(app)]
        assert all(n.startswith("in ") or n in ("due now", "-") for n in nxt), nxt

    try:
        run(home, scenario)
    finally:
        daemon.kill()
