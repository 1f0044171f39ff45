"""The dialogs: add, subscribe, name a speaker, the y/n question, the `?` key overlay."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from earwig import formatting, protocol, urls
from earwig.tui.base import EarwigModal


class ConfirmDialog(ModalScreen[bool]):
    """A y/n question; dismissed with True only on `y` (or the Yes line clicked)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.question, style="bold"))
            if self.detail:
                yield Static(Text(self.detail), id="confirm-detail")
            yield Static(Text.from_markup("[b]y[/b] yes   [b]n[/b] / esc no"), id="confirm-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """Every key of the screen underneath and of the app, with what it does."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            text = Text(f"{self.title_text}: keys\n\n", style="bold")
            width = max((len(k) for k, _ in self.keys), default=4) + 2
            for key, what in self.keys:
                text.append(f"{key:<{width}}", style="bold cyan")
                text.append(f"{what}\n")
            text.append("\nesc or ? closes this", style="dim")
            yield Static(text)


class AddDialog(EarwigModal[None]):
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
