"""One job in full, live: where it came from, every state with its time, progress, the error
and what to press about it, the outputs, and the transcript (wrapped, searchable, copyable,
openable in $PAGER). It follows the daemon's events, so a job opened while it runs finishes
on screen, and r, c, p steer it from here as from the queue."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import subprocess
import tempfile
import typing
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Static

from earwig import formatting, protocol
from earwig.formatting import clock
from earwig.launch import open_with_system
from earwig.tui import messages
from earwig.tui.base import EarwigScreen
from earwig.tui.dialogs import NameDialog
from earwig.tui.widgets import Rows, StatusBar, TabBar, move_cursor

STAMP = 8  # the time column's width
QUIET: dict[str, Any] = {
    "stdin": subprocess.DEVNULL,
    "stdout": subprocess.DEVNULL,
    "stderr": subprocess.DEVNULL,
}


class JobDetailScreen(EarwigScreen[None]):
    HELP_TITLE = "Job"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "find", "Find"),
        Binding("r", "steer('job.retry')", "Retry"),
        Binding("c", "steer('job.cancel')", "Cancel"),
        Binding("p", "pause", "Pause"),
        Binding("i", "toggle_details", "Details"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("g", "cursor('top')", "First line", show=False),
        Binding("G", "cursor('bottom')", "Last line", show=False),
        Binding("n", "next_match(1)", "Next match", show=False),
        Binding("N", "next_match(-1)", "Previous match", show=False),
        Binding("y", "copy_line", "Copy the line with its time and speaker", show=False),
        Binding("o", "open_transcript", "Open the transcript with the desktop", show=False),
        Binding("O", "open_folder", "Open its folder", show=False),
        Binding("v", "pager", "Read it in $PAGER, at this line", show=False),
        Binding("R", "rename_speaker", "Name the speaker of this line", show=False),
    ]

    def __init__(self, job_id: int, at: float | None = None, words: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.job_id = job_id
        self.at = at  # open at the segment starting here (from a search hit)
        self.words = words  # ... with the words the search matched highlighted
        self.needle = ""  # what the find bar looks for
        self.details = False  # the header folded (i unfolds): the transcript gets the room
        self.job: protocol.JobView | None = None
        self.segments: list[protocol.SegmentView] = []
        self.summary: protocol.SummaryView | None = None  # by the [llm] model, if any
        self.matches: list[int] = []

    def compose(self) -> ComposeResult:
        yield TabBar(self.app.current_mode)
        with Vertical():
            yield Static("loading…", id="meta")
            with Horizontal(id="findbar"):
                yield Input(placeholder="find in the transcript: enter, then n / N", id="find")
                yield Static("", id="find-info")
            table: DataTable = Rows(id="segments", cursor_type="row")
            table.add_column("at", key="at", width=STAMP)
            table.add_column("text", key="text", width=self._text_width())
            yield table
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#findbar").display = False
        await self._load()
        self.query_one(DataTable).focus()

    async def _load(self) -> None:
        result = await self.earwig.call(protocol.GetJob(id=self.job_id, transcript=True))
        if result is None:
            self.query_one("#meta", Static).update(f"job {self.job_id} is not available")
            return
        self.job = result["job"]
        self.summary = result.get("summary")
        transcript = result.get("transcript")
        self.segments = list(transcript["segments"]) if transcript else []
        self._show_meta()
        self._fill()
        if (at := self.at) is not None and self.segments:
            row = min(range(len(self.segments)), key=lambda i: abs(self.segments[i]["start"] - at))
            self.query_one(DataTable).move_cursor(row=row, animate=False)
            self.at = None

    def _text_width(self) -> int:
        return max(20, self.app.size.width - STAMP - 6)

    def _fill(self) -> None:
        """The transcript, a row per segment, long lines wrapped to the screen."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for key, column in table.columns.items():
            if key.value == "text":
                column.width = self._text_width()
        for i, seg in enumerate(self.segments):
            table.add_row(clock(seg["start"]), self._segment_text(seg), key=str(i), height=None)
        if self.segments:
            table.move_cursor(row=min(row, len(self.segments) - 1), animate=False)

    def _segment_text(self, seg: protocol.SegmentView) -> Text:
        text = Text((f"{seg['speaker']}: " if seg.get("speaker") else "") + seg["text"].strip())
        words = [w for w in (*self.words, self.needle) if w]
        if words:
            text.highlight_words(words, style="bold black on yellow", case_sensitive=False)
        return text

    def on_resize(self) -> None:
        if self.segments:
            self._fill()

    # ------------------------------------------------------------ live

    @on(messages.Snapshot)
    def _reconnected(self) -> None:
        if self.job_id in self.earwig.jobs:
            self._refresh_from(self.earwig.jobs[self.job_id])

    @on(messages.JobProgress)
    def _progress(self, message: messages.JobProgress) -> None:
        message.taken(self.earwig.progress_queued)
        if message.id == self.job_id:
            self._show_meta()

    @on(messages.JobSegments)
    def _live_lines(self, message: messages.JobSegments) -> None:
        """Lines as the engine finishes them: appended, and followed while the cursor is on
        the last line (as `tail -f` does); anywhere else, the cursor stays put."""
        if message.id != self.job_id or (self.job and self.job["state"] == "done"):
            return
        table = self.query_one(DataTable)
        following = not self.segments or table.cursor_row >= len(self.segments) - 1
        first = not self.segments
        for seg in message.segments:
            if (seg["start"], seg["text"]) in {(s["start"], s["text"]) for s in self.segments[-8:]}:
                continue  # already in the lines job.get gave (sent just before this event)
            index = len(self.segments)
            self.segments.append(seg)
            table.add_row(clock(seg["start"]), self._segment_text(seg), key=str(index), height=None)
        if following:
            table.move_cursor(row=len(self.segments) - 1, animate=False)
        if first:
            self._show_meta()

    @on(messages.JobChanged)
    def _changed(self, message: messages.JobChanged) -> None:
        if message.id == self.job_id:
            self._refresh_from(message.job)

    @on(messages.JobDeleted)
    def _deleted(self, message: messages.JobDeleted) -> None:
        if message.id == self.job_id:
            self.query_one("#meta", Static).update(Text("this job was deleted", style="bold red"))

    def _refresh_from(self, job: protocol.JobView) -> None:
        was = self.job["state"] if self.job else None
        finished = job["state"] == "done" and was != "done"
        retried = job["state"] != "done" and was == "done"
        summarized = bool(self.job and self.job.get("stage")) and not job.get("stage")
        self.job = job
        self._show_meta()
        if finished or retried or summarized:  # the transcript (or its summary) arrived
            self.run_worker(self._load(), group="load", exclusive=True)

    def _show_meta(self) -> None:
        job = self.earwig.jobs.get(self.job_id) or self.job
        if job is None:
            return
        merged: dict[str, object] = dict(self.job) if self.job else {}
        merged.update(job)  # the app's copy is the newer
        self.job = typing.cast(protocol.JobView, merged)
        self.query_one("#meta", Static).update(self._meta(self.job))

    def _meta(self, job: protocol.JobView) -> Text:
        """The header: folded to three lines or so (title and state; where it came from, how
        it was made; what is wrong), `i` unfolds every state's time, warnings and outputs."""
        text = Text()
        text.append(f"#{job['id']} {job['title']}", style="bold")
        state = job["state"]
        pending = self.earwig.pending.get(self.job_id) if state in formatting.RUNNING else None
        stage = f" · {job['stage']}" if job.get("stage") else ""  # the [llm] stage
        text.append(f"  [{pending or state}{stage}]", style="bold")
        bar = formatting.progress_bar(job, 20)
        text.append(f"  {bar}\n" if bar else "\n")
        origin = job["source"] + (f", {job['subscription']}" if job.get("subscription") else "")
        where = job.get("url") or job.get("path")  # the episode's address, not the media cache
        how: list[str] = []
        if job.get("text_from"):
            how.append(f"the {job['text_from']} transcript (r: transcribe it here)")
        elif job.get("backend"):
            how.append(f"{job['backend']} · {job.get('model')}")
        if job.get("duration"):
            how.append(formatting.duration(job.get("duration")))
        spoken: list[str] = list(job.get("languages") or ())
        if not spoken and (language := job.get("language")):
            spoken = [language]
        if spoken:  # every language it speaks, where there are several
            how.append(", ".join(spoken))
        if job.get("attempts"):
            how.append(f"attempt {job['attempts']}")
        text.append(f"{where} ({origin})" + "".join(f" · {h}" for h in how) + "\n", style="dim")
        if job.get("error"):
            text.append(f"error    {job['error']}\n", style="bold red")
        if hint := job.get("hint"):
            text.append(f"hint     {formatting.key_hint(hint, job['id'])}\n")
        if kept := formatting.kept(job):
            then = "p goes on from there" if state == "paused" else "it goes on from there"
            text.append(f"kept     {kept}; {then}\n", style="dim")
        warnings = job.get("warnings") or []
        if self.details:
            times = sorted(job.get("times", {}).items(), key=lambda kv: kv[1])
            stamps = "  ".join(f"{s} {dt.datetime.fromtimestamp(ts):%H:%M:%S}" for s, ts in times)
            text.append(f"states   {stamps}\n")
            for warning in warnings:
                text.append(f"warning  {warning}\n", style="yellow")
            if waiting := job.get("waiting"):
                text.append(f"waiting  {waiting}\n", style="dim")
        elif warnings:
            more = f" (+{len(warnings) - 1}, i shows all)" if len(warnings) > 1 else ""
            text.append(f"warning  {warnings[0]}{more}\n", style="yellow")
        if summary := self.summary:
            more = "" if self.details else " (i shows the summary and chapters)"
            text.append(f"summary  {summary['title'] or '(untitled)'}", style="bold cyan")
            text.append(f"{more}\n", style="dim")
            if self.details:
                for line in summary["summary"].splitlines():
                    text.append(f"         {line}\n")
                for chapter in summary["chapters"]:
                    text.append(f"         {clock(chapter['start'])} {chapter['title']}\n")
        groups = formatting.output_groups(job.get("outputs") or ())
        for stem, kinds in groups if self.details else groups[:1]:
            more = (
                f" (+{len(groups) - 1}, i shows all)"
                if len(groups) > 1 and not self.details
                else ""
            )
            text.append(f"output   {stem}.{{{', '.join(kinds)}}}{more}\n", style="dim")
        if not self.segments:
            text.append(no_transcript(job) + "\n", style="dim")
        text.rstrip()  # no empty line under the header
        return text

    def action_toggle_details(self) -> None:
        self.details = not self.details
        self._show_meta()

    def action_cursor(self, where: str) -> None:
        move_cursor(self.query_one(DataTable), where)

    # ------------------------------------------------------------ steering

    @work(group="steer")
    async def action_steer(self, kind: str) -> None:
        if self.job:
            await self.earwig.act(kind, [self.job])

    @work(group="steer")
    async def action_pause(self) -> None:
        if self.job:
            await self.earwig.toggle_pause(self.job)

    def action_back(self) -> None:
        if self.query_one("#findbar").display:  # esc closes the find bar, not the job
            self._close_find()
            return
        self.app.pop_screen()

    @work(group="rename")
    async def action_rename_speaker(self) -> None:
        """Name the selected line's speaker everywhere in this transcript, and remember the
        voice (the daemon's speaker.name, as `earwig speakers name`)."""
        if not self.segments:
            return
        speaker = self.segments[self.query_one(DataTable).cursor_row].get("speaker")
        if not speaker:
            self.notify(
                'this transcript has no speakers (set [transcribe] speakers = "auto")',
                severity="warning",
            )
            return
        name = await self.earwig.push_screen_wait(NameDialog(speaker))
        if not name:
            return
        request = protocol.NameSpeaker(id=self.job_id, speaker=speaker, name=name)
        if await self.earwig.call(request) is not None:
            self.notify(f"{speaker} is now {name}; later files will know the voice")
            await self._load()

    # ------------------------------------------------------------ find

    def action_find(self) -> None:
        self.query_one("#findbar").display = True
        self.query_one("#find", Input).focus()

    def _close_find(self) -> None:
        self.query_one("#findbar").display = False
        self.query_one("#find", Input).value = ""
        self.needle, self.matches = "", []
        self._fill()
        self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        lowered = self.needle.lower()
        self.matches = [
            i for i, s in enumerate(self.segments) if lowered and lowered in s["text"].lower()
        ]
        self._fill()
        if self.matches:
            self.query_one(DataTable).move_cursor(row=self.matches[0], animate=False)
        self._count()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()  # now n and N move between the matches
        self._count()

    def _count(self) -> None:
        info = self.query_one("#find-info", Static)
        if not self.needle:
            info.update("")
        elif not self.matches:
            info.update(Text(f"no match for {self.needle!r}", style="bold red"))
        else:
            row = self.query_one(DataTable).cursor_row
            at = self.matches.index(row) + 1 if row in self.matches else 0
            info.update(Text(f"{at} of {len(self.matches)}" if at else f"{len(self.matches)}"))

    def action_next_match(self, step: int) -> None:
        if not self.matches:
            if self.needle:
                self.notify(f"no match for {self.needle!r}", severity="warning", timeout=2)
            return
        table = self.query_one(DataTable)
        row = table.cursor_row
        if step > 0:
            target = next((i for i in self.matches if i > row), self.matches[0])
        else:
            target = next((i for i in reversed(self.matches) if i < row), self.matches[-1])
        table.move_cursor(row=target, animate=False)
        self._count()

    # ------------------------------------------------------------ copy, open, page

    def action_copy_line(self) -> None:
        table = self.query_one(DataTable)
        if not self.segments:
            return
        seg = self.segments[table.cursor_row]
        who = f"{seg['speaker']}: " if seg.get("speaker") else ""
        line = f"[{clock(seg['start'])}] {who}{seg['text'].strip()}"
        self.app.copy_to_clipboard(line)
        self.notify(f"copied: {line}", timeout=3, markup=False)

    def _transcript(self) -> Path | None:
        outputs = self.job["outputs"] if self.job else []
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

    def action_pager(self) -> None:
        """$PAGER (or less, or more) on the transcript as this screen shows it, a line per
        segment with its time and speaker, opened at the selected line."""
        if not self.segments:
            self.notify(no_transcript(self.job), severity="error")
            return
        lines = [
            f"[{clock(s['start'])}] "
            + (f"{s['speaker']}: " if s.get("speaker") else "")
            + s["text"].strip()
            for s in self.segments
        ]
        at = self.query_one(DataTable).cursor_row + 1
        with tempfile.TemporaryDirectory(prefix="earwig-") as folder:
            title = self.job["title"] if self.job else "transcript"
            path = Path(folder) / f"{Path(title).stem}.txt"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            command = pager_command(path, at)
            try:
                with self.app.suspend():
                    subprocess.run(command, check=False)
            except SuspendNotSupported:  # no terminal to hand over (headless, the web)
                subprocess.run(command, check=False, **QUIET)
                self.notify("this terminal cannot hand itself to a pager", severity="warning")


def pager_command(path: Path, line: int) -> list[str]:
    """$PAGER on `path`; less, more, most and vi-likes are told to start at `line`."""
    pager = shlex.split(os.environ.get("PAGER") or "") or [
        next((p for p in ("less", "more") if shutil.which(p)), "more")
    ]
    if Path(pager[0]).name in ("less", "more", "most", "vi", "vim", "nvim", "view"):
        return [*pager, f"+{line}", str(path)]
    return [*pager, str(path)]


def no_transcript(job: protocol.JobView | None) -> str:
    """Why a job shows no lines, and what to press about it."""
    state = job["state"] if job else None
    return {
        "done": "(no speech found)",
        "failed": "(no transcript: it failed, see the error above; r tries again)",
        "cancelled": "(no transcript: it was cancelled; r transcribes it)",
        "paused": "(no transcript yet: it is paused; p resumes it)",
        "queued": "(no transcript yet: it is waiting its turn)",
    }.get(str(state), "(the lines appear here as they are transcribed)")
