"""The Log tab: the daemon's log, live; filtered with `f`, held still with space, and a
line about a job opens that job with enter."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Static

from earwig import protocol
from earwig.tui import messages
from earwig.tui.base import EarwigScreen
from earwig.tui.detail import JobDetailScreen
from earwig.tui.widgets import Rows, StatusBar, TabBar, move_cursor

STYLE = {"error": "red", "warning": "yellow"}


class LogScreen(EarwigScreen[None]):
    HELP_TITLE = "Log"
    BINDINGS = [
        Binding("enter", "open", "Open its job", priority=True),
        Binding("f", "filter", "Filter"),
        Binding("space", "follow", "Follow or hold"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("g", "cursor('top')", "First line", show=False),
        Binding("G", "cursor('bottom')", "Last line (and follow)", show=False),
        Binding("escape", "escape", "Clear the filter, then back to the queue", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.following = True  # new lines scroll into view; space holds the view still
        self.text_filter = ""
        self.shown: list[protocol.LogEntry] = []  # the entries on the table's rows, in order

    def compose(self) -> ComposeResult:
        yield TabBar("log")
        with Vertical():
            yield Input(placeholder="show only lines with… (esc clears)", id="log-filter")
            yield Static("", id="log-info")
            table: DataTable = Rows(id="log", cursor_type="row")
            table.add_column("time", key="time", width=8)
            table.add_column("job", key="job", width=5)
            table.add_column("message", key="message")
            yield table
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log-filter").display = False
        self._fill()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        table = self.query_one(DataTable)
        for key, column in table.columns.items():
            if key.value == "message":
                column.width = max(20, self.size.width - 8 - 5 - 2 * 3 - 2)
        self._fill()

    def _matches(self, entry: protocol.LogEntry) -> bool:
        if not self.text_filter:
            return True
        hay = f"{entry['message']} #{entry.get('job_id') or ''} {entry['level']}"
        return self.text_filter.lower() in hay.lower()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        self.shown = [e for e in self.earwig.log_lines if self._matches(e)]
        for entry in self.shown:
            table.add_row(*self._cells(entry))
        if self.shown:
            last = len(self.shown) - 1
            table.move_cursor(row=last if self.following else min(row, last), animate=False)
        self._info()

    @staticmethod
    def _cells(entry: protocol.LogEntry) -> tuple[Text, Text, Text]:
        style = STYLE.get(entry["level"], "")
        when = dt.datetime.fromtimestamp(entry["ts"]).strftime("%H:%M:%S")
        job = f"#{entry['job_id']}" if entry.get("job_id") else ""
        message = Text(entry["message"], style=style, overflow="ellipsis", no_wrap=True)
        return Text(when, style="dim"), Text(job, style="cyan"), message

    def _info(self) -> None:
        parts = ["following (space holds)" if self.following else "held (space follows)"]
        if self.text_filter:
            parts.append(f"{len(self.shown)} of {len(self.earwig.log_lines)} lines match")
            parts.append(repr(self.text_filter))
        self.query_one("#log-info", Static).update(Text(" · ".join(parts), style="dim"))

    @on(messages.LogLine)
    def _line_arrived(self, message: messages.LogLine) -> None:
        if not self._matches(message.entry):
            return
        table = self.query_one(DataTable)
        self.shown.append(message.entry)
        table.add_row(*self._cells(message.entry))
        if self.following:
            table.move_cursor(row=len(self.shown) - 1, animate=False)
        if self.text_filter:
            self._info()

    @on(messages.Snapshot)
    def _reconnected(self) -> None:
        self._fill()

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following and self.shown:
            self.query_one(DataTable).move_cursor(row=len(self.shown) - 1, animate=False)
        self._info()

    def action_cursor(self, where: str) -> None:
        self.following = where == "bottom"  # looking back holds the view still; G follows
        move_cursor(self.query_one(DataTable), where)
        self._info()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one(DataTable)  # where it is now, not where a clear() put it
        if self.following and table.cursor_row < table.row_count - 1:
            self.following = False  # the mouse or the arrows went back: hold
            self._info()

    def action_open(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(DataTable).focus()
            return
        row = self.query_one(DataTable).cursor_row
        if not self.shown or row >= len(self.shown):
            return
        job_id = self.shown[row].get("job_id")
        if not job_id:
            self.notify("this line is not about a job", severity="warning", timeout=2)
            return
        self.app.push_screen(JobDetailScreen(int(job_id)))

    def action_filter(self) -> None:
        field = self.query_one("#log-filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value.strip()
        self._fill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    async def action_escape(self) -> None:
        field = self.query_one("#log-filter", Input)
        if field.display or self.text_filter:
            field.value, field.display = "", False
            self.text_filter = ""
            self._fill()
            self.query_one(DataTable).focus()
            return
        await self.earwig.action_switch_tab("queue")
