"""Subtitle cues made for reading, from a transcript's segments (and their words where known).

A Whisper segment is not a cue: on faster-whisper's batched path a segment is a whole VAD
chunk (~30 s, ~400 characters), and even the sequential path's segments run past what anyone
can read. Subtitle editors and streaming services follow a few norms (Netflix's timed-text
style guide, the BBC's subtitle guidelines), and the cues here follow them, each a `Rules`
field: at most 42 characters a line and 2 lines a cue (CJK counted by display width), at most
7 s and at least ~0.8 s on screen, at most ~20 characters a second where the timing allows
(a cue is held into the silence after it, never over the next one), never across a change of
speaker or language or a long pause, lines and cues broken at natural places (after a
sentence, after a comma, before a conjunction; never after "the" when it can be helped).

Word times place the cuts where they were said; without them (whisper.cpp joined into
segments, a transcript read back from the database, another backend) a segment's time is
shared out over its words by their width. The text is never changed: the words of the cues,
in order, are the words of the segments. Pure functions, no I/O: `.srt`, `.vtt` and the
HTTP answers in those formats are written from these cues; `.json` keeps the segments.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from earwig.model import Segment

# the full-width forms are CJK's own punctuation, not look-alikes
SENTENCE_END = tuple(".?!…。？！")  # noqa: RUF001
CLAUSE_END = tuple(",;:—–、，；：)")  # noqa: RUF001
# Words a line or cue reads best starting with (a break just before them is natural)
JOINERS = frozenset(
    [
        "and",
        "but",
        "or",
        "nor",
        "so",
        "yet",
        "because",
        "although",
        "though",
        "while",
        "whereas",
        "if",
        "unless",
        "until",
        "when",
        "whenever",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "that",
        "than",
        "then",
        "after",
        "before",
        "since",
        "as",
        "und",
        "aber",
        "oder",
        "denn",
        "weil",
        "dass",
        "wenn",
        "als",
        "ob",
        "et",
        "mais",
        "ou",
        "donc",
        "car",
        "parce",
        "que",
        "quand",
        "qui",
        "y",
        "pero",
        "o",
        "porque",
        "cuando",
        "que",
        "e",
        "ma",
        "perché",
        "quando",
        "che",
        "en",
        "maar",
        "of",
        "omdat",
        "wanneer",
    ]
)
# Words a line should not end on: the next word belongs with them
CLINGERS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "this",
        "that",
        "these",
        "those",
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einen",
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "el",
        "los",
        "las",
        "un",
        "una",
        "del",
        "al",
        "il",
        "lo",
        "gli",
        "de",
        "het",
        "een",
        "mr",
        "mrs",
        "dr",
    ]
)


@dataclass(frozen=True)
class Rules:
    """What a cue may hold and how long it stays; the defaults are the norms above."""

    line_width: int = 42  # characters a line (display width: a CJK character counts 2)
    lines: int = 2  # lines a cue
    longest: float = 7.0  # seconds a cue is shown, at most
    shortest: float = 0.8  # seconds, at least, where the next cue leaves room
    reading_speed: float = 20.0  # characters a second, at most, where the timing allows
    pause: float = 1.0  # seconds of silence that always end a cue


@dataclass(frozen=True)
class Mark:
    """A stretch a reader should know about: `drop` replaces its words by `text` (not
    transcribed), else `text` tags its first cue (doubtful, kept)."""

    start: float
    end: float
    text: str
    drop: bool = False


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class _Unit:
    """A word (or, in CJK text, a character) with its time and how it joins the one before."""

    text: str
    start: float
    end: float
    space: bool  # a space before it, after another unit on the same line
    speaker: str | None
    language: str | None
    segment_end: bool = False  # the last word of its segment (a natural place to cut)
    label: bool = False  # a speaker's name or a mark's tag, not a spoken word
    fixed: bool = False  # a mark's text: a cue of its own, its times kept

    @property
    def width(self) -> int:
        return width(self.text)


def width(text: str) -> int:
    """Display width: East Asian wide and full-width characters take two columns,
    combining marks none."""
    total = 0
    for c in text:
        if unicodedata.combining(c):
            continue
        total += 2 if unicodedata.east_asian_width(c) in "WF" else 1
    return total


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def _tokens(text: str) -> list[tuple[str, bool]]:
    """The words of `text` with whether a space came before each; a run of wide (CJK)
    characters, written without spaces, is one token per character."""
    out: list[tuple[str, bool]] = []
    for word in text.split():
        if len(word) > 1 and any(_wide(c) for c in word):
            run = ""
            first = True
            for c in word:
                if _wide(c) and unicodedata.category(c)[0] != "P":
                    if run:
                        out.append((run, first))
                        first = False
                    run = c
                else:
                    run += c  # punctuation and Latin letters stay with what they follow
            if run:
                out.append((run, first))
        else:
            out.append((word, True))
    return out


def _segment_units(s: Segment) -> list[_Unit]:
    tokens = _tokens(s.text)
    if not tokens:
        return []
    times = _word_times(s, tokens)
    units = [
        _Unit(text, start, end, space, s.speaker, s.language)
        for (text, space), (start, end) in zip(tokens, times, strict=True)
    ]
    units[-1] = _replace(units[-1], segment_end=True)
    return units


def _word_times(s: Segment, tokens: list[tuple[str, bool]]) -> list[tuple[float, float]]:
    """Each token's (start, end): from the segment's words when they spell the same text,
    else the segment's time shared out by width (a pause is likelier after punctuation, so
    a token ending a clause weighs a little more)."""
    if s.words:
        texts = [w.text.strip() for w in s.words if w.text.strip()]
        spelled = [t for w in texts for t, _ in _tokens(w)]
        if spelled == [t for t, _ in tokens]:
            times: list[tuple[float, float]] = []
            for w in s.words:
                parts = _tokens(w.text.strip())
                if not parts:
                    continue
                share = (w.end - w.start) / len(parts)
                times += [
                    (w.start + i * share, w.start + (i + 1) * share) for i in range(len(parts))
                ]
            return times
    pausing = SENTENCE_END + CLAUSE_END
    weights = [max(1, width(t)) + (2 if t.endswith(pausing) else 0) for t, _ in tokens]
    total = sum(weights)
    span = max(0.0, s.end - s.start)
    out, at = [], s.start
    for weight in weights:
        step = span * weight / total
        out.append((at, at + step))
        at += step
    return out


def _replace(u: _Unit, **changes: object) -> _Unit:
    from dataclasses import replace

    return replace(u, **changes)  # type: ignore[arg-type]


def _clean_times(units: list[_Unit]) -> list[_Unit]:
    """Times that never go backwards and never overlap: Whisper's word times can."""
    out: list[_Unit] = []
    last = 0.0
    for u in units:
        start = max(u.start, last)
        end = max(u.end, start)
        out.append(_replace(u, start=start, end=end) if (start, end) != (u.start, u.end) else u)
        last = end
    return out


