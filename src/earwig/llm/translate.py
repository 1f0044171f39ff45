"""Subtitles in another language, cue by cue: the source's cues (ids and timings kept) are
sent in batches of id-tagged lines (`[0001] text`), and each answer is re-aligned by id,
never by position: a model that drops, merges, repeats or reorders lines cannot shift a
translation onto another cue's time. A cue whose id is missing or mangled in the answer keeps
its source text, and is counted (the stage turns the count into a warning). The timings are
always the source's, so the translated file has exactly the source's cues.

It works on a list of cues, whatever built them. The source is the job's own subtitle file
where it has one (`parse_srt`, `parse_vtt`: its cues were cut from word times that are not
kept), else the cue builder's cues for the stored transcript (`from_cues`, earwig/cues.py),
so a translation always has the cues, ids and timings of the subtitles beside it.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from earwig import cues as cue_builder
from earwig.llm import prompts
from earwig.outputs import cue_time

Ask = Callable[[str, str, int], Awaitable[str]]
Progress = Callable[[int, int], None]  # (batches done, batches planned)

BATCH = 50  # cues a call at most (fewer when max_input_chars is small)
# "[0001] text", and what small models make of it: "[1] text", "(0001) text", "0001. text",
# "**[0001]** text", "- [0001]: text"
_TAGGED = re.compile(
    r"^\s*(?:[-*•]\s*)?\**\s*[\[(]\s*(\d{1,6})\s*[\])]\**\s*[:.\-\u2013\u2014]?\s*(.*)$"
)
_NUMBERED = re.compile(r"^\s*(\d{1,6})\s*[.:)]\s+(.*)$")
_TIMES = re.compile(
    r"^\s*(?:(\d+):)?(\d\d):(\d\d)[,.](\d{3})\s*-->\s*(?:(\d+):)?(\d\d):(\d\d)[,.](\d{3})"
)
_VOICE = re.compile(r"^<v(?:\.[^ >]*)?\s+([^>]*)>")


@dataclass(frozen=True)
class Cue:
    id: int  # 1-based, as in the .srt
    start: float
    end: float
    text: str  # what is translated: its lines joined, no speaker's name
    speaker: str | None = None  # who speaks
    label: str = ""  # the name the .srt opens this cue with ("Alice: "), kept as it was
    lines: tuple[str, ...] = ()  # the source's own lines (a .srt's with the label): a cue
    # that keeps its text keeps them; a translated one is wrapped anew


@dataclass(frozen=True)
class Translated:
    cues: tuple[Cue, ...]
    kept: int  # cues that kept their source text: their id was missing or mangled
    sent: int  # cues with text sent to the model

    @property
    def survived(self) -> float:
        return 1.0 if not self.sent else (self.sent - self.kept) / self.sent


def from_cues(built: Iterable[cue_builder.Cue]) -> list[Cue]:
    """The cue builder's cues (no names in the text), numbered from 1."""
    return [
        Cue(i, c.start, c.end, " ".join(c.text.split()), c.speaker, lines=c.lines)
        for i, c in enumerate(built, 1)
    ]


def _blocks(text: str) -> list[tuple[str, re.Match[str], list[str]]]:
    """Each cue block of a subtitle file: the line before its times, the times, its text."""
    out = []
    for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip()):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if times := _TIMES.match(line):
                out.append((lines[i - 1].strip() if i else "", times, lines[i + 1 :]))
                break
    return out


def _seconds(groups: Sequence[str | None]) -> float:
    h, m, s, ms = groups
    return int(h or 0) * 3600 + int(m or 0) * 60 + int(s or 0) + int(ms or 0) / 1000


