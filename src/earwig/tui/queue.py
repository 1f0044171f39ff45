"""The home screen: the queue and its history, live, filterable, steerable from the keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static

from earwig import formatting, protocol
from earwig.tui import messages
from earwig.tui.base import EarwigScreen, earwig_app
from earwig.tui.detail import JobDetailScreen
from earwig.tui.dialogs import AddDialog, ConfirmDialog
from earwig.tui.widgets import TabBar

if TYPE_CHECKING:
    from earwig.tui.app import EarwigApp

STATE_FILTERS = ("all", "active", "done", "failed")
ACTIVE = ("queued", *formatting.RUNNING, "paused")
STATE_STYLE = {
    "transcribing": "bold green",
    "fetching": "bold cyan",
    "downloading": "bold blue",
    "queued": "yellow",
    "paused": "magenta",
    "failed": "bold red",
    "done": "dim green",
    "cancelled": "dim",
}
COLUMNS = (  # name, width (None: what the others leave), the narrowest terminal showing it
    ("state", 12, 0),
    ("title", None, 0),
    ("from", 10, 0),
    ("progress", 22, 0),
    ("backend", 14, 120),
    ("length", 7, 100),
    ("age", 4, 0),
)
WIDE = 140  # from here the progress column grows: a longer bar, speed and time left fit
AGE_TICK = 5.0  # seconds between refreshes of the visible rows' ages


class StatusBar(Static):
    """Connection, daemon version, backend and model, queue counts."""

    def refresh_from(self, app: EarwigApp) -> None:
        if app.connection != "connected":
            self.update(Text(f"○ {app.connection} · {app.problem}", style="bold red"))
            return
        st = app.status
        backend = st.get("backend") or {}
        counts = app.counts()
        running = sum(counts.get(state, 0) for state in formatting.RUNNING)
        parts = [
            f"● earwig {st.get('version', '?')}",
            f"{backend.get('name')} · {backend.get('model')}",
        ]
        tally = [f"{running} running"] if running else []
        tally += [
            f"{counts[s]} {s}" for s in ("queued", "paused", "done", "failed") if counts.get(s)
        ]
        parts.append(" ".join(tally) or "no jobs yet")
        fetch = backend.get("model_state") or {}
        if fetch.get("state") == "downloading":
            fraction = fetch.get("fraction")
            pct = f" {100 * fraction:.0f}%" if fraction is not None else ""
            parts.append(f"downloading model {fetch.get('name')}{pct}")
        elif fetch.get("state") == "failed":
            parts.append(f"MODEL {fetch.get('name')}: {fetch.get('error')}")
        broken = [n for n, p in (st.get("parts") or {}).items() if p.get("state") == "restarting"]
        if broken:
            parts.append("RESTARTING: " + ", ".join(broken))
        style = "bold red" if broken or fetch.get("state") == "failed" else ""
        text = Text(" · ".join(parts), style=style)
        if st.get("queue_paused"):
            text.append("  ")
            text.append(" QUEUE PAUSED (P resumes) ", style="bold black on yellow")
        self.update(text)


class JobPanel(Widget):
    """The selected job, live, under the queue: state and progress with speed and time left,
    where it came from, what went wrong and what to press, and its last transcript lines.

    A plain widget with a fixed height that repaints itself: a Static's update() asks for a
    new layout of the whole screen, which with 10,000 rows made each cursor move 40 ms
    slower (bench/tui.py)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.job_id: int | None = None
        self.tails: dict[int, list[protocol.SegmentView]] = {}  # job id -> its last segments
        self._shown = Text()

    def show(self, job: protocol.JobView | None) -> None:
        text = self._render_job(job)
        if text != self._shown:  # a repaint only when something it shows changed
            self._shown = text
            self.refresh()

    def render(self) -> Text:
        return self._shown

    def _render_job(self, job: protocol.JobView | None) -> Text:
        if job is None:
            return Text()
        text = Text()
        text.append(f"#{job['id']} {job['title']}", style="bold")
        text.append(f"  {job['state']}", style=STATE_STYLE.get(job["state"], ""))
        bar = formatting.progress_bar(job, 20)
        text.append(f"  {bar}" if bar else "")
        where = job.get("url") or job.get("path") or ""
        sub = f" · {job['subscription']}" if job.get("subscription") else ""
        text.append(f"\n{where}{sub}", style="dim")
        if job.get("error"):
            text.append(f"\n{job['error']}", style="red")
        if hint := job.get("hint"):
            text.append(f"\n{formatting.key_hint(hint, job['id'])}", style="italic")
        for warning in (job.get("warnings") or [])[:1]:
            text.append(f"\n{warning}", style="yellow")
        if job.get("waiting") and job["state"] == "queued":
            text.append(f"\n{job['waiting']}", style="dim")
        for seg in self.tails.get(job["id"], []) if job["state"] == "done" else []:
            text.append(f"\n{formatting.clock(seg['start'])} ", style="dim")
            text.append(seg["text"].strip())
        return text

    async def fetch_tail(self, job_id: int) -> None:
        app = earwig_app(self)
        result = await app.call(protocol.GetJob(id=job_id, transcript=True))
        transcript = result.get("transcript") if result is not None else None
        self.tails[job_id] = transcript["segments"][-3:] if transcript else []
        if self.job_id == job_id:
            self.show(app.jobs.get(job_id))