def _units(segments: Iterable[Segment], name_turns: bool) -> list[_Unit]:
    units: list[_Unit] = []
    speaker: str | None = None
    for s in sorted((s for s in segments if s.text.strip()), key=lambda s: (s.start, s.end)):
        found = _segment_units(s)
        if not found:
            continue
        if units and not found[0].text[:1].isspace():
            # between segments: a space unless both sides are CJK characters
            joined = not (_wide(units[-1].text[-1]) and _wide(found[0].text[0]))
            found[0] = _replace(found[0], space=joined)
        if name_turns and s.speaker and s.speaker != speaker:
            at = found[0].start
            tag = _Unit(f"{s.speaker}:", at, at, True, s.speaker, s.language, label=True)
            found.insert(0, tag)
        speaker = s.speaker
        units += found
    return _clean_times(units)


def _blocks(units: list[_Unit], rules: Rules) -> list[list[_Unit]]:
    """Runs of units no cue may cross: a change of speaker or language, a long pause, a
    mark's own text."""
    blocks: list[list[_Unit]] = []
    for u in units:
        if blocks:
            last = blocks[-1][-1]
            same = (
                u.speaker == last.speaker
                and u.language == last.language
                and u.start - last.end < rules.pause
                and not u.fixed
                and not last.fixed
            )
            if same:
                blocks[-1].append(u)
                continue
        blocks.append([u])
    return blocks


