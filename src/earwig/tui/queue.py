"""The home screen: the queue and its history, live, filterable, steerable from the keyboard."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from earwig import formatting

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
COLUMNS = (
    ("state", 12),
    ("title", None),
    ("kind", 4),
    ("progress", 20),
    ("backend", 14),
    ("length", 7),
    ("age", 4),
)
WIDE = 110  # below this many columns the backend column is left out (it is in the details)


class StatusBar(Static):
    """Connection, daemon version, backend and model, queue counts."""

    def refresh_from(self, app: Any) -> None:
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
        if st.get("queue_paused"):
            parts.append("QUEUE PAUSED")
        fetch = backend.get("model_state") or {}
        if fetch.get("state") == "downloading":
            pct = f" {100 * fetch['fraction']:.0f}%" if fetch.get("fraction") is not None else ""
            parts.append(f"downloading model {fetch.get('name')}{pct}")
        elif fetch.get("state") == "failed":
            parts.append(f"MODEL {fetch.get('name')}: {fetch.get('error')}")
        broken = [n for n, p in (st.get("parts") or {}).items() if p.get("state") == "restarting"]
        if broken:
            parts.append("RESTARTING: " + ", ".join(broken))
        style = "bold red" if broken or fetch.get("state") == "failed" else ""
        self.update(Text(" · ".join(parts), style=style))


class QueueScreen(Screen):
    TITLE = "earwig · queue      / search  2 subscriptions  3 sources  4 log"
    BINDINGS = [
        Binding("enter", "open", "Details"),
        Binding("p", "pause", "Pause/resume"),
        Binding("P", "pause_queue", "Pause queue"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "retry", "Retry"),
        Binding("t", "top", "To top"),
        Binding("a", "add", "Add"),
        Binding("d", "delete", "Delete", show=False),
        Binding("f", "filter", "Filter"),
        Binding("s", "cycle_state", "State"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.text_filter = ""
        self.state_filter = "all"
        self._rebuild_pending = False
        self._last_key: tuple | None = None  # sort key of the bottom row
        self._unlisten = None

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="title")
        with Vertical():
            yield Input(
                placeholder="filter by title, URL, subscription or error (esc clears)", id="filter"
            )
            yield Static("", id="notice")
            yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self._unlisten = self.app.listen(self._on_app_event)
        self.rebuild()
        self.query_one(DataTable).focus()

    def columns_for(self, width: int) -> list[tuple[str, int]]:
        """The columns that fit `width`; the title takes whatever the others leave."""
        chosen = [(n, w) for n, w in COLUMNS if n != "backend" or width >= WIDE]
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
        self.rebuild()

    def on_unmount(self) -> None:
        if self._unlisten:
            self._unlisten()

    # ------------------------------------------------------------ keeping the table live

    def _on_app_event(self, what: str, data: dict[str, Any]) -> None:
        if what == "job.progress":  # many a second; counts cannot change, so no status bar
            self._update_progress(data["id"])
            return
        if what in ("job.updated", "job.added") and self._same_place(data):
            self._update_row(data["id"])
        elif what == "page" and not self._rebuild_pending:
            self._append_page(data["jobs"])
        elif what not in ("log", "subscriptions"):
            self._schedule_rebuild()
        self.query_one(StatusBar).refresh_from(self.app)

    def _same_place(self, job: dict[str, Any]) -> bool:
        """An update that does not move the job (same state) needs no re-sort."""
        table = self.query_one(DataTable)
        if str(job["id"]) not in table.rows:
            return False
        shown = table.get_cell(str(job["id"]), "state")
        return str(shown).strip() == job["state"] and self._matches(job)

    def _append_page(self, page: list[dict[str, Any]]) -> None:
        """Older history arriving a page at a time goes below what is shown.

        Rebuilding the whole table per page made loading 10,000 jobs quadratic (bench/tui.py);
        a page whose jobs all sort after the last row is appended instead, anything else (an
        old job still queued, say) falls back to a rebuild.
        """
        table = self.query_one(DataTable)
        jobs = sorted(
            (self.app.jobs[j["id"]] for j in page if self._matches(self.app.jobs[j["id"]])),
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
        self._last_key = formatting.sort_key(jobs[-1])

    def _schedule_rebuild(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.set_timer(0.05, self.rebuild)

    def _matches(self, job: dict[str, Any]) -> bool:
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

    def _cells(self, job: dict[str, Any]) -> dict[str, Any]:
        return {
            "state": Text(job["state"] + "!", style="yellow")  # done, with warnings
            if job.get("warnings")
            else Text(job["state"], style=STATE_STYLE.get(job["state"], "")),
            "title": Text(job["title"], overflow="ellipsis", no_wrap=True),
            "kind": formatting.kind(job),
            "progress": formatting.progress_bar(job),
            "backend": job.get("backend") or "",
            "length": formatting.duration(job.get("duration")),
            "age": formatting.age(job.get("created_at"), self.app.now()),
        }

    def rebuild(self) -> None:
        self._rebuild_pending = False
        table = self.query_one(DataTable)
        current = self._current_id()
        jobs = sorted(
            (j for j in self.app.jobs.values() if self._matches(j)), key=formatting.sort_key
        )
        table.clear()
        columns = [str(k.value) for k in table.columns]
        for job in jobs:
            cells = self._cells(job)
            table.add_row(*(cells[c] for c in columns), key=str(job["id"]))
        self._last_key = formatting.sort_key(jobs[-1]) if jobs else None
        if current is not None and str(current) in table.rows:
            table.move_cursor(row=table.get_row_index(str(current)), animate=False)
        app = self.app
        message: str | Text = ""
        if app.connection != "connected":
            message = Text(app.problem or "connecting to the daemon…", style="bold red")
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

    def _update_row(self, job_id: int) -> None:
        job = self.app.jobs.get(job_id)
        table = self.query_one(DataTable)
        if job is None or str(job_id) not in table.rows:
            return
        for column, value in self._cells(job).items():
            if column in table.columns:
                table.update_cell(str(job_id), column, value)

    def _update_progress(self, job_id: int) -> None:
        job = self.app.jobs.get(job_id)
        table = self.query_one(DataTable)
        if job is not None and str(job_id) in table.rows:
            table.update_cell(str(job_id), "progress", formatting.progress_bar(job))

    def _current_id(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def _current(self) -> dict[str, Any] | None:
        job_id = self._current_id()
        return self.app.jobs.get(job_id) if job_id is not None else None

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
        self.notify(f"showing {self.state_filter} jobs", timeout=2)
        self.rebuild()

    # ------------------------------------------------------------ steering

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        from earwig.tui.detail import JobDetailScreen

        job = self._current()
        if job is not None:
            self.app.push_screen(JobDetailScreen(job["id"]))

    async def _steer(self, kind: str, done: str) -> None:
        job = self._current()
        if job is None:
            return
        result = await self.app.call(kind, id=job["id"])
        if result is not None:
            self.notify(f"#{job['id']} {job['title']}: {done}", timeout=3, markup=False)

    async def action_pause(self) -> None:
        job = self._current()
        if job is None:
            return
        if job["state"] == "paused":
            await self._steer("job.resume", "resumed")
        else:
            await self._steer("job.pause", "paused")

    async def action_pause_queue(self) -> None:
        paused = self.app.status.get("queue_paused")
        if await self.app.call("queue.resume" if paused else "queue.pause") is not None:
            self.notify(
                "queue resumed"
                if paused
                else "queue paused: the running job finishes, no new one starts",
                timeout=4,
            )

    async def action_cancel(self) -> None:
        await self._steer("job.cancel", "cancelled")

    async def action_retry(self) -> None:
        await self._steer("job.retry", "queued again")

    async def action_top(self) -> None:
        await self._steer("job.prioritize", "moved to the top")

    async def action_delete(self) -> None:
        await self._steer("job.delete", "deleted (its transcript files stay)")

    def action_add(self) -> None:
        from earwig.tui.screens import AddDialog

        self.app.push_screen(AddDialog())