def parse_srt(text: str, speakers: Iterable[str] = ()) -> list[Cue]:
    """The cues of an .srt earwig wrote; a known speaker's name opening a cue is its label."""
    names = sorted({f"{n}: " for n in speakers if n}, key=len, reverse=True)
    out: list[Cue] = []
    for number, times, lines in _blocks(text):
        body = " ".join(" ".join(lines).split())
        label = next((n for n in names if body.startswith(n)), "")
        start, end = _seconds(times.groups()[:4]), _seconds(times.groups()[4:])
        cue_id = int(number) if number.isdigit() else len(out) + 1
        speaker = label[:-2] or None
        out.append(Cue(cue_id, start, end, body[len(label) :], speaker, label, tuple(lines)))
    return out


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a .vtt earwig wrote (a `<v Name>` voice is the cue's speaker)."""
    out: list[Cue] = []
    for _, times, lines in _blocks(text):
        voice = _VOICE.match(lines[0]) if lines else None
        if voice:
            lines = [lines[0][voice.end() :], *lines[1:]]
        plain = [x.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for x in lines]
        start, end = _seconds(times.groups()[:4]), _seconds(times.groups()[4:])
        speaker = voice.group(1).strip() if voice else None
        body = " ".join(" ".join(plain).split())
        out.append(Cue(len(out) + 1, start, end, body, speaker, lines=tuple(plain)))
    return out


def width(cues: Sequence[Cue]) -> int:
    """Digits of the ids: four, more for a film of more than 9,999 cues."""
    return max(4, len(str(max((c.id for c in cues), default=1))))


def tag(batch: Sequence[Cue], digits: int) -> str:
    return "\n".join(f"[{c.id:0{digits}d}] {c.text}" for c in batch)


def batches(cues: Sequence[Cue], size: int, budget: int) -> list[list[Cue]]:
    """Cues with text in runs of at most `size` cues and `budget` characters of tagged lines
    (the answer is about as long again; a cue longer than the budget goes alone)."""
    out: list[list[Cue]] = []
    current: list[Cue] = []
    chars = 0
    for cue in cues:
        if not cue.text:
            continue
        cost = len(cue.text) + 10
        if current and (len(current) >= size or chars + cost > budget):
            out.append(current)
            current, chars = [], 0
        current.append(cue)
        chars += cost
    if current:
        out.append(current)
    return out


def realign(batch: Sequence[Cue], answer: str) -> dict[int, str]:
    """The answer's text for each cue id of `batch` that it carries. An id outside the batch
    is ignored; the first line with an id wins over a repeat; a line without an id continues
    the line before it (a model that wrapped a long line); an empty text counts as missing."""
    wanted = {c.id for c in batch}
    found: dict[int, str] = {}
    last: int | None = None
    for line in answer.splitlines():
        if not line.strip():
            continue
        match = _TAGGED.match(line) or _NUMBERED.match(line)
        if match:
            number = int(match.group(1))
            last = None
            if number in wanted and number not in found:
                found[number] = match.group(2).strip()
                last = number
        elif last is not None:
            found[last] = f"{found[last]} {line.strip()}".strip()
    return {k: " ".join(v.split()) for k, v in found.items() if v.strip()}


async def translate(
    cues: Sequence[Cue],
    ask: Ask,
    *,
    source: str,
    target: str,
    budget: int,
    size: int = BATCH,
    progress: Progress | None = None,
) -> Translated:
    """`cues` in `target` (a language's name), same ids and timings; see the module doc."""
    groups = batches(cues, size, budget)
    digits = width(cues)
    system = prompts.TRANSLATE_SYSTEM.format(source=source, target=target)
    texts: dict[int, str] = {}
    for done, batch in enumerate(groups, 1):
        user = prompts.TRANSLATE.format(target=target, text=tag(batch, digits))
        # the translation's length and the ids, and little room for a model that rambles on
        tokens = min(4096, sum(len(c.text) for c in batch) // 3 + 6 * len(batch) + 16)
        texts.update(realign(batch, await ask(system, user, tokens)))
        if progress is not None:
            progress(done, len(groups))
    sent = sum(len(b) for b in groups)
    out = tuple(
        Cue(c.id, c.start, c.end, texts[c.id], c.speaker, c.label) if c.id in texts else c
        for c in cues
    )
    return Translated(
        out, kept=sent - sum(1 for b in groups for c in b if c.id in texts), sent=sent
    )


def wrap(text: str, width: int) -> str:
    """A translated cue's text on lines of the subtitles' width (it may need a line more
    than its source: translations run longer)."""
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=False)) or text


def to_srt(cues: Sequence[Cue], line_width: int = 42) -> str:
    """The cues with their ids and times as given, and the label ("Alice: ") where the
    source had one."""
    blocks = []
    for c in cues:
        text = "\n".join(c.lines) if c.lines else wrap(c.label + c.text, line_width)
        text = text.replace("-->", "->")
        blocks.append(f"{c.id}\n{cue_time(c.start, ',')} --> {cue_time(c.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue], line_width: int = 42) -> str:
    """The cues with their times; a speaker is a voice span, as earwig's .vtt has them."""

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    blocks = [
        f"{cue_time(c.start, '.')} --> {cue_time(c.end, '.')}\n"
        f"{f'<v {esc(c.speaker)}>' if c.speaker else ''}"
        f"{esc(chr(10).join(c.lines) if c.lines else wrap(c.text, line_width))}\n"
        for c in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


WRITERS: dict[str, Callable[[Sequence[Cue], int], str]] = {"srt": to_srt, "vtt": to_vtt}


def render(cues: Sequence[Cue], fmt: str, language: str, line_width: int = 42) -> str:
    """Translated cues as an HTTP answer in whisper-asr-webservice's formats."""
    if fmt in WRITERS:
        return WRITERS[fmt](cues, line_width)
    if fmt == "txt":
        return "".join(c.label + c.text + "\n" for c in cues if c.text)
    if fmt == "tsv":
        rows = [f"{round(c.start * 1000)}\t{round(c.end * 1000)}\t{c.text}" for c in cues]
        return "\n".join(["start\tend\ttext", *rows]) + "\n"
    segments = [
        {"id": c.id, "start": c.start, "end": c.end, "text": c.text}
        | ({"speaker": c.speaker} if c.speaker else {})
        for c in cues
    ]
    doc = {"text": " ".join(c.text for c in cues if c.text), "segments": segments}
    return json.dumps({**doc, "language": language}, ensure_ascii=False)
