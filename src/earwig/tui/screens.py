"""The other screens: search, subscriptions, sources, log, and the small dialogs."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, RichLog, Static

from earwig import formatting, urls
from earwig.errors import EarwigError
from earwig.formatting import HIGHLIGHT_END, HIGHLIGHT_START
from earwig.tui.widgets import ConfirmDialog, TabBar


def highlighted(snippet: str) -> Text:
    """A search snippet with its marked words in bold."""
    text = Text()
    bold = False
    for part in snippet.replace(HIGHLIGHT_END, HIGHLIGHT_START).split(HIGHLIGHT_START):
        text.append(part, style="bold yellow" if bold else "")
        bold = not bold
    return text


class SearchScreen(Screen):
    """Live full-text search over every transcript; enter opens the job at the hit."""

    HELP_TITLE = "Search"
    BINDINGS = [
        Binding("escape", "app.switch_tab('queue')", "Queue"),
        Binding("enter", "open", "Open at the hit", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TabBar("search")
        with Vertical():
            yield Input(
                placeholder='search what was said: words, "a phrase", prefix*, a OR b', id="query"
            )
            yield Static("", id="search-info")
            table: DataTable = DataTable(id="hits", cursor_type="row")
            table.add_column("title", key="title", width=24)
            table.add_column("at", key="at", width=8)
            table.add_column("snippet", key="snippet")
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.query_one("#query").focus()

    def on_screen_resume(self) -> None:
        self.query_one("#query").focus()  # `/` or `5` means "type a query"

    def on_input_changed(self, event: Input.Changed) -> None:
        self.run_worker(self._search(event.value), exclusive=True, group="search")

    async def _search(self, query: str) -> None:
        await asyncio.sleep(0.12)  # debounce: only the last keystroke's query runs
        info = self.query_one("#search-info", Static)
        table = self.query_one(DataTable)
        if not query.strip():
            table.clear()
            info.update("")
            return
        client = self.app.client
        if client is None or not client.connected:
            info.update(Text("not connected to the daemon", style="bold red"))
            return
        try:
            result = await client.call("search", query=query, limit=100)
        except EarwigError as exc:
            info.update(Text(f"{exc.message}\n{exc.hint}", style="red"))
            return
        self.hits = result["hits"]
        table.clear()
        for i, hit in enumerate(self.hits):
            snippet = highlighted(hit["snippet"])
            if hit.get("speaker"):  # who said it, when speakers were labelled
                snippet = Text(f"{hit['speaker']}: ", style="magenta") + snippet
            table.add_row(
                Text(hit["title"], overflow="ellipsis", no_wrap=True),
                hit["clock"],
                snippet,
                key=str(i),
            )
        info.update(f"{len(self.hits)} hit(s)" + (" (best 100)" if len(self.hits) == 100 else ""))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.hits:
            self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from earwig.tui.detail import JobDetailScreen

        hit = self.hits[int(event.row_key.value or 0)]
        marked = hit["snippet"].split(HIGHLIGHT_START, 1)[1:]  # the word the search matched
        needle = marked[0].split(HIGHLIGHT_END, 1)[0] if marked else ""
        self.app.push_screen(JobDetailScreen(hit["job_id"], at=hit["start"], needle=needle))


class SubscriptionsScreen(Screen):
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
        self._unlisten = self.app.listen(self._event)
        self.refresh_table()
        self.set_interval(5.0, self.refresh_table)  # "ok 5m ago" follows the clock

    def on_unmount(self) -> None:
        self._unlisten()

    def _event(self, what: str, data: dict[str, Any]) -> None:
        if what in ("subscriptions", "snapshot"):
            self.refresh_table()

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        subs = self.app.subscriptions
        now = self.app.now()
        for s in subs:
            nxt = (
                dt.datetime.fromtimestamp(s["next_check"]).strftime("%d %H:%M")
                if s.get("next_check")
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
        result = await self.app.call("subscription.check", name=name)
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
        self.app.check_all()

    @work(group="steer")
    async def action_remove(self) -> None:
        name = self._current()
        if name is None:
            return
        question = f"Unsubscribe from {name}?"
        detail = "Its entry leaves the config file; its transcripts and history stay."
        if not await self.app.push_screen_wait(ConfirmDialog(question, detail)):
            return
        if await self.app.call("subscription.remove", name=name) is not None:
            self.notify(f"unsubscribed {name}")

    def action_add(self) -> None:
        self.app.push_screen(SubscribeDialog())


class SourcesScreen(Screen):
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
        self._unlisten = self.app.listen(self._event)

    def _event(self, what: str, data: dict[str, Any]) -> None:
        if what == "snapshot":  # a reconnect: the daemon's folders and slots may be new
            self.refresh_table()

    def on_unmount(self) -> None:
        self._unlisten()

    def on_screen_resume(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        st = self.app.status
        table = self.query_one(DataTable)
        table.clear()
        for folder in st.get("watch", []):
            ok = Path(folder).is_dir()
            table.add_row(
                "folder",
                Text("watching" if ok else "missing", style="green" if ok else "red"),
                folder,
            )
        if st.get("inbox"):
            inbox = Path(st["inbox"])
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


class LogScreen(Screen):
    HELP_TITLE = "Log"
    BINDINGS = [Binding("escape", "app.switch_tab('queue')", "Queue", show=False)]

    def compose(self) -> ComposeResult:
        yield TabBar("log")
        yield RichLog(id="log", wrap=True, highlight=False, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for entry in self.app.log_lines:
            log.write(self._line(entry))
        self._unlisten = self.app.listen(self._event)

    def on_unmount(self) -> None:
        self._unlisten()

    def _event(self, what: str, data: dict[str, Any]) -> None:
        if what == "log":
            self.query_one(RichLog).write(self._line(data))

    @staticmethod
    def _line(entry: dict[str, Any]) -> Text:
        when = dt.datetime.fromtimestamp(entry["ts"]).strftime("%H:%M:%S")
        style = {"error": "red", "warning": "yellow"}.get(entry["level"], "")
        job = f" #{entry['job_id']}" if entry.get("job_id") else ""
        return Text(f"{when}{job} {entry['message']}", style=style)


class AddDialog(ModalScreen):
    """Add a file path or a URL: checked here, then sent to the daemon."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, force: bool = False) -> None:
        super().__init__()
        self.force = force  # queue it even if the same content or URL is known

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            again = " (again, even if it is known)" if self.force else ""
            yield Label(f"Add a file, a folder or a URL to the queue{again}")
            yield Input(placeholder="/path/to/talk.mp3 or https://…", id="item")
            yield Static("", id="dialog-error")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        error = self.query_one("#dialog-error", Static)
        if not value:
            error.update("type a path or a URL")
            return
        if "://" not in value:
            path = Path(value).expanduser().resolve()
            if not path.exists():
                error.update(Text(f"no such file or folder: {path}", style="red"))
                return
            value = str(path)  # a folder: its media, recursively
        result = await self.app.call("job.add", paths=[value], force=self.force)
        if result is None:
            return
        outcomes = [formatting.add_outcome(r) for r in result["results"]]
        problems = [line for kind, line, _ in outcomes if kind == "error"]
        if problems and len(outcomes) == 1:
            error.update(Text(problems[0], style="red"))
            return
        for _kind, line, hint in outcomes[:5]:
            self.notify(f"{line} {hint}".strip(), markup=False)
        if len(outcomes) > 5:
            self.notify(f"… and {len(outcomes) - 5} more", markup=False)
        self.dismiss()


