"""The Log tab: the daemon's log, live."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, RichLog

from earwig import protocol
from earwig.tui import messages
from earwig.tui.base import EarwigScreen
from earwig.tui.widgets import TabBar


class LogScreen(EarwigScreen[None]):
    HELP_TITLE = "Log"
    BINDINGS = [Binding("escape", "app.switch_tab('queue')", "Queue", show=False)]

    def compose(self) -> ComposeResult:
        yield TabBar("log")
        yield RichLog(id="log", wrap=True, highlight=False, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for entry in self.earwig.log_lines:
            log.write(self._line(entry))

    @on(messages.LogLine)
    def _line_arrived(self, message: messages.LogLine) -> None:
        self.query_one(RichLog).write(self._line(message.entry))

    @staticmethod
    def _line(entry: protocol.LogEntry) -> Text:
        when = dt.datetime.fromtimestamp(entry["ts"]).strftime("%H:%M:%S")
        style = {"error": "red", "warning": "yellow"}.get(entry["level"], "")
        job = f" #{entry['job_id']}" if entry.get("job_id") else ""
        return Text(f"{when}{job} {entry['message']}", style=style)
