"""The Sources tab: where jobs come from (folders, inbox) and where they run (the pool)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer

from earwig import protocol
from earwig.tui import messages
from earwig.tui.base import EarwigScreen
from earwig.tui.widgets import Rows, StatusBar, TabBar

POLL = 2.0  # seconds between two looks at the pool while this tab is shown


class SourcesScreen(EarwigScreen[None]):
    """Where jobs come from and where they run. The pool's slots change without events (a
    slot takes a job, a server goes down), so while this tab is shown it asks for the
    daemon's status every POLL seconds."""

    HELP_TITLE = "Sources"
    BINDINGS = [
        Binding("d", "drain", "Drain or undrain the slot"),
        Binding("P", "pause_pool", "Pause or resume the pool"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("escape", "app.switch_tab('queue')", "Queue", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TabBar("sources")
        table: DataTable = Rows(id="sources", cursor_type="row")
        for name, width in (("kind", 8), ("state", 14), ("path", None)):
            table.add_column(name, key=name, width=width)
        yield table
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.slots: dict[str, protocol.SlotView] = {}  # row key -> the slot on that row
        self.refresh_table()
        self.set_interval(POLL, self._poll)

    async def _poll(self) -> None:
        if self.app.screen is self and self.earwig.connection == "connected":
            await self.earwig.refresh_status()

    @on(messages.Snapshot)  # a reconnect: the daemon's folders and slots may be new
    @on(messages.StatusChanged)
    @on(messages.QueueChanged)
    @on(messages.ConnectionChanged)
    def _changed(self) -> None:
        self.refresh_table()

    def on_screen_resume(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        st = self.earwig.status
        up = self.earwig.connection == "connected"
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        self.slots = {}

        def state(words: str, style: str) -> Text:  # what the daemon last said, when away
            return Text(words, style=style) if up else Text("? (daemon away)", style="dim")

        for folder in st.get("watch", []):
            ok = Path(folder).is_dir()
            words, style = ("watching", "green") if ok else ("missing", "red")
            table.add_row("folder", state(words, style), folder)
        if inbox_path := st.get("inbox"):
            inbox = Path(inbox_path)
            table.add_row(
                "inbox", state("has lines" if inbox.exists() else "empty", ""), str(inbox)
            )
        table.add_row("output", state("writing", ""), st.get("output_dir", "?"))
        for slot in st.get("slots", []):  # the pool: where transcriptions run
            busy, capacity = len(slot["busy"]), slot["capacity"]
            if slot["drained"]:
                words, style = (f"drained, {busy} busy" if busy else "drained"), "yellow"
            elif not slot["up"]:
                words, style = "down", "red"
            elif st.get("queue_paused"):
                words, style = "pool paused", "yellow"
            elif busy:
                words, style = f"busy {busy}/{capacity}", "bold green"
            else:
                words, style = f"idle 0/{capacity}", "green"
            speed = f" · {slot['throughput']}x" if slot.get("throughput") else ""
            error = f" · last error: {slot['last_error']}" if slot.get("last_error") else ""
            where = slot.get("url") or "this machine"
            key = f"slot:{slot['name']}"
            self.slots[key] = slot
            what = Text(f"{slot['name']}: {where}{speed}{error}")
            table.add_row(slot["kind"], state(words, style), what, key=key)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1), animate=False)

    def action_cursor(self, where: str) -> None:
        table = self.query_one(DataTable)
        table.action_cursor_down() if where == "down" else table.action_cursor_up()

    async def action_drain(self) -> None:
        """Stop giving the selected slot new jobs (its running ones finish), or start again."""
        table = self.query_one(DataTable)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        slot = self.slots.get(str(key))
        if slot is None:
            self.notify("d drains a slot of the pool: put the cursor on one", severity="warning")
            return
        drain = not slot["drained"]
        if await self.earwig.call(protocol.DrainSlot(name=slot["name"], drain=drain)) is not None:
            self.notify(
                f"{slot['name']}: drained, its running jobs finish"
                if drain
                else f"{slot['name']}: takes jobs again",
                timeout=3,
            )
            await self.earwig.refresh_status()

    async def action_pause_pool(self) -> None:
        paused = self.earwig.status.get("queue_paused")
        request = protocol.ResumeQueue() if paused else protocol.PauseQueue()
        if await self.earwig.call(request) is not None:
            self.notify("the pool takes jobs again" if paused else "the pool is paused", timeout=3)
