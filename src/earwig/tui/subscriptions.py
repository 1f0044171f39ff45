"""The Subscriptions tab: feeds and channels, when they were checked, what they found."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from earwig import formatting, protocol
from earwig.tui import messages
from earwig.tui.base import EarwigScreen
from earwig.tui.dialogs import ConfirmDialog, SubscribeDialog
from earwig.tui.widgets import Rows, StatusBar, TabBar, move_cursor


class SubscriptionsScreen(EarwigScreen[None]):
    HELP_TITLE = "Subscriptions"
    BINDINGS = [
        Binding("a", "add", "Subscribe"),
        Binding("c", "check", "Check now"),
        Binding("C", "check_all", "Check all", show=False),
        Binding("d", "remove", "Unsubscribe (asks first)"),
        Binding("enter", "jobs", "Its jobs", priority=True),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("g", "cursor('top')", "First row", show=False),
        Binding("G", "cursor('bottom')", "Last row", show=False),
        Binding("escape", "app.switch_tab('queue')", "Queue", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TabBar("subscriptions")
        with Vertical():
            yield Static("", id="subs-info")
            yield Rows(id="subs", cursor_type="row")
        yield StatusBar(id="status")
        yield Footer()

    def on_resize(self) -> None:
        """Every column on screen at any width (no sideways scroll hiding `items` and `url`):
        the name, the last check and the URL share what the fixed ones leave."""
        width = self.size.width
        fixed = {"schedule": 8, "next check": 10, "items": 5}
        room = max(30, width - sum(fixed.values()) - 2 * 6 - 2)
        flexible = {"name": room * 3 // 10, "last check": room * 4 // 10}
        flexible["url"] = room - sum(flexible.values())
        widths = {**fixed, **flexible}
        order = ("name", "schedule", "next check", "last check", "items", "url")
        table = self.query_one(DataTable)
        if [(str(k.value), c.width) for k, c in table.columns.items()] == [
            (n, widths[n]) for n in order
        ]:
            return
        table.clear(columns=True)
        for name in order:
            table.add_column(name, key=name, width=widths[name])
        self.refresh_table()

    def on_mount(self) -> None:
        self.refresh_table()
        self.set_interval(5.0, self.refresh_table)  # "ok 5m ago" follows the clock

    @on(messages.SubscriptionsChanged)
    @on(messages.Snapshot)
    def _changed(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        if not table.columns:  # not laid out yet: on_resize adds the columns, then fills
            return
        row = table.cursor_row
        table.clear()
        subs = self.earwig.subscriptions
        now = self.earwig.now()
        for s in subs:
            nxt = formatting.until(s.get("next_check"), now)
            if s.get("checking"):
                last = Text("checking…", style="cyan")
            elif s.get("last_error"):
                last = Text(f"error: {s['last_error']}", style="red")
            elif s.get("last_ok"):
                last = Text(
                    f"ok {formatting.age(s['last_ok'], now)} ago, {s.get('last_new') or 0} new"
                )
            else:
                last = Text("never checked", style="dim")
            table.add_row(
                Text(s["name"], overflow="ellipsis", no_wrap=True),
                s["schedule"],
                nxt,
                last,
                str(s.get("items_found") or 0),
                Text(s["url"], overflow="ellipsis", no_wrap=True),
                key=s["name"],
            )
        if subs:
            table.move_cursor(row=min(row, len(subs) - 1), animate=False, scroll=False)
        self.query_one("#subs-info", Static).update(
            "" if subs else "No subscriptions yet: press a to follow a podcast feed or a channel."
        )

    def _current(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    async def action_check(self) -> None:
        name = self._current()
        if name is None:
            return
        self.notify(f"checking {name}…", timeout=2)
        result = await self.earwig.call(protocol.CheckSubscription(name=name))
        if result:
            r = result["results"][0]
            message = r.get("error") or (
                "unchanged" if r.get("unchanged") else f"{r.get('new', 0)} new item(s) queued"
            )
            self.notify(
                f"{name}: {message}",
                severity="error" if r.get("error") else "information",
                markup=False,
            )

    def action_cursor(self, where: str) -> None:
        move_cursor(self.query_one(DataTable), where)

    async def action_jobs(self) -> None:
        """The queue, showing only this subscription's jobs (esc there shows all again)."""
        name = self._current()
        if name is None:
            return
        await self.earwig.show_subscription(name)

    def action_check_all(self) -> None:
        self.earwig.check_all()

    @work(group="steer")
    async def action_remove(self) -> None:
        name = self._current()
        if name is None:
            return
        question = f"Unsubscribe from {name}?"
        detail = "Its entry leaves the config file; its transcripts and history stay."
        if not await self.earwig.push_screen_wait(ConfirmDialog(question, detail)):
            return
        if await self.earwig.call(protocol.RemoveSubscription(name=name)) is not None:
            self.notify(f"unsubscribed {name}")

    def action_add(self) -> None:
        self.earwig.push_screen(SubscribeDialog())