def _break_cost(before: _Unit, after: _Unit | None) -> float:
    """How bad a cut between two units is (a line break or a cue's end): 0 after a
    sentence, small after a clause or before a conjunction, large after an article."""
    if after is None:
        return 0.0
    if before.label:
        return 50.0  # a name stays with what they say
    text = before.text
    if text.endswith(SENTENCE_END) or text.endswith(('."', '?"', '!"', ".'", "?'", "!'")):
        return 0.0
    gap = after.start - before.end
    cost = 4.0
    if text.endswith(CLAUSE_END):
        cost = 1.0
    elif after.text.lower().strip("\"'(¿¡") in JOINERS or before.segment_end:
        cost = 2.0
    elif text.lower().strip("\"'(") in CLINGERS:
        cost = 9.0
    if gap >= 0.3:
        cost -= 1.0
    return max(cost, 0.0)


def _join(units: Sequence[_Unit]) -> str:
    out = ""
    for i, u in enumerate(units):
        out += (" " if u.space and i else "") + u.text
    return out


def _line_width(units: Sequence[_Unit]) -> int:
    return width(_join(units))


def _fits(units: Sequence[_Unit], rules: Rules) -> bool:
    """Whether the units fill at most `rules.lines` lines (greedy filling is optimal for
    the count); a unit wider than a line counts as a line of its own."""
    lines, current = 1, 0
    for u in units:
        w = u.width
        extra = w + (1 if current and u.space else 0)
        if current and current + extra > rules.line_width:
            lines += 1
            current = w
        else:
            current += extra
    return lines <= rules.lines


def layout(units: Sequence[_Unit], rules: Rules) -> tuple[str, ...]:
    """The units as at most `rules.lines` lines of at most `rules.line_width`: on one line
    when they fit, else broken where the cut reads best and the lines are most even (a
    shorter top line preferred, as subtitlers do)."""
    if _line_width(units) <= rules.line_width or len(units) < 2:
        return (_join(units),)
    n = len(units)
    best: dict[tuple[int, int], tuple[float, list[int]]] = {}

    def solve(i: int, left: int) -> tuple[float, list[int]]:
        """Cheapest way to lay units[i:] on at most `left` lines: (cost, cut points)."""
        if (i, left) in best:
            return best[(i, left)]
        if _line_width(units[i:]) <= rules.line_width or left == 1 or i == n - 1:
            over = max(0, _line_width(units[i:]) - rules.line_width)
            result: tuple[float, list[int]] = (1000.0 * over if left == 1 else 0.0, [])
            best[(i, left)] = result
            return result
        answer: tuple[float, list[int]] = (float("inf"), [])
        for j in range(i + 1, n):
            w = _line_width(units[i:j])
            if w > rules.line_width and j > i + 1:
                break
            rest, cuts = solve(j, left - 1)
            balance = abs(w - _line_width(units[j:])) / rules.line_width
            top_heavy = 0.5 if w > _line_width(units[j:]) else 0.0
            cost = _break_cost(units[j - 1], units[j]) + 6 * balance**2 + top_heavy + rest
            if cost < answer[0]:
                answer = (cost, [j, *cuts])
        best[(i, left)] = answer
        return answer

    _, cuts = solve(0, rules.lines)
    edges = [0, *cuts, n]
    return tuple(_join(units[a:b]) for a, b in itertools.pairwise(edges) if b > a)


