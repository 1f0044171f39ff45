"""Pieces every screen shares: the tab bar and how keys are listed."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

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
