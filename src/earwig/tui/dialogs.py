"""The dialogs: add, subscribe, name a speaker, the y/n question, the `?` key overlay."""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import zip_longest
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from earwig import formatting, protocol, urls
from earwig.tui.base import EarwigModal


class ConfirmDialog(ModalScreen[bool]):
    """A y/n question; dismissed with True only on `y` (or the Yes line clicked).

    A question about something that changes by itself (a running job that pauses, ends or
    fails meanwhile) is given `stale`: while it is shown, the dialog asks it a few times a
    second, and once it says why the question no longer holds, the dialog closes itself as
    a "no" and says so, rather than outliving its state and taking the next key."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(
        self, question: str, detail: str = "", stale: Callable[[], str] | None = None
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.stale = stale

    def on_mount(self) -> None:
        if self.stale is not None:
            self.set_interval(0.2, self._check)

    def _check(self) -> None:
        assert self.stale is not None
        if (why := self.stale()) and self.is_current:
            self.notify(f"{why}: nothing to ask any more", timeout=6, markup=False)
            self.dismiss(False)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.question, style="bold"))
            if self.detail:
                yield Static(Text(self.detail), id="confirm-detail")
            yield Static(Text.from_markup("[b]y[/b] yes   [b]n[/b] / esc no"), id="confirm-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """Every key: the screen underneath first, then those that work everywhere, then each
    other screen's, so it says which screens have which. Two columns of keys; it scrolls
    when it does not fit, and the line saying so (and how to close it) always shows."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        Binding("j,down", "scroll(1)", "Scroll down", show=False),
        Binding("k,up", "scroll(-1)", "Scroll up", show=False),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections
        # the screen underneath's keys and those of everywhere, as a lookup
        self.keys = [kv for _, keys in sections[:2] for kv in keys]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            with VerticalScroll(id="help-keys"):
                for title, keys in self.sections:
                    yield Static(Text(title, style="bold"), classes="help-title")
                    yield Static(self._grid(keys))
            yield Static(Text("↑↓ j k scroll · esc or ? closes", style="dim"), id="help-hint")

    @staticmethod
    def _grid(keys: list[tuple[str, str]]) -> Table:
        grid = Table.grid(padding=(0, 1), expand=True)
        for _ in range(2):
            grid.add_column(style="bold cyan", no_wrap=True)
            grid.add_column(ratio=1)
        half = (len(keys) + 1) // 2
        for left, right in zip_longest(keys[:half], keys[half:]):
            grid.add_row(*(left or ("", "")), *(right or ("", "")))
        return grid

    def action_scroll(self, step: int) -> None:
        self.query_one("#help-keys", VerticalScroll).scroll_relative(y=step * 3, animate=False)


class AddDialog(EarwigModal[None]):
    """Add a file path or a URL: checked here, then sent to the daemon. Tab completes a
    path as a shell does (the common part of what matches; the choices listed below)."""

    BINDINGS = [
        Binding("escape", "dismiss", "Cancel"),
        Binding("tab", "complete", "Complete the path", priority=True),
    ]

    def __init__(self, force: bool = False) -> None:
        super().__init__()
        self.force = force  # queue it even if the same content or URL is known

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            again = " (again, even if it is known)" if self.force else ""
            yield Label(f"Add a file, a folder or a URL to the queue{again}")
            yield Input(placeholder="/path/to/talk.mp3 or https://…", id="item")
            yield Static("", id="dialog-error")

    def action_complete(self) -> None:
        field = self.query_one("#item", Input)
        info = self.query_one("#dialog-error", Static)
        if urls.is_url(field.value):
            return
        completed, choices = complete_path(field.value)
        if completed != field.value:
            field.value = completed
            field.cursor_position = len(completed)
        if len(choices) > 1:
            shown = "  ".join(choices[:12]) + ("  …" if len(choices) > 12 else "")
            info.update(Text(shown, style="dim"))
        elif not choices:
            info.update(Text("nothing there starts like that", style="dim"))
        else:
            info.update("")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        error = self.query_one("#dialog-error", Static)
        if not value:
            error.update("type a path or a URL")
            return
        if not urls.is_url(value):
            path = Path(value).expanduser().resolve()
            if not path.exists():
                error.update(Text(f"no such file or folder: {path}", style="red"))
                return
            value = str(path)  # a folder: its media, recursively
        result = await self.earwig.call(protocol.AddJobs(paths=[value], force=self.force))
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


class SubscribeDialog(EarwigModal[None]):
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
        request = protocol.AddSubscription(url=url, backfill=3, name=name or None)
        result = await self.earwig.call(request)
        if result is not None:
            self.notify(f"subscribed {result.get('name') or name}: the first check runs now")
            self.dismiss()


def complete_path(typed: str) -> tuple[str, list[str]]:
    """(the completed text, the names that match): a shell's Tab for one path. A folder that
    is the only match gets its slash, so the next Tab lists what is inside."""
    expanded = os.path.expanduser(typed) if typed else ""
    folder, _, start = expanded.rpartition(os.sep)
    where = Path(folder + os.sep if folder or expanded.startswith(os.sep) else ".")
    try:
        names = sorted(
            entry.name + (os.sep if entry.is_dir() else "")
            for entry in os.scandir(where)
            if entry.name.startswith(start)
            and (start.startswith(".") or not entry.name.startswith("."))
        )
    except OSError:
        return typed, []
    if not names:
        return typed, []
    common = os.path.commonprefix(names)  # noqa: RUF071 (names, character by character)
    head = typed[: len(typed) - len(start)] if start else typed
    return head + common, names
