"""The Sources tab: where jobs come from (folders, inbox) and where they run (the pool)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer

from earwig.tui import messages
from earwig.tui.base import EarwigScreen
from earwig.tui.widgets import TabBar


class SourcesScreen(EarwigScreen[None]):
    HELP_TITLE = "Sources"
    BINDINGS = [Binding("escape", "app.switch_tab('queue')", "Queue", show=False)]

    def compose(self) -> ComposeResult:
        yield TabBar("sources")
        table: DataTable = DataTable(id="sources", cursor_type="row")
        for name, width in (("kind", 8), ("state", 12), ("path", None)):
            table.add_column(name, key=name, width=width)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_table()

    @on(messages.Snapshot)  # a reconnect: the daemon's folders and slots may be new
    @on(messages.StatusChanged)
    def _changed(self) -> None:
        self.refresh_table()

    def on_screen_resume(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        st = self.earwig.status
        table = self.query_one(DataTable)
        table.clear()
        for folder in st.get("watch", []):
            ok = Path(folder).is_dir()
            table.add_row(
                "folder",
                Text("watching" if ok else "missing", style="green" if ok else "red"),
                folder,
            )
        if inbox_path := st.get("inbox"):
            inbox = Path(inbox_path)
            table.add_row("inbox", Text("has lines" if inbox.exists() else "empty"), str(inbox))
        table.add_row("output", Text("writing"), st.get("output_dir", "?"))
        for slot in st.get("slots", []):  # the pool: where transcriptions run
            if slot["drained"]:
                state = Text("drained", style="yellow")
            elif not slot["up"]:
                state = Text("down", style="red")
            else:
                state = Text(f"up {len(slot['busy'])}/{slot['capacity']}", style="green")
            speed = f" · {slot['throughput']}x" if slot.get("throughput") else ""
            error = f" · last error: {slot['last_error']}" if slot.get("last_error") else ""
            where = slot.get("url") or "this machine"
            table.add_row(slot["kind"], state, Text(f"{slot['name']}: {where}{speed}{error}"))
