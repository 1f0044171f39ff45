"""Subtitles in another language, cue by cue: the source's cues (ids and timings kept) are
sent in batches of id-tagged lines (`[0001] text`), and each answer is re-aligned by id,
never by position: a model that drops, merges, repeats or reorders lines cannot shift a
translation onto another cue's time. A cue whose id is missing or mangled in the answer keeps
its source text, and is counted (the stage turns the count into a warning). The timings are
always the source's, so the translated file has exactly the source's cues.

This works on a list of cues, whatever built them: today one cue per segment, as the .srt
writer makes them (`cues_of`); a cue builder that shapes readable cues plugs in there.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from earwig.llm import prompts
from earwig.model import Transcript

Ask = Callable[[str, str, int], Awaitable[str]]
Progress = Callable[[int, int], None]  # (batches done, batches planned)

BATCH = 50  # cues a call at most (fewer when max_input_chars is small)
# "[0001] text", and what small models make of it: "[1] text", "(0001) text", "0001. text",
# "**[0001]** text", "- [0001]: text"
_TAGGED = re.compile(
    r"^\s*(?:[-*•]\s*)?\**\s*[\[(]\s*(\d{1,6})\s*[\])]\**\s*[:.\-\u2013\u2014]?\s*(.*)$"
)
_NUMBERED = re.compile(r"^\s*(\d{1,6})\s*[.:)]\s+(.*)$")


@dataclass(frozen=True)
class Cue:
    id: int  # 1-based, as in the .srt
    start: float
    end: float
    text: str  # what is translated (no speaker label)
    speaker: str | None = None  # who speaks (the .srt names them where a turn begins)


@dataclass(frozen=True)
class Translated:
    cues: tuple[Cue, ...]
    kept: int  # cues that kept their source text: their id was missing or mangled
    sent: int  # cues with text sent to the model

    @property
    def survived(self) -> float:
        return 1.0 if not self.sent else (self.sent - self.kept) / self.sent


def cues_of(transcript: Transcript) -> list[Cue]:
    """The cues of the transcript's .srt: one per segment, numbered from 1."""
    return [
        Cue(i, s.start, s.end, " ".join(s.text.split()), s.speaker)
        for i, s in enumerate(transcript.segments, 1)
    ]


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
    out = tuple(Cue(c.id, c.start, c.end, texts.get(c.id, c.text), c.speaker) for c in cues)
    return Translated(
        out, kept=sent - sum(1 for b in groups for c in b if c.id in texts), sent=sent
    )


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """As outputs.to_srt writes the source: the speaker's name opens each turn."""
    blocks, previous = [], None
    for c in cues:
        label = f"{c.speaker}: " if c.speaker and c.speaker != previous else ""
        previous = c.speaker
        blocks.append(f"{c.id}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n{label}{c.text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue]) -> str:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    blocks = [
        f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n"
        f"{f'<v {esc(c.speaker)}>' if c.speaker else ''}{esc(c.text)}\n"
        for c in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


WRITERS: dict[str, Callable[[Sequence[Cue]], str]] = {"srt": to_srt, "vtt": to_vtt}
