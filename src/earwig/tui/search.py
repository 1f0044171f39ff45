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
from earwig.tui.widgets import Rows, StatusBar, TabBar


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
    KEEPS_OPENED = False  # `5` and `/` always land in the box (base.EarwigScreen)
    BINDINGS = [
        Binding("escape", "app.switch_tab('queue')", "Queue"),
        Binding("enter", "open", "Open at the hit", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TabBar("search")
        with Vertical():
            yield Input(
                placeholder='search what was said: words, "a phrase", prefix*, a OR b',
                id="query",
                select_on_focus=False,  # back in the box, typing goes on after the query
            )
            yield Static("", id="search-info")
            table: DataTable = Rows(id="hits", cursor_type="row")
            table.add_column("title", key="title", width=24)
            table.add_column("at", key="at", width=8)
            table.add_column("snippet", key="snippet")
            yield table
        yield StatusBar(id="status")
        yield Footer()

    def on_resize(self) -> None:
        """The snippet takes the room the title and the time leave: no sideways scroll."""
        width = self.size.width
        title = 24 if width >= 100 else 18
        table = self.query_one(DataTable)
        for key, column in table.columns.items():
            if key.value == "title":
                column.width = title
            elif key.value == "snippet":
                column.width = max(20, width - title - 8 - 2 * 3 - 2)
        table.refresh()

    def on_mount(self) -> None:
        self.hits: list[protocol.SearchHit] = []
        self._opened_hit = False
        self.query_one("#query").focus()

    def on_screen_resume(self) -> None:
        if self._opened_hit and self.hits:  # back from a hit (esc): keys move between hits
            self._opened_hit = False
            self.query_one(DataTable).focus()
            return
        self._focus_query()

    def tab_key(self) -> None:
        """`5` or `/`: "type a query", from anywhere, even just back from a hit."""
        self._opened_hit = False
        self._focus_query()

    def _focus_query(self) -> None:
        query = self.query_one("#query", Input)
        query.focus()
        query.cursor_position = len(query.value)  # after what was typed, nothing selected

    def on_input_changed(self, event: Input.Changed) -> None:
        self.run_worker(self._search(event.value), exclusive=True, group="search")

    async def _search(self, query: str, submitted: bool = False) -> None:
        """Search as the user types. A query that cannot be read yet (`a OR`, an open quote)
        says "keep typing" instead of flashing the engine's syntax error; enter says what is
        wrong with it."""
        if not submitted:
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
            self.hits = []
            table.clear()
            if not submitted and exc.message.startswith("cannot understand"):
                info.update(Text("keep typing… (enter says what is wrong)", style="dim"))
            else:
                info.update(Text(f"{exc.message}\n{exc.hint}", style="red"))
            return
        self.hits = result["hits"]
        table.clear()
        for i, hit in enumerate(self.hits):
            snippet = highlighted(hit["snippet"].strip())
            if hit.get("speaker"):  # who said it, when speakers were labelled
                snippet = Text(f"{hit['speaker']}: ", style="magenta") + snippet
            table.add_row(
                Text(hit["title"], overflow="ellipsis", no_wrap=True),
                hit["clock"],
                Text.assemble(snippet, overflow="ellipsis", no_wrap=True),
                key=str(i),
            )
        box = self.query_one("#query", Input)
        if submitted and self.hits and box.value == query and self.focused is box:
            table.focus()  # enter: to the hits, unless the user has typed on meanwhile
        count = len(self.hits)
        words = "1 hit" if count == 1 else f"{count} hits"
        info.update(words + (" (the best 100)" if count == 100 else ""))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.hits:
            self.query_one(DataTable).focus()
            return
        # not searched yet, nothing found, or unreadable: now, and say why; in the same
        # exclusive group, so a keystroke's search still waiting cannot answer after it
        self.run_worker(self._search(event.value, submitted=True), exclusive=True, group="search")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        hit = self.hits[int(event.row_key.value or 0)]
        self._opened_hit = True
        screen = JobDetailScreen(hit["job_id"], at=hit["start"], words=matched_words(hit))
        self.app.push_screen(screen)


def matched_words(hit: protocol.SearchHit) -> tuple[str, ...]:
    """Every word the search marked in a hit's snippet, once each."""
    words: list[str] = []
    for part in hit["snippet"].split(HIGHLIGHT_START)[1:]:
        word = part.split(HIGHLIGHT_END, 1)[0].strip()
        if word and word.lower() not in (w.lower() for w in words):
            words.append(word)
    return tuple(words)