class NameDialog(ModalScreen[str]):
    """A name for a speaker; dismissed with the name, or "" when cancelled."""

    BINDINGS = [Binding("escape", "dismiss('')", "Cancel")]

    def __init__(self, speaker: str) -> None:
        super().__init__()
        self.speaker = speaker

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Who is {self.speaker}? (their voice is remembered)")
            yield Input(placeholder="a name, like Alice", id="speaker-name")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class SubscribeDialog(ModalScreen):
    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Follow a podcast feed, a channel or a playlist")
            yield Input(placeholder="https://…", id="url")
            yield Input(placeholder="name (optional: the feed's own title)", id="name")
            yield Static("", id="dialog-error")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        url = self.query_one("#url", Input).value.strip()
        name = self.query_one("#name", Input).value.strip()
        if not urls.is_url(url):
            self.query_one("#dialog-error", Static).update(Text("give an http(s) URL", style="red"))
            return
        if event.input.id == "url" and not name:
            self.query_one("#name", Input).focus()
            return
        # no name: the daemon names it after the feed's title, as `earwig subscribe` does
        params = {"name": name} if name else {}
        result = await self.app.call("subscription.add", url=url, backfill=3, **params)
        if result is not None:
            self.notify(f"subscribed {result.get('name') or name}: the first check runs now")
            self.dismiss()
