"""The Subscriptions tab: feeds and channels, when they were checked, what they found."""

from __future__ import annotations

import datetime as dt

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
from earwig.tui.widgets import TabBar


class SubscriptionsScreen(EarwigScreen[None]):
    HELP_TITLE = "Subscriptions"
    BINDINGS = [
        Binding("a", "add", "Subscribe"),
        Binding("c", "check", "Check now"),
        Binding("C", "check_all", "Check all", show=False),
        Binding("d", "remove", "Unsubscribe (asks first)"),
        Binding("escape", "app.switch_tab('queue')", "Queue", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TabBar("subscriptions")
        with Vertical():
            yield Static("", id="subs-info")
            table: DataTable = DataTable(id="subs", cursor_type="row")
            for name, width in (
                ("name", 18),
                ("schedule", 12),
                ("next check", 11),
                ("last check", 30),
                ("items", 6),
                ("url", None),
            ):
                table.add_column(name, key=name, width=width)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_table()
        self.set_interval(5.0, self.refresh_table)  # "ok 5m ago" follows the clock

    @on(messages.SubscriptionsChanged)
    @on(messages.Snapshot)
    def _changed(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        subs = self.earwig.subscriptions
        now = self.earwig.now()
        for s in subs:
            nxt = (
                dt.datetime.fromtimestamp(next_check).strftime("%d %H:%M")
                if (next_check := s.get("next_check"))
                else "-"
            )
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
                s["name"],
                s["schedule"],
                nxt,
                last,
                str(s.get("items_found") or 0),
                s["url"],
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
