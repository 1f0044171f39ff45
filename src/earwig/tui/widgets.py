"""Pieces every screen shares: the tab bar, the y/n confirmation, the `?` key overlay."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

# (mode, key, label): the dashboard's tabs, in the order of their number keys
TABS = (
    ("queue", "1", "Queue"),
    ("subscriptions", "2", "Subscriptions"),
    ("sources", "3", "Sources"),
    ("log", "4", "Log"),
    ("search", "5", "Search"),
)


class TabBar(Static):
    """The tabs along the top: the current one highlighted, each one clickable, `?` for keys."""

    def __init__(self, current: str) -> None:
        super().__init__(classes="title")
        self.current = current

    def on_mount(self) -> None:
        self.update(self.text())

    def text(self) -> Text:
        text = Text("earwig ", style="bold")
        for mode, key, label in TABS:
            style = "reverse bold" if mode == self.current else ""
            piece = Text(f" {key} {label} ", style=style)
            piece.stylize(Style(meta={"@click": f"app.switch_tab('{mode}')"}))
            text.append_text(piece)
        text.append("   ? keys", style="dim")
        return text


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


def key_name(binding: Binding) -> str:
    """How a binding's key is written for people: "enter", "/", "j/down"."""
    names = {"slash": "/", "question_mark": "?", "escape": "esc"}
    return "/".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def keys_of(*sources: Any) -> list[tuple[str, str]]:
    """(key, description) for the bindings of each source (a screen, the app), first wins."""
    seen: set[str] = set()
    out = []
    for source in sources:
        for binding in getattr(source, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            name = key_name(binding)
            if name in seen:
                continue
            seen.add(name)
            out.append((name, binding.description))
    return out
