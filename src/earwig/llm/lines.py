"""A transcript as the model reads it: one line per segment, `[12:34] Alice: text`, so a
summary can cite times and chapters can say where they start; and those lines cut into
windows no longer than `max_input_chars`, for map-reduce over a long recording.

The same lines are also what the stage's deduplication hashes: the same words at the same
times by the same speakers are the same input, whichever job they belong to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from earwig.formatting import clock
from earwig.model import Segment


@dataclass(frozen=True)
class Line:
    start: float
    end: float
    text: str  # as sent: "[12:34] Alice: words"


def lines_of(segments: Iterable[Segment]) -> list[Line]:
    """One line per spoken segment, its start as a clock and its speaker where known."""
    out: list[Line] = []
    for s in segments:
        words = " ".join(s.text.split())
        if not words:
            continue
        who = f"{s.speaker}: " if s.speaker else ""
        out.append(Line(s.start, s.end, f"[{clock(s.start)}] {who}{words}"))
    return out


def text_of(lines: Sequence[Line]) -> str:
    return "\n".join(line.text for line in lines)


def windows(lines: Sequence[Line], budget: int) -> list[list[Line]]:
    """`lines` in order, cut into runs of at most `budget` characters each (a line longer
    than the budget is cut to it and goes alone), so every call fits the model."""
    out: list[list[Line]] = []
    current: list[Line] = []
    size = 0
    for line in lines:
        if len(line.text) > budget:
            line = Line(line.start, line.end, line.text[: max(budget - 1, 1)] + "…")
        cost = len(line.text) + 1
        if current and size + cost > budget:
            out.append(current)
            current, size = [], 0
        current.append(line)
        size += cost
    if current:
        out.append(current)
    return out


def fingerprint(lines: Sequence[Line]) -> str:
    """The transcript's part of the deduplication key."""
    return hashlib.sha256(text_of(lines).encode()).hexdigest()
