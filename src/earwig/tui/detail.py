"""One job in full: where it came from, every state with its time, the error and its hint,
the outputs, and the transcript with timestamps (scrollable, searchable, openable)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from earwig import formatting
from earwig.formatting import clock
from earwig.launch import open_with_system


class JobDetailScreen(Screen):
    TITLE = "earwig · job"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f", "find", "Find in transcript"),
        Binding("n", "next_match", "Next match"),
        Binding("o", "open_transcript", "Open transcript"),
        Binding("O", "open_folder", "Open folder"),
    ]

    def __init__(self, job_id: int, at: float | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.at = at  # scroll to the segment starting here (from a search hit)
        self.job: dict[str, Any] = {}
        self.segments: list[dict[str, Any]] = []
        self.matches: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="title")
        with Vertical():
            yield Static("loading…", id="meta")
            yield Input(placeholder="find in transcript (enter: next match)", id="find")
            table: DataTable = DataTable(id="segments", cursor_type="row")
            table.add_column("at", key="at", width=8)
            table.add_column("text", key="text")
            yield table
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#find").display = False
        result = await self.app.call("job.get", id=self.job_id, transcript=True)
        if result is None:
            self.query_one("#meta", Static).update(f"job {self.job_id} is not available")
            return
        self.job = result["job"]
        self.segments = (result.get("transcript") or {}).get("segments", [])
        self.query_one("#meta", Static).update(self._meta(result))
        table = self.query_one(DataTable)
        for i, seg in enumerate(self.segments):
            table.add_row(clock(seg["start"]), seg["text"].strip(), key=str(i))
        if self.at is not None and self.segments:
            row = min(
                range(len(self.segments)), key=lambda i: abs(self.segments[i]["start"] - self.at)
            )
            table.move_cursor(row=row, animate=False)
        table.focus()

    def _meta(self, result: dict[str, Any]) -> Text:
        job = self.job
        text = Text()
        text.append(f"#{job['id']} {job['title']}", style="bold")
        text.append(f"  [{job['state']}]\n")
        text.append(
            f"source   {job.get('path') or job.get('url')} ({job['source']}"
            + (f", {job['subscription']}" if job.get("subscription") else "")
            + ")\n"
        )
        times = sorted(job.get("times", {}).items(), key=lambda kv: kv[1])
        text.append(
            "states   "
            + "  ".join(f"{state} {dt.datetime.fromtimestamp(ts):%H:%M:%S}" for state, ts in times)
            + "\n"
        )
        if job.get("backend"):
            text.append(
                f"backend  {job['backend']} · {job.get('model')}"
                f"   audio {formatting.duration(job.get('duration'))}"
                f"   attempts {job.get('attempts', 0)}\n"
            )
        if job.get("language"):
            text.append(f"language {job['language']}\n")
        for warning in job.get("warnings") or []:
            text.append(f"warning  {warning}\n", style="yellow")
        if job.get("waiting"):
            text.append(f"waiting  {job['waiting']}\n", style="dim")
        if job.get("error"):
            text.append(f"error    {job['error']}\n", style="bold red")
            if job.get("hint"):
                text.append(f"hint     {job['hint']}\n")
        for out in job.get("outputs") or []:
            text.append(f"output   {out}\n", style="dim")
        if not self.segments:
            text.append(
                "(no speech found)\n" if job.get("state") == "done" else "(no transcript yet)\n",
                style="dim",
            )
        return text

    # ------------------------------------------------------------ find

    def action_find(self) -> None:
        field = self.query_one("#find", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        needle = event.value.strip().lower()
        self.matches = [
            i for i, s in enumerate(self.segments) if needle and needle in s["text"].lower()
        ]
        table = self.query_one(DataTable)
        for i, seg in enumerate(self.segments):
            text = Text(seg["text"].strip())
            if needle:
                text.highlight_words([needle], style="bold yellow", case_sensitive=False)
            table.update_cell(str(i), "text", text)
        if self.matches:
            table.move_cursor(row=self.matches[0], animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_next_match()

    def action_next_match(self) -> None:
        if not self.matches:
            return
        table = self.query_one(DataTable)
        after = [i for i in self.matches if i > table.cursor_row]
        table.move_cursor(row=(after or self.matches)[0], animate=False)

    # ------------------------------------------------------------ open

    def _transcript(self) -> Path | None:
        outputs = self.job.get("outputs") or []
        txt = next((p for p in outputs if p.endswith(".txt")), outputs[0] if outputs else None)
        return Path(txt) if txt else None

    def action_open_transcript(self) -> None:
        path = self._transcript()
        error = open_with_system(path) if path else "this job has no transcript yet"
        self.notify(error or f"opening {path}", severity="error" if error else "information")

    def action_open_folder(self) -> None:
        path = self._transcript()
        if path is None:
            self.notify("this job has no transcript yet", severity="error")
            return
        error = open_with_system(path.parent)
        self.notify(error or f"opening {path.parent}", severity="error" if error else "information")
