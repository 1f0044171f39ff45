"""Speaker turns onto a transcript: each segment (and word) gets who spoke it, and a segment
that spans a change of speaker is split there.

With word timestamps each word goes to the speaker whose turn holds its middle, and the
segment splits between words. Without them a segment's words are shared out in proportion
to time at the turn's boundary (a split inside a word is impossible, and a backend without
word times cannot say better).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from earwig.model import Segment, Transcript, Word
from earwig.speakers.diarize import Turn

MIN_SHARE = 0.25  # without words: a second speaker must hold this share of a segment ...
MIN_SECONDS = 1.0  # ... and this many seconds of it, to split it


def label(transcript: Transcript, turns: Sequence[Turn], names: Sequence[str]) -> Transcript:
    """`transcript` with a speaker on each segment; `names` by speaker index."""
    if not turns:
        return transcript
    out: list[Segment] = []
    for segment in transcript.segments:
        out += _split(segment, turns, names)
    return transcript.replace(segments=tuple(out))


def speaker_at(t: float, turns: Sequence[Turn]) -> int:
    """The speaker whose turn holds `t`, else the nearest turn's."""
    best, distance = turns[0].speaker, float("inf")
    for turn in turns:
        if turn.start <= t <= turn.end:
            return turn.speaker
        d = min(abs(t - turn.start), abs(t - turn.end))
        if d < distance:
            best, distance = turn.speaker, d
    return best


def _overlaps(start: float, end: float, turns: Sequence[Turn]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for turn in turns:
        o = min(end, turn.end) - max(start, turn.start)
        if o > 0:
            seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + o
    return seconds


def _split(segment: Segment, turns: Sequence[Turn], names: Sequence[str]) -> list[Segment]:
    if segment.words:
        return _split_by_words(segment, turns, names)
    seconds = _overlaps(segment.start, segment.end, turns)
    if not seconds:
        who = speaker_at((segment.start + segment.end) / 2, turns)
        return [dataclasses.replace(segment, speaker=names[who])]
    length = max(segment.end - segment.start, 1e-6)
    kept = [s for s, t in seconds.items() if t >= MIN_SECONDS and t / length >= MIN_SHARE] or [
        max(seconds, key=seconds.__getitem__)
    ]
    if len(kept) == 1:
        return [dataclasses.replace(segment, speaker=names[kept[0]])]
    return _split_by_time(segment, [t for t in turns if t.speaker in kept], names)


def _split_by_words(segment: Segment, turns: Sequence[Turn], names: Sequence[str]) -> list[Segment]:
    groups: list[tuple[int, list[Word]]] = []
    for word in segment.words:
        who = speaker_at((word.start + word.end) / 2, turns)
        if groups and groups[-1][0] == who:
            groups[-1][1].append(word)
        else:
            groups.append((who, [word]))
    return [
        dataclasses.replace(
            segment,
            start=words[0].start if i else segment.start,
            end=words[-1].end if i < len(groups) - 1 else segment.end,
            text="".join(w.text for w in words).strip(),
            words=tuple(words),
            speaker=names[who],
        )
        for i, (who, words) in enumerate(groups)
    ]


def _split_by_time(segment: Segment, turns: Sequence[Turn], names: Sequence[str]) -> list[Segment]:
    """Share the segment's words out at the boundaries between the turns it spans."""
    words = segment.text.split()
    length = max(segment.end - segment.start, 1e-6)
    pieces: list[tuple[int, float, float]] = []  # speaker, start, end within the segment
    for turn in sorted(turns, key=lambda t: t.start):
        start, end = max(segment.start, turn.start), min(segment.end, turn.end)
        if end <= start:
            continue
        if pieces and pieces[-1][0] == turn.speaker:
            pieces[-1] = (turn.speaker, pieces[-1][1], end)
        else:
            pieces.append((turn.speaker, start, end))
    out: list[Segment] = []
    taken = 0
    for i, (who, start, end) in enumerate(pieces):
        last = i == len(pieces) - 1
        upto = len(words) if last else round(len(words) * (end - segment.start) / length)
        upto = max(taken + 1, min(upto, len(words) - (len(pieces) - 1 - i)))
        chunk = words[taken:upto]
        taken = upto
        if chunk:
            out.append(
                dataclasses.replace(
                    segment,
                    start=segment.start if i == 0 else start,
                    end=segment.end if last else end,
                    text=" ".join(chunk),
                    speaker=names[who],
                )
            )
    return out or [dataclasses.replace(segment, speaker=names[pieces[0][0]] if pieces else None)]