def _split(block: list[_Unit], room_after: float, rules: Rules) -> list[list[_Unit]]:
    """A block cut into cues: the cheapest series of cuts (dynamic programming) where each
    cue fits its lines and its time, weighing how well each cut reads, cues too fast to
    read, and cues too small to be worth a flash on screen."""
    n = len(block)
    if block[0].fixed:
        return [block]
    cost = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            piece = block[i:j]
            if j - i > 1 and (
                not _fits(piece, rules) or piece[-1].end - piece[0].start > rules.longest
            ):
                break
            ends = block[j].start if j < n else piece[-1].end + room_after
            shown = min(rules.longest, max(0.0, ends - piece[0].start))
            chars = _line_width(piece)
            need = max(rules.shortest, chars / rules.reading_speed)
            c = cost[i] + 1.0 + _break_cost(piece[-1], block[j] if j < n else None)
            if shown < need:
                c += 10.0 * (need - shown)
            if chars < 15 and n > j - i:
                c += 1.5
            if c < cost[j]:
                cost[j], back[j] = c, i
    cuts, j = [], n
    while j > 0:
        cuts.append(back[j])
        j = back[j]
    edges = [*reversed(cuts), n]
    return [block[a:b] for a, b in itertools.pairwise(edges)]


def _mark_units(units: list[_Unit], marks: Sequence[Mark]) -> list[_Unit]:
    """Words inside a dropped stretch go, and its text takes their place; a kept doubtful
    stretch's first word is preceded by its tag."""
    out = list(units)
    for m in marks:
        if m.drop:
            out = [u for u in out if not m.start <= (u.start + u.end) / 2 <= m.end]
            out.append(_Unit(m.text, m.start, m.end, True, None, None, label=True, fixed=True))
            out.sort(key=lambda u: (u.start, not u.fixed))
        else:
            inside = [i for i, u in enumerate(out) if m.start <= (u.start + u.end) / 2 <= m.end]
            if inside:
                first = out[inside[0]]
                tag = _Unit(
                    m.text, first.start, first.start, False, first.speaker, first.language,
                    label=True,
                )  # fmt: skip
                out.insert(inside[0], tag)
                if inside[0] + 1 < len(out):
                    out[inside[0] + 1] = _replace(out[inside[0] + 1], space=True)
    return out


def cues(
    segments: Iterable[Segment],
    rules: Rules | None = None,
    *,
    duration: float | None = None,
    marks: Sequence[Mark] = (),
    name_turns: bool = False,
) -> list[Cue]:
    """The cues for `segments`, in time order, none overlapping the next. `duration` (the
    audio's length) bounds the last cue; `marks` are laid in where they are; with
    `name_turns`, the first cue of each speaker's turn opens with their name ("Alice: ...",
    for formats without voice markup)."""
    rules = rules or Rules()
    units = _units(segments, name_turns)
    if marks:
        units = _clean_marked(_mark_units(units, marks))
    blocks = _blocks(units, rules)
    pieces: list[list[_Unit]] = []
    for k, block in enumerate(blocks):
        after = blocks[k + 1][0].start - block[-1].end if k + 1 < len(blocks) else rules.longest
        pieces += _split(block, after, rules)
    out: list[Cue] = []
    for k, piece in enumerate(pieces):
        start, end = piece[0].start, piece[-1].end
        if out and start < out[-1].end:
            start = out[-1].end
        limit = pieces[k + 1][0].start if k + 1 < len(pieces) else float("inf")
        if duration is not None:
            limit = min(limit, max(duration, end))
        if not piece[0].fixed:
            need = max(rules.shortest, _line_width(piece) / rules.reading_speed)
            end = max(end, min(start + need, limit))
        end = min(end, start + rules.longest, max(limit, start))
        end = max(end, start)
        lines = layout(piece, rules) if not piece[0].fixed else _wrap(piece[0].text, rules)
        speaker = next((u.speaker for u in piece if not u.fixed), None)
        out.append(Cue(round(start, 3), round(end, 3), lines, speaker))
    return out


def _clean_marked(units: list[_Unit]) -> list[_Unit]:
    """A mark's own cue keeps its times; the words around it keep clear of it."""
    out: list[_Unit] = []
    last = 0.0
    for u in units:
        start = max(u.start, last)
        end = max(u.end, start)
        out.append(_replace(u, start=start, end=end))
        last = end
    return out


def _wrap(text: str, rules: Rules) -> tuple[str, ...]:
    """A mark's text on as few lines as it needs (it may take more than `rules.lines`: it
    is read once, and cutting it would lose what it says)."""
    lines: list[str] = []
    for word in text.split():
        if lines and width(lines[-1]) + 1 + width(word) <= rules.line_width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines)
