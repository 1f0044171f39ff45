"""Pieces every screen shares: the tab bar, the status line, and how keys are listed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Static

from earwig import formatting

if TYPE_CHECKING:
    from earwig.tui.app import EarwigApp

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


def move_cursor(table: DataTable[Any], where: str) -> None:
    """The row keys every table shares: "down", "up", "top" (g, home) or "bottom" (G, end)."""
    if where == "down":
        table.action_cursor_down()
    elif where == "up":
        table.action_cursor_up()
    else:
        table.move_cursor(row=0 if where == "top" else max(0, table.row_count - 1))


class Rows(DataTable[Any]):
    """A table of rows where home and end go to the first and the last row (the plain
    DataTable scrolls sideways on them)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]


class StatusBar(Static):
    """The line above the footer on every tab: whether the daemon is there (the same place
    on each screen, so a stopped daemon is never missed), then what needs attention first
    (a paused queue, failures), then the queue's counts, then version, backend and model:
    at 80 columns the end is what is cut."""

    def refresh_from(self, app: EarwigApp) -> None:
        if app.connection != "connected":
            shown = "the data below is from before" if app.jobs or app.status else ""
            text = Text(f"○ {app.connection} · {app.problem}", style="bold red")
            if shown:
                text.append(f" · {shown}", style="red")
            self.update(text)
            return
        st = app.status
        backend = st.get("backend") or {}
        counts = app.counts()
        text = Text()
        if st.get("queue_paused"):
            text.append(" QUEUE PAUSED (P resumes) ", style="bold black on yellow")
            text.append(" ")
        if counts.get("failed"):
            text.append(f"{counts['failed']} failed", style="bold red")
            text.append(" · ")
        running = sum(counts.get(state, 0) for state in formatting.RUNNING)
        tally = [f"{running} running"] if running else []
        tally += [f"{counts[s]} {s}" for s in ("queued", "paused", "done") if counts.get(s)]
        text.append(" ".join(tally) or ("" if counts else "no jobs yet"))
        parts = []
        fetch = backend.get("model_state") or {}
        if fetch.get("state") == "downloading":
            fraction = fetch.get("fraction")
            pct = f" {100 * fraction:.0f}%" if fraction is not None else ""
            parts.append(Text(f"downloading model {fetch.get('name')}{pct}"))
        elif fetch.get("state") == "failed":
            parts.append(Text(f"MODEL {fetch.get('name')}: {fetch.get('error')}", "bold red"))
        broken = [n for n, p in (st.get("parts") or {}).items() if p.get("state") == "restarting"]
        if broken:
            parts.append(Text("RESTARTING: " + ", ".join(broken), style="bold red"))
        parts.append(Text(f"● earwig {st.get('version', '?')}"))
        parts.append(Text(f"{backend.get('name')} · {backend.get('model')}"))
        for part in parts:
            text.append(" · ")
            text.append_text(part)
        self.update(text)


def key_name(binding: Binding) -> str:
    """How a binding's key is written for people: "enter", "5 or /", "j or down"."""
    names = {
        "slash": "/",
        "question_mark": "?",
        "escape": "esc",
        "space": "space",
        "less_than_sign": "<",
        "greater_than_sign": ">",
    }
    return " or ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def keys_of(*sources: Any) -> list[tuple[str, str]]:
    """(key, description) for the bindings of each source (a screen, the app), first wins."""
    seen: set[str] = set()
    out = []
    for source in sources:
        for binding in getattr(source, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            name = key_name(binding)
            if name in seen or binding.action == "dismiss":
                continue
            seen.add(name)
            out.append((name, binding.description))
    return out
