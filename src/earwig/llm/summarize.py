"""A summary, a title and chapters from a transcript's timestamped lines.

A transcript that fits `max_input_chars` is one window: a call each for the summary, the
title and the chapters, all three opening with the same transcript (a prefix-caching server
reads it once). A longer one goes through map-reduce: each window gets a short summary of its
own and its chapters; the window summaries, each with its time span, are summarized again
(in turn cut into windows while they are still too long) into the summary and the title.

Whatever a model answers is cleaned and checked, never trusted: a chapter must start inside
the transcript (it is moved to the start of the line it falls in), two chapters never share a
start or a title, and chapters closer than a minimum gap are one.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from earwig.formatting import clock
from earwig.llm import prompts
from earwig.llm.client import LlmError
from earwig.llm.lines import Line, text_of, windows

Ask = Callable[[str, str, int], Awaitable[str]]  # (system, user, max_tokens) -> answer
Progress = Callable[[int, int], None]  # (calls done, calls planned)

MAX_CHAPTERS = 60
TITLE_WORDS = 12  # asked for at most 8; a longer answer is cut here
_CLOCK = r"(\d{1,2}:\d{2}(?::\d{2})?)"
_CHAPTER = re.compile(
    r"^\s*(?:[-*•]\s+|\d+[.)]\s+)?\**\s*[\[(]?\s*"
    + _CLOCK
    + r"(?:\s*[-\u2013\u2014]\s*"
    + _CLOCK
    + r")?\s*[\])]?\**\s*[-\u2013\u2014:|.]*\s*(.*)$"
)
_LABEL = re.compile(r"^\s*(?:#+\s*)?\**\s*(?:summary|title|chapters?)\s*\**\s*:\s*", re.I)
_SUMMARY_LABEL = re.compile(
    r"^[ \t]*(?:#+[ \t]*)?\**[ \t]*summary[ \t]*\**[ \t]*(?::[ \t]*\**[ \t]*|$)", re.I | re.M
)
_ECHOED = re.compile(r"^\s*(?:\[\d{1,2}:\d{2}(?::\d{2})?[\]\u2013-]|transcript\s*:?\s*$)", re.I)


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "title": self.title}


@dataclass(frozen=True)
class Summary:
    summary: str
    title: str
    chapters: tuple[Chapter, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "title": self.title,
            "chapters": [c.to_dict() for c in self.chapters],
        }


def planned_calls(windows_count: int, chapters: bool) -> int:
    """How many calls a transcript of `windows_count` windows takes (the reduce of a very
    long one may add a few): for progress."""
    if windows_count <= 1:
        return 2 + int(chapters)
    return windows_count * (1 + int(chapters)) + 2


async def summarize(
    lines: Sequence[Line],
    duration: float,
    ask: Ask,
    *,
    budget: int,
    prompt: str | None = None,
    chapters: bool = True,
    progress: Progress | None = None,
) -> Summary:
    """The summary, title and (if `chapters`) chapters of the transcript `lines`."""
    parts = windows(lines, budget)
    plan = planned_calls(len(parts), chapters)
    done = 0

    async def call(material: str, task: str, tokens: int) -> str:
        nonlocal done, plan
        answer = await ask(prompts.SYSTEM, material + task, tokens)
        done += 1
        plan = max(plan, done)
        if progress is not None:
            progress(done, plan)
        return answer

    found: list[tuple[float, str]] = []
    if len(parts) <= 1:
        material = prompts.MATERIAL.format(text=text_of(lines))
        asked = material, prompt or prompts.SUMMARY
        summary = await call(*asked, prompts.SUMMARY_TOKENS)
        title = await call(material, prompts.TITLE, prompts.TITLE_TOKENS)
        if chapters:
            found = parse_chapters(await call(material, prompts.CHAPTERS, prompts.CHAPTERS_TOKENS))
    else:
        notes: list[Line] = []
        for window in parts:
            material = prompts.MATERIAL.format(text=text_of(window))
            note = clean_text(await call(material, prompts.NOTES, prompts.NOTES_TOKENS))
            if chapters:
                answer = await call(material, prompts.CHAPTERS, prompts.CHAPTERS_TOKENS)
                found += parse_chapters(answer)
            notes.append(_span(window, note))
        while len(text_of(notes)) > budget and len(notes) > 1:  # reduce until it fits
            plan += len(windows(notes, budget))
            shorter = []
            for group in windows(notes, budget):
                material = prompts.PARTS.format(text=text_of(group))
                note = clean_text(await call(material, prompts.NOTES, prompts.NOTES_TOKENS))
                shorter.append(_span(group, note))
            if len(shorter) >= len(notes):
                break
            notes = shorter
        material = prompts.PARTS.format(text=text_of(notes))
        asked = material, prompt or prompts.SUMMARY_OF_PARTS
        summary = await call(*asked, prompts.SUMMARY_TOKENS)
        title = await call(material, prompts.TITLE, prompts.TITLE_TOKENS)
    text = clean_text(summary)
    if not text:  # a small model may only echo the transcript back: asked once more (the
        text = clean_text(await call(*asked, prompts.SUMMARY_TOKENS))  # temperature varies it)
    if not text:  # never a follow-up "done" with nothing in it
        raise LlmError(
            "the model's answer held no summary (only the transcript back, or nothing)",
            "a larger [llm] model, or a [llm] prompt of your own, may do better",
        )
    return Summary(
        summary=text,
        title=clean_title(title),
        chapters=clamp_chapters(found, lines, duration) if chapters else (),
    )


def _span(window: Sequence[Line], note: str) -> Line:
    start, end = window[0].start, window[-1].end
    return Line(start, end, f"[{clock(start)}-{clock(end)}] {' '.join(note.split())}")


def clean_text(answer: str) -> str:
    """A summary as written, less what small models wrap it in: the transcript echoed back
    (its timestamped lines, a "Transcript:" heading; what follows a "Summary:" label wins),
    a leading label, surrounding quotes."""
    labels = list(_SUMMARY_LABEL.finditer(answer))
    if labels:
        answer = answer[labels[-1].end() :]
    kept = [line for line in answer.splitlines() if not _ECHOED.match(line)]
    text = _LABEL.sub("", "\n".join(kept).strip()).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text[:4000]


def clean_title(answer: str) -> str:
    """The first line of the answer, without a label, markup or quotes, at most TITLE_WORDS
    words."""
    line = next((x for x in answer.splitlines() if x.strip()), "")
    line = _LABEL.sub("", line).strip().strip("#*_`\"'“”„«» ").strip()
    words = line.split()
    if len(words) > TITLE_WORDS:
        words = [*words[:TITLE_WORDS], "…"]
    return " ".join(words)[:120]


def seconds_of(stamp: str) -> float:
    """ "12:34" or "1:02:03" -> seconds."""
    total = 0
    for part in stamp.split(":"):
        total = total * 60 + int(part)
    return float(total)


def parse_chapters(answer: str) -> list[tuple[float, str]]:
    """(start, title) from every line of the answer that opens with a time."""
    found = []
    for line in answer.splitlines():
        match = _CHAPTER.match(line)
        if match:
            title = clean_title(match.group(3))
            if title:
                found.append((seconds_of(match.group(1)), title))
    return found


def clamp_chapters(
    found: Sequence[tuple[float, str]], lines: Sequence[Line], duration: float
) -> tuple[Chapter, ...]:
    """Chapters that hold: inside the transcript (a start beyond its end is dropped, one
    inside it moved back to the start of the line it falls in), in order, no two at the
    same start or with the same title, none closer than a minimum gap to the one before;
    each ends where the next begins, the last at the end of the recording."""
    if not lines:
        return ()
    end_of_speech = max(duration, lines[-1].end)
    gap = max(20.0, end_of_speech / 100)
    starts = [line.start for line in lines]
    kept: list[tuple[float, str]] = []
    titles: set[str] = {t.lower() for t in prompts.EXAMPLE_TITLES}  # copied, not found
    for at, title in sorted(found, key=lambda c: c[0]):
        if at < 0 or at > end_of_speech:
            continue
        snapped = max((s for s in starts if s <= at), default=starts[0])
        key = " ".join(title.lower().split())
        if key in titles or (kept and snapped - kept[-1][0] < gap):
            continue
        titles.add(key)
        kept.append((snapped, title))
        if len(kept) == MAX_CHAPTERS:
            break
    return tuple(
        Chapter(start, kept[i + 1][0] if i + 1 < len(kept) else end_of_speech, title)
        for i, (start, title) in enumerate(kept)
    )
