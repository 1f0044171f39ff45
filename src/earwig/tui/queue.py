"""The home screen: the queue and its history, live, filterable, steerable from the keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from earwig.tui.dialogs import AddDialog
from earwig.tui.widgets import Rows, StatusBar, TabBar, move_cursor

STATE_FILTERS = ("all", "active", "done", "failed", "cancelled")
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
    ("from", 10, 0),  # wider on wide terminals: from_width
    ("progress", 22, 0),
    ("backend", 14, 120),
    ("length", 7, 100),
    ("age", 4, 0),
)
WIDE = 140  # from here the progress column grows: a longer bar, speed and time left fit
AGE_TICK = 5.0  # seconds between refreshes of the visible rows' ages
MARK = "● "  # before a marked job's title (space marks; r, c, d, t act on all marked)
# the orders `o` steps through and a header click picks: column -> (sort key, label)
SORTS: dict[str, Callable[[protocol.JobView], Any]] = {
    "state": formatting.sort_key,
    "title": lambda j: str(j.get("title") or "").lower(),
    "from": lambda j: str(j.get("subscription") or formatting.kind(j)).lower(),
    "progress": lambda j: -((j.get("progress") or {}).get("fraction") or 0.0),
    "backend": lambda j: str(j.get("backend") or ""),
    "length": lambda j: -(j.get("duration") or 0.0),
    "age": lambda j: -(j.get("created_at") or 0.0),
}


class JobPanel(Widget):
    """The selected job, live, under the queue: state and progress with speed and time left,
    where it came from, what went wrong and what to press, and its last transcript lines
    (with their speakers; live while it runs). When the job the cursor was on leaves the
    view, the panel says so above the job the cursor moved to.

    A plain widget with a fixed height that repaints itself: a Static's update() asks for a
    new layout of the whole screen, which with 10,000 rows made each cursor move 40 ms
    slower (bench/tui.py)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.job_id: int | None = None
        self.tails: dict[int, list[protocol.SegmentView]] = {}  # job id -> its last segments
        self.notice = ""  # "#12 talk.mp3 left this view (done)", until the cursor moves
        self.notice_for: int | None = None  # ... shown above this job
        self._shown = Text()

    def show(self, job: protocol.JobView | None) -> None:
        if (job["id"] if job else None) != self.notice_for:
            self.notice = ""  # the cursor moved on: the news is old
        text = self._render_job(job)
        if text != self._shown:  # a repaint only when something it shows changed
            self._shown = text
            self.refresh()

    def render(self) -> Text:
        return self._shown

    def add_live(self, job_id: int, segments: list[protocol.SegmentView]) -> None:
        self.tails[job_id] = [*self.tails.get(job_id, []), *segments][-3:]

    def _render_job(self, job: protocol.JobView | None) -> Text:
        text = Text()
        if self.notice:
            text.append(self.notice + "\n", style="bold yellow")
        if job is None:
            return text
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
        live = job["state"] in formatting.RUNNING
        for seg in self.tails.get(job["id"], []) if job["state"] == "done" or live else []:
            text.append(f"\n{formatting.clock(seg['start'])} ", style="dim")
            if seg.get("speaker"):
                text.append(f"{seg['speaker']}: ", style="magenta")
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
        Binding(
            "space", "mark", "Mark the job (r, c, d, t then act on every marked one)", show=False
        ),
        Binding("P", "pause_queue", "Pause or resume the whole queue", show=False),
        Binding("t", "top", "Move the job to the top of the queue", show=False),
        Binding("a", "add", "Add a file, folder or URL", show=False),
        Binding("d", "delete", "Delete the job (asks first)", show=False),
        Binding("s", "cycle_state", "Show: all, active, done, failed, cancelled", show=False),
        Binding("o", "sort", "Sort by the next column (or click a header)", show=False),
        Binding("O", "reverse", "Reverse the order", show=False),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("g", "cursor('top')", "First row", show=False),
        Binding("G", "cursor('bottom')", "Last row", show=False),
        Binding("i", "toggle_panel", "Show or hide the job panel", show=False),
        Binding("escape", "clear_filter", "Clear the marks, then the filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.text_filter = ""
        self.state_filter = "all"
        self.subscription: str | None = None  # only this subscription's jobs (enter on one)
        self.sort = "state"  # a column of SORTS; "state" is the queue's own order
        self.reverse = False
        self.marked: set[int] = set()
        self.selected: int | None = None  # the job the cursor is on: it follows the job
        self._rebuild_pending = False
        self._last_key: tuple | None = None  # sort key of the bottom row
        self._keys: dict[int, Any] = {}  # job id -> the sort key its row was placed by
        self._bar = 6  # progress bar cells: grows with the terminal
        self._room: int | None = None  # the progress column's width, once known
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
            yield Rows(id="jobs", cursor_type="row", zebra_stripes=True)
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
        """The columns that fit `width`; the title takes whatever the others leave, and on
        wide terminals `from` takes some too (a feed's whole name)."""
        chosen = [(n, w) for n, w, least in COLUMNS if width >= least]
        if width >= WIDE:
            chosen = [(n, 34 if n == "progress" else w) for n, w in chosen]
        fixed = sum(w or 0 for _, w in chosen) + 2 * len(chosen) + 2  # cell padding, scrollbar
        room = max(12, width - fixed)
        source = min(30, max(10, room // 4)) if width >= WIDE else 10
        room -= source - 10
        return [(n, source if n == "from" else (w or room)) for n, w in chosen]

    def on_resize(self) -> None:
        columns = self.columns_for(self.size.width)
        table = self.query_one(DataTable)
        if [(str(k.value), c.width) for k, c in table.columns.items()] == columns:
            return
        table.clear(columns=True)
        for name, width in columns:
            table.add_column(self._label(name), key=name, width=width)
        self._bar = 14 if self.size.width >= WIDE else 6
        self._room = dict(columns).get("progress") or None  # its words are never cut
        self.rebuild()

    def _label(self, column: str) -> Text:
        if column != self.sort or (column == "state" and not self.reverse):
            return Text(column)
        return Text(f"{column} {'▲' if self.reverse else '▼'}", style="bold")

    # ------------------------------------------------------------ keeping the table live

    def _panel_follows(self, job_id: int) -> None:
        panel = self._panel
        if panel is not None and panel.job_id == job_id:
            panel.show(self.earwig.jobs.get(job_id))

    @on(messages.JobProgress)
    def _progress(self, message: messages.JobProgress) -> None:
        message.taken(self.earwig.progress_queued)
        # many a second; counts cannot change, so no status bar
        self._panel_follows(message.id)
        self._update_progress(message.id)

    @on(messages.JobSegments)
    def _segments(self, message: messages.JobSegments) -> None:
        if self._panel is not None:
            self._panel.add_live(message.id, message.segments)
            self._panel_follows(message.id)

    @on(messages.JobChanged)
    def _job_changed(self, message: messages.JobChanged) -> None:
        self._panel_follows(message.id)
        if self._same_place(message.job):
            self._update_row(message.id)
        else:
            self._schedule_rebuild()

    @on(messages.JobDeleted)
    def _job_deleted(self, message: messages.JobDeleted) -> None:
        self.marked.discard(message.id)
        self._schedule_rebuild()

    @on(messages.HistoryPage)
    def _page(self, message: messages.HistoryPage) -> None:
        if not self._rebuild_pending:
            self._append_page(message.jobs)

    @on(messages.Snapshot)
    @on(messages.ConnectionChanged)
    def _everything(self) -> None:
        self._schedule_rebuild()

    def _sort_key(self, job: protocol.JobView) -> Any:
        return SORTS[self.sort](job)

    def _same_place(self, job: protocol.JobView) -> bool:
        """An update that does not move the job (same state, same priority) is applied in
        place; one that does (a new state, `t`) re-sorts."""
        table = self.query_one(DataTable)
        if str(job["id"]) not in table.rows:
            return False
        return self._keys.get(job["id"]) == self._sort_key(job) and self._matches(job)

    def _append_page(self, page: list[protocol.JobView]) -> None:
        """Older history arriving a page at a time goes below what is shown.

        Rebuilding the whole table per page made loading 10,000 jobs quadratic (bench/tui.py);
        a page whose jobs all sort after the last row is appended instead, anything else (an
        old job still queued, say, or another order than the queue's) falls back to a rebuild.
        """
        table = self.query_one(DataTable)
        jobs = sorted(
            (self.earwig.jobs[j["id"]] for j in page if self._matches(self.earwig.jobs[j["id"]])),
            key=formatting.sort_key,
        )
        if not jobs:
            return
        ordered = self.sort == "state" and not self.reverse
        if not ordered or self._last_key is None or formatting.sort_key(jobs[0]) < self._last_key:
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
        if self.state_filter in ("done", "failed", "cancelled") and state != self.state_filter:
            return False
        if self.subscription is not None and job.get("subscription") != self.subscription:
            return False
        if self.text_filter:
            keys = ("title", "url", "subscription", "error", "warnings", "language")
            hay = " ".join(str(job.get(k) or "") for k in keys)
            return self.text_filter.lower() in hay.lower()
        return True

    def _cells(self, job: protocol.JobView) -> dict[str, Any]:
        job_id = job["id"]
        title = Text(job["title"], overflow="ellipsis", no_wrap=True)
        if job_id in self.marked:
            title = Text(MARK, style="bold cyan") + title
        pending = self.earwig.pending.get(job_id) if job["state"] in formatting.RUNNING else None
        if pending:  # "cancelling…" until the daemon says it stopped
            state = Text(pending, style="bold yellow")
        elif job.get("warnings"):
            state = Text(job["state"] + "!", style="yellow")  # done, with warnings
        else:
            state = Text(job["state"], style=STATE_STYLE.get(job["state"], ""))
        progress: str | Text = formatting.progress_bar(job, self._bar, self._room)
        if job["state"] == "failed" and (error := job.get("error")):  # in the bar's room: why
            progress = Text(error, style="red", overflow="ellipsis", no_wrap=True)
        elif why := formatting.why_cancelled(job):  # not the user's cancel: say whose
            progress = Text(why, style="dim", overflow="ellipsis", no_wrap=True)
        return {
            "state": state,
            "title": title,
            # the feed's name tells two feeds' "Episode 3" apart
            "from": Text(job.get("subscription") or formatting.kind(job), overflow="ellipsis"),
            "progress": progress,
            "backend": job.get("backend") or "",
            "length": formatting.duration(job.get("duration")),
            "age": formatting.age(job.get("created_at"), self.earwig.now()),
        }

    def rebuild(self) -> None:
        """Re-sort every row. The cursor stays on its job (k9s, lazygit): a job that moves
        (finished, `t`, a new one above) takes the cursor along, and the next key acts on the
        job the user chose. When that job leaves the view (deleted, filtered out), the cursor
        goes to the nearest row and the panel says so."""
        self._rebuild_pending = False
        table = self.query_one(DataTable)
        row, scroll = table.cursor_row, table.scroll_y
        selected = self.selected
        jobs = sorted(
            (j for j in self.earwig.jobs.values() if self._matches(j)),
            key=self._sort_key,
            reverse=self.reverse,
        )
        table.clear()
        self._keys.clear()
        columns = [str(k.value) for k in table.columns]
        place = None
        for index, job in enumerate(jobs):
            cells = self._cells(job)
            table.add_row(*(cells[c] for c in columns), key=str(job["id"]))
            self._keys[job["id"]] = self._sort_key(job)
            if job["id"] == selected:
                place = index
        self._last_key = formatting.sort_key(jobs[-1]) if jobs else None
        if jobs:
            table.scroll_to(y=scroll, animate=False, immediate=True)
            if place is None:
                place = min(row, len(jobs) - 1)
                if selected is not None:
                    self._left_view(selected, jobs[place]["id"])
            table.move_cursor(row=place, animate=False)
            self.selected = jobs[place]["id"]
        elif selected is not None:
            self._left_view(selected, None)
            self.selected = None
        self._show_filter(len(jobs))
        self._show_notice(jobs)

    def _left_view(self, job_id: int, now_on: int | None) -> None:
        """The job the cursor was on is not in the table any more: say where it went."""
        panel = self._panel
        if panel is None:
            return
        job = self.earwig.jobs.get(job_id)
        if job is None:
            why = "was deleted"
        else:
            why = f"is {job['state']} and left this view ({self._filter_words()})"
        moved = "; the cursor moved here" if now_on is not None else ""
        panel.notice = f"#{job_id} {job['title'] if job else ''} {why}{moved}".replace("  ", " ")
        panel.notice_for = now_on
        panel.job_id = now_on
        panel.show(self.earwig.jobs.get(now_on) if now_on is not None else None)

    def _filter_words(self) -> str:
        parts = [self.state_filter]
        if self.subscription is not None:
            parts.append(f"from {self.subscription}")
        if self.text_filter:
            parts.append(repr(self.text_filter))
        return " · ".join(parts)

    def _show_notice(self, jobs: list[protocol.JobView]) -> None:
        app = self.earwig
        message: str | Text = ""
        if app.connection != "connected":
            message = Text(app.problem or "connecting to the daemon…", style="bold red")
            if app.start_failure:  # what `S` started said before it stopped
                message.append("\n\n" + app.start_failure, style="red")
        elif not app.jobs:
            message = "No jobs yet: drop audio or video into a watched folder, or press a."
        elif not jobs:
            message = f"Nothing matches the filter ({self._filter_words()}); esc clears it."
        notice = self.query_one("#notice", Static)
        notice.update(message)
        notice.display = bool(message)

    def _show_filter(self, shown: int | None = None) -> None:
        """The filter, while one is on: "6 of 72 · failed · 'talk'"; the marks and the order."""
        line = self.query_one("#filterline", Static)
        active = self.state_filter != "all" or self.text_filter or self.subscription is not None
        ordered = self.sort != "state" or self.reverse
        line.display = bool(active or self.marked or ordered)
        if not line.display:
            return
        shown = self.query_one(DataTable).row_count if shown is None else shown
        parts = [f"{shown} of {len(self.earwig.jobs)}", self._filter_words()] if active else []
        if self.marked:
            parts.append(f"{len(self.marked)} marked (space)")
        if ordered:
            parts.append(f"by {self.sort}{' reversed' if self.reverse else ''} (o, O)")
        keys = "   (s: state, f: text, esc: clear)" if active else "   (esc: clear)"
        line.update(Text(" · ".join(parts) + keys, style="bold"))

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
        """The selection is the job now under the cursor. The panel follows it once the
        cursor rests for a moment: holding a key down costs neither repaints nor requests
        (bench/tui.py keeps keypresses at the bare table's)."""
        self.selected = self._current_id()
        if self._panel is None or not self._panel.display:
            return
        if self._panel_timer is not None:
            self._panel_timer.stop()
        self._panel_timer = self.set_timer(0.15, self._follow_cursor)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column's header sorts by it; a second click reverses."""
        column = str(event.column_key.value)
        if column not in SORTS:
            return
        if column == self.sort:
            self.reverse = not self.reverse
        else:
            self.sort, self.reverse = column, False
        self._resort()

    def action_sort(self) -> None:
        table = self.query_one(DataTable)
        shown = [str(k.value) for k in table.columns if str(k.value) in SORTS]
        self.sort = (
            shown[(shown.index(self.sort) + 1) % len(shown)] if self.sort in shown else "state"
        )
        self.reverse = False
        self._resort()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._resort()

    def _resort(self) -> None:
        table = self.query_one(DataTable)
        for key, column in table.columns.items():
            column.label = self._label(str(key.value))
        table.refresh()
        self.rebuild()
        table.move_cursor(row=table.cursor_row, animate=False)

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
        move_cursor(self.query_one(DataTable), where)

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
        if job is not None and str(job_id) in table.rows and "progress" in table.columns:
            bar = formatting.progress_bar(job, self._bar, self._room)
            table.update_cell(str(job_id), "progress", bar)

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

    def _targets(self) -> list[protocol.JobView]:
        """What a steering key acts on: every marked job, else the one under the cursor."""
        if self.marked:
            return [self.earwig.jobs[i] for i in sorted(self.marked) if i in self.earwig.jobs]
        job = self._current()
        return [job] if job is not None else []

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
        if self.marked:  # the first esc lets go of the marks, the second of the filter
            self.marked.clear()
            self.rebuild()
            return
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.text_filter, self.state_filter, self.subscription = "", "all", None
        self.query_one(DataTable).focus()
        self.rebuild()

    def action_cycle_state(self) -> None:
        i = STATE_FILTERS.index(self.state_filter)
        self.state_filter = STATE_FILTERS[(i + 1) % len(STATE_FILTERS)]
        self.rebuild()

    def show_subscription(self, name: str) -> None:
        """Only `name`'s jobs (enter on a subscription); esc shows all again."""
        self.subscription = name
        self.rebuild()

    def action_mark(self) -> None:
        job_id = self._current_id()
        if job_id is None:
            return
        self.marked.symmetric_difference_update({job_id})
        self._update_row(job_id)
        self._show_filter()
        self.query_one(DataTable).action_cursor_down()

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

    @work(group="steer")
    async def _act(self, kind: str) -> None:
        targets = self._targets()
        await self.earwig.act(kind, targets)
        if self.marked and kind in ("job.delete", "job.cancel", "job.retry", "job.prioritize"):
            self.marked.clear()
            self.rebuild()

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

    def action_cancel(self) -> None:
        self._act("job.cancel")

    def action_retry(self) -> None:
        self._act("job.retry")

    def action_top(self) -> None:
        self._act("job.prioritize")

    def action_delete(self) -> None:
        self._act("job.delete")

    def action_add(self) -> None:
        self.app.push_screen(AddDialog())
