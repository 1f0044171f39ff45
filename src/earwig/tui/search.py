"""The Search tab: live full-text search over every transcript."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Static

from earwig import protocol
from earwig.errors import EarwigError
from earwig.formatting import HIGHLIGHT_END, HIGHLIGHT_START
from earwig.tui.base import EarwigScreen
from earwig.tui.detail import JobDetailScreen
from earwig.tui.widgets import TabBar


def highlighted(snippet: str) -> Text:
    """A search snippet with its marked words in bold."""
    text = Text()
    bold = False
    for part in snippet.replace(HIGHLIGHT_END, HIGHLIGHT_START).split(HIGHLIGHT_START):
        text.append(part, style="bold yellow" if bold else "")
        bold = not bold
    return text


class SearchScreen(EarwigScreen[None]):
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
        self.hits: list[protocol.SearchHit] = []
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
        client = self.earwig.client
        if client is None or not client.connected:
            info.update(Text("not connected to the daemon", style="bold red"))
            return
        try:
            result = await client.call(protocol.Search(query=query, limit=100))
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
        hit = self.hits[int(event.row_key.value or 0)]
        marked = hit["snippet"].split(HIGHLIGHT_START, 1)[1:]  # the word the search matched
        needle = marked[0].split(HIGHLIGHT_END, 1)[0] if marked else ""
        self.app.push_screen(JobDetailScreen(hit["job_id"], at=hit["start"], needle=needle))