class QueueScreen(EarwigScreen[None]):
    HELP_TITLE = "Queue"
    # The footer shows the keys that matter at 80 columns; `?` lists them all.
    BINDINGS = [
        # priority: the table's own enter (hidden) would keep it out of the footer
        Binding("enter", "open", "Open", priority=True),
        Binding("p", "pause", "Pause"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "retry", "Retry"),
        Binding("f", "filter", "Filter"),
        Binding("P", "pause_queue", "Pause or resume the whole queue", show=False),
        Binding("t", "top", "Move the job to the top of the queue", show=False),
        Binding("a", "add", "Add a file, folder or URL", show=False),
        Binding("d", "delete", "Delete the job (asks first)", show=False),
        Binding("s", "cycle_state", "Show: all, active, done, failed", show=False),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("g", "cursor('top')", "First row", show=False),
        Binding("G", "cursor('bottom')", "Last row", show=False),
        Binding("i", "toggle_panel", "Show or hide the job panel", show=False),
        Binding("escape", "clear_filter", "Clear the filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.text_filter = ""
        self.state_filter = "all"
        self._rebuild_pending = False
        self._last_key: tuple | None = None  # sort key of the bottom row
        self._keys: dict[int, tuple] = {}  # job id -> the sort key its row was placed by
        self._bar = 6  # progress bar cells: grows with the terminal
        self._panel_timer: Any = None
        self._panel: JobPanel | None = None  # looked up once: events arrive many a second

    def compose(self) -> ComposeResult:
        yield TabBar("queue")
        with Vertical():
            yield Input(
                placeholder="filter by title, URL, subscription or error (esc clears)", id="filter"
            )
            yield Static("", id="filterline")
            yield Static("", id="notice")
            yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
            yield JobPanel(id="panel")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#filterline").display = False
        self._panel = self.query_one(JobPanel)
        self.rebuild()
        self.query_one(DataTable).focus()
        self.set_interval(AGE_TICK, self._tick_ages)

    def columns_for(self, width: int) -> list[tuple[str, int]]:
        """The columns that fit `width`; the title takes whatever the others leave."""
        chosen = [(n, w) for n, w, least in COLUMNS if width >= least]
        if width >= WIDE:
            chosen = [(n, 34 if n == "progress" else w) for n, w in chosen]
        fixed = sum(w or 0 for _, w in chosen) + 2 * len(chosen) + 2  # cell padding, scrollbar
        return [(n, w or max(12, width - fixed)) for n, w in chosen]

    def on_resize(self) -> None:
        columns = self.columns_for(self.size.width)
        table = self.query_one(DataTable)
        if [(str(k.value), c.width) for k, c in table.columns.items()] == columns:
            return
        table.clear(columns=True)
        for name, width in columns:
            table.add_column(name, key=name, width=width)
        self._bar = 14 if self.size.width >= WIDE else 6
        self.rebuild()

    # ------------------------------------------------------------ keeping the table live

    def _panel_follows(self, job_id: int) -> None:
        panel = self._panel
        if panel is not None and panel.job_id == job_id:
            panel.show(self.earwig.jobs.get(job_id))

    @on(messages.JobProgress)
    def _progress(self, message: messages.JobProgress) -> None:
        # many a second; counts cannot change, so no status bar
        self._panel_follows(message.id)
        self._update_progress(message.id)

    @on(messages.JobChanged)
    def _job_changed(self, message: messages.JobChanged) -> None:
        self._panel_follows(message.id)
        if self._same_place(message.job):
            self._update_row(message.id)
        else:
            self._schedule_rebuild()
        self.query_one(StatusBar).refresh_from(self.earwig)

    @on(messages.JobDeleted)
    def _job_deleted(self, message: messages.JobDeleted) -> None:
        self._panel_follows(message.id)
        self._schedule_rebuild()
        self.query_one(StatusBar).refresh_from(self.earwig)

    @on(messages.HistoryPage)
    def _page(self, message: messages.HistoryPage) -> None:
        if not self._rebuild_pending:
            self._append_page(message.jobs)
        self.query_one(StatusBar).refresh_from(self.earwig)

    @on(messages.Snapshot)
    @on(messages.ConnectionChanged)
    @on(messages.QueueChanged)
    @on(messages.StatusChanged)
    def _everything(self) -> None:
        self._schedule_rebuild()
        self.query_one(StatusBar).refresh_from(self.earwig)

    def _same_place(self, job: protocol.JobView) -> bool:
        """An update that does not move the job (same state, same priority) is applied in
        place; one that does (a new state, `t`) re-sorts."""
        table = self.query_one(DataTable)
        if str(job["id"]) not in table.rows:
            return False
        return self._keys.get(job["id"]) == formatting.sort_key(job) and self._matches(job)

    def _append_page(self, page: list[protocol.JobView]) -> None:
        """Older history arriving a page at a time goes below what is shown.

        Rebuilding the whole table per page made loading 10,000 jobs quadratic (bench/tui.py);
        a page whose jobs all sort after the last row is appended instead, anything else (an
        old job still queued, say) falls back to a rebuild.
        """
        table = self.query_one(DataTable)
        jobs = sorted(
            (self.earwig.jobs[j["id"]] for j in page if self._matches(self.earwig.jobs[j["id"]])),
            key=formatting.sort_key,
        )
        if not jobs:
            return
        if self._last_key is None or formatting.sort_key(jobs[0]) < self._last_key:
            self._schedule_rebuild()
            return
        columns = [str(k.value) for k in table.columns]
        for job in jobs:
            if str(job["id"]) in table.rows:
                continue
            cells = self._cells(job)
            table.add_row(*(cells[c] for c in columns), key=str(job["id"]))
            self._keys[job["id"]] = formatting.sort_key(job)
        self._last_key = formatting.sort_key(jobs[-1])
        self._show_filter()

    def _schedule_rebuild(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.set_timer(0.05, self.rebuild)

    def _matches(self, job: protocol.JobView) -> bool:
        state = job["state"]
        if self.state_filter == "active" and state not in ACTIVE:
            return False
        if self.state_filter in ("done", "failed") and state != self.state_filter:
            return False
        if self.text_filter:
            keys = ("title", "url", "subscription", "error", "warnings", "language")
            hay = " ".join(str(job.get(k) or "") for k in keys)
            return self.text_filter.lower() in hay.lower()
        return True

    def _cells(self, job: protocol.JobView) -> dict[str, Any]:
        title = Text(job["title"], overflow="ellipsis", no_wrap=True)
        if job["state"] == "failed" and job.get("error"):
            title.append(f" · {job['error']}", style="red")  # why, without opening it
        return {
            "state": Text(job["state"] + "!", style="yellow")  # done, with warnings
            if job.get("warnings")
            else Text(job["state"], style=STATE_STYLE.get(job["state"], "")),
            "title": title,
            # the feed's name tells two feeds' "Episode 3" apart
            "from": Text(job.get("subscription") or formatting.kind(job), overflow="ellipsis"),
            "progress": formatting.progress_bar(job, self._bar),
            "backend": job.get("backend") or "",
            "length": formatting.duration(job.get("duration")),
            "age": formatting.age(job.get("created_at"), self.earwig.now()),
        }

    def rebuild(self) -> None:
        """Re-sort every row. The cursor stays on the row position the user chose and the
        view does not scroll: a job that moves (finished, `t`) does not drag them along."""
        self._rebuild_pending = False
        table = self.query_one(DataTable)
        row, scroll = table.cursor_row, table.scroll_y
        jobs = sorted(
            (j for j in self.earwig.jobs.values() if self._matches(j)), key=formatting.sort_key
        )
        table.clear()
        self._keys.clear()
        columns = [str(k.value) for k in table.columns]
        for job in jobs:
            cells = self._cells(job)
            table.add_row(*(cells[c] for c in columns), key=str(job["id"]))
            self._keys[job["id"]] = formatting.sort_key(job)
        self._last_key = formatting.sort_key(jobs[-1]) if jobs else None
        if jobs:
            table.move_cursor(row=min(row, len(jobs) - 1), animate=False, scroll=False)
            table.scroll_to(y=scroll, animate=False, immediate=True)
        self._show_filter(len(jobs))
        app = self.earwig
        message: str | Text = ""
        if app.connection != "connected":
            message = Text(app.problem or "connecting to the daemon…", style="bold red")
            if app.start_failure:  # what `S` started said before it stopped
                message.append("\n\n" + app.start_failure, style="red")
        elif not app.jobs:
            message = "No jobs yet: drop audio or video into a watched folder, or press a."
        elif not jobs:
            message = (
                f"Nothing matches the filter ({self.state_filter}, "
                f"{self.text_filter!r}); esc clears it."
            )
        notice = self.query_one("#notice", Static)
        notice.update(message)
        notice.display = bool(message)
        self.query_one(StatusBar).refresh_from(app)

    def _show_filter(self, shown: int | None = None) -> None:
        """The filter, while one is on: "6 of 72 · failed · 'talk'"."""
        line = self.query_one("#filterline", Static)
        active = self.state_filter != "all" or self.text_filter
        line.display = bool(active)
        if not active:
            return
        shown = self.query_one(DataTable).row_count if shown is None else shown
        parts = [f"{shown} of {len(self.earwig.jobs)}", self.state_filter]
        if self.text_filter:
            parts.append(repr(self.text_filter))
        line.update(Text(" · ".join(parts) + "   (s: state, f: text, esc: clear)", style="bold"))

    def _tick_ages(self) -> None:
        """Ages change with the clock, not with events: refresh the rows in view."""
        table = self.query_one(DataTable)
        if "age" not in table.columns or table.row_count == 0:
            return
        first = max(0, int(table.scroll_y))
        now = self.earwig.now()
        for index in range(first, min(table.row_count, first + table.size.height + 1)):
            key = table.coordinate_to_cell_key(Coordinate(index, 0)).row_key
            job = self.earwig.jobs.get(int(key.value or 0))
            if job is not None:
                table.update_cell(key, "age", formatting.age(job.get("created_at"), now))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The panel follows the cursor once it rests for a moment: holding a key down costs
        neither repaints nor requests (bench/tui.py keeps keypresses at the bare table's)."""
        if self._panel is None or not self._panel.display:
            return
        if self._panel_timer is not None:
            self._panel_timer.stop()
        self._panel_timer = self.set_timer(0.15, self._follow_cursor)

    def _follow_cursor(self) -> None:
        panel = self._panel
        if panel is None:
            return
        job = self._current()
        panel.job_id = job["id"] if job else None
        panel.show(job)
        if job and job["state"] == "done" and job["id"] not in panel.tails:
            self.run_worker(panel.fetch_tail(job["id"]), group="panel", exclusive=True)

    def action_toggle_panel(self) -> None:
        panel = self.query_one(JobPanel)
        panel.display = not panel.display
        if panel.display:
            self._follow_cursor()

    def action_cursor(self, where: str) -> None:
        table = self.query_one(DataTable)
        if where == "down":
            table.action_cursor_down()
        elif where == "up":
            table.action_cursor_up()
        elif where == "top":
            table.move_cursor(row=0)
        else:
            table.move_cursor(row=max(0, table.row_count - 1))

    def _update_row(self, job_id: int) -> None:
        job = self.earwig.jobs.get(job_id)
        table = self.query_one(DataTable)
        if job is None or str(job_id) not in table.rows:
            return
        for column, value in self._cells(job).items():
            if column in table.columns:
                table.update_cell(str(job_id), column, value)

    def _update_progress(self, job_id: int) -> None:
        job = self.earwig.jobs.get(job_id)
        table = self.query_one(DataTable)
        if job is not None and str(job_id) in table.rows:
            table.update_cell(str(job_id), "progress", formatting.progress_bar(job, self._bar))

    def _current_id(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def _current(self) -> protocol.JobView | None:
        job_id = self._current_id()
        return self.earwig.jobs.get(job_id) if job_id is not None else None

    # ------------------------------------------------------------ filter

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.text_filter = event.value.strip()
            self._schedule_rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(DataTable).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.text_filter, self.state_filter = "", "all"
        self.query_one(DataTable).focus()
        self.rebuild()

    def action_cycle_state(self) -> None:
        i = STATE_FILTERS.index(self.state_filter)
        self.state_filter = STATE_FILTERS[(i + 1) % len(STATE_FILTERS)]
        self.rebuild()

    # ------------------------------------------------------------ steering

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        if isinstance(self.focused, Input):  # enter in the filter: back to the table
            self.query_one(DataTable).focus()
            return
        job = self._current()
        if job is not None:
            self.app.push_screen(JobDetailScreen(job["id"]))

    async def _steer(self, request: Callable[[int], protocol.Request[Any]], done: str) -> None:
        job = self._current()
        if job is not None:
            await self.earwig.steer(request(job["id"]), job, done)

    @work(group="steer")
    async def action_pause(self) -> None:
        job = self._current()
        if job is not None:
            await self.earwig.toggle_pause(job)

    async def action_pause_queue(self) -> None:
        paused = self.earwig.status.get("queue_paused")
        toggle = protocol.ResumeQueue() if paused else protocol.PauseQueue()
        if await self.earwig.call(toggle) is not None:
            self.notify(
                "queue resumed"
                if paused
                else "queue paused: the running job finishes, no new one starts",
                timeout=4,
            )

    async def action_cancel(self) -> None:
        await self._steer(lambda job_id: protocol.CancelJob(id=job_id), "cancelled")

    async def action_retry(self) -> None:
        await self._steer(lambda job_id: protocol.RetryJob(id=job_id), "queued again")

    async def action_top(self) -> None:
        await self._steer(lambda job_id: protocol.PrioritizeJob(id=job_id), "moved to the top")

    @work(group="steer")
    async def action_delete(self) -> None:
        job = self._current()
        if job is None:
            return
        question = f"Delete #{job['id']} {job['title']}?"
        detail = "Its history and search hits go; its transcript files stay on disk."
        if job.get("path") and not job.get("url"):
            detail += (
                " Its file stays out of the queue (scans skip it): `earwig add --force` "
                "queues it again."
            )
        if await self.earwig.push_screen_wait(ConfirmDialog(question, detail)):
            await self._steer(
                lambda job_id: protocol.DeleteJob(id=job_id), "deleted (its transcript files stay)"
            )

    def action_add(self) -> None:
        self.app.push_screen(AddDialog())
