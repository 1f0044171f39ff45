"""Loops and phantom lines: found, decoded again where the engine can, cut where it cannot.

Whisper fails in two well-known ways that look like text. It loops: a stretch it cannot read
(another language through an English-only model, noise, a chunk that starts mid-word) comes out
as one phrase or syllable over and over ("T-E-M-E-M-E-M-...", sixty times), and faster-whisper's
batched path, which decodes at one temperature, never tries again. And it invents: over silence
or music it writes the lines its training subtitles ended with ("Thanks for watching",
"Subtitles by ...").

- `decode_again` (backends that can): each looping segment's audio is decoded again without
  the text before it and at rising temperatures, as Whisper's own fallback does on the
  sequential path; the first answer that does not loop replaces it.
- `cut_loops` (every backend, after that): what still repeats is cut to KEEP copies and
  flagged with its time range, so no transcript holds the same phrase of 3 or more words more
  than MAX_COPIES times in a row.
- `phantoms`: a segment where the VAD heard no speech is left out when it is one of Whisper's
  stock lines or the model was unsure of it, and kept but flagged doubtful otherwise.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from earwig.model import Flag, Segment, Transcript

LOOP_RATIO = 2.4  # gzip ratio: Whisper's own threshold for "this decode looped"
MAX_COPIES = 4  # a phrase of 3+ words may be said this many times in a row (a chant, a drill)
MAX_SHORT_COPIES = 8  # a word or two words (no no no no...)
KEEP = 2  # copies left where a loop is cut
CHAR_LOOP = re.compile(r"(\S{2,12}?)\1{5,}")  # a syllable looping inside a word: "-E-M-E-M"
NO_SPEECH = 0.1  # of a segment's time heard as speech: below this it is over silence
UNSURE = -0.7  # mean token log-probability under which text over silence is left out
# Whisper's stock endings, learnt from subtitle files: over silence they are never speech.
PHANTOMS = re.compile(
    r"^\W*(thanks? (you )?(so much )?for watching|thank you( very much)?( for listening)?|"
    r"please (like and )?subscribe|subtitles? (by|made by)|subtitled by|captions? by|"
    r"transcription by|translated by|amara\.org|www\.\S+|bye\.?|you)\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Loop:
    """The worst repetition in a text: `copies` of `phrase` in a row, starting at word `at`
    (for a syllable loop inside a word, `at` is that word)."""

    phrase: str
    copies: int
    at: int
    words: int  # words in the phrase; 0 for a syllable loop


def ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def worst_repeat(text: str) -> Loop | None:
    """The longest run of one phrase repeated back to back in `text` (words compared
    without case and punctuation), or a syllable looping inside a word; None for none."""
    words = text.split()
    keys = [re.sub(r"\W+", "", w.lower()) or w for w in words]
    best: Loop | None = None
    for n in range(1, 11):
        i = 0
        while i + 2 * n <= len(keys):
            copies = 1
            while keys[i : i + n] == keys[i + copies * n : i + (copies + 1) * n]:
                copies += 1
            if copies > 1 and (best is None or copies * n > best.copies * max(best.words, 1)):
                best = Loop(" ".join(words[i : i + n]), copies, i, n)
            i += max(1, (copies - 1) * n) if copies > 1 else 1
    for k, w in enumerate(words):
        m = CHAR_LOOP.search(w)
        if m:
            copies = len(m.group(0)) // len(m.group(1))
            if best is None or copies > best.copies:
                best = Loop(m.group(1), copies, k, 0)
    return best


def too_many(loop: Loop | None) -> bool:
    if loop is None:
        return False
    if loop.words >= 3:
        return loop.copies > MAX_COPIES
    if loop.words == 0:
        return loop.copies > MAX_SHORT_COPIES - 3
    return loop.copies > MAX_SHORT_COPIES


def looping(s: Segment) -> bool:
    """The segment loops: too many copies of a phrase, or text gzip squeezes like a loop
    while the model was not sure of it (a sentence really said three times is sure)."""
    if too_many(worst_repeat(s.text)):
        return True
    return (s.compression_ratio or ratio(s.text)) > LOOP_RATIO and (s.avg_logprob or 0.0) < -0.3


Redecode = Callable[[float, float], list[Segment]]


def decode_again(segments: list[Segment], again: Redecode) -> tuple[list[Segment], int]:
    """Each looping segment decoded again (`again(start, end)` gives the segments of that
    stretch, decoded without the text before it and with temperature fallback); kept where
    the new answer does not loop. Returns the segments and how many were replaced."""
    out: list[Segment] = []
    mended = 0
    for s in segments:
        if not looping(s) or s.end - s.start < 0.5:
            out.append(s)
            continue
        found = [f for f in again(s.start, s.end) if f.text.strip()]
        if found and not any(looping(f) for f in found):
            out += found
            mended += 1
        else:
            out.append(s)
    return out, mended


def cut_loops(t: Transcript) -> Transcript:
    """Every repetition past what people say cut to KEEP copies, and flagged: its words
    (and their times) go, the segment's time stays."""
    segments: list[Segment] = []
    flags: list[Flag] = []
    for s in t.segments:
        loop = worst_repeat(s.text)
        if not too_many(loop):
            segments.append(s)
            continue
        assert loop is not None
        cut = s
        while too_many(loop := worst_repeat(cut.text)):
            assert loop is not None
            cut = _cut(cut, loop)
        segments.append(cut)
        first = worst_repeat(s.text)
        assert first is not None
        what = f"{first.phrase!r} {first.copies} times in a row" if first else ""
        flags.append(Flag("loop", s.start, s.end, "repeated: cut to a few copies", detail=what))
    if not flags:
        return t
    return t.replace(segments=tuple(segments), flags=t.flags + tuple(flags))


def _cut(s: Segment, loop: Loop) -> Segment:
    words = s.text.split()
    if loop.words == 0:  # a syllable loop inside one word: keep KEEP copies of the syllable
        unit = re.escape(loop.phrase)
        words[loop.at] = re.sub(
            f"({unit}){{{KEEP + 1},}}", loop.phrase * KEEP + "…", words[loop.at]
        )
        kept_words = s.words
    else:
        start = loop.at + KEEP * loop.words
        end = loop.at + loop.copies * loop.words
        del words[start:end]
        kept_words = _drop_words(s, start, end)
    text = (" " if s.text[:1].isspace() else "") + " ".join(words)
    return replace(s, text=text, words=kept_words)


def _drop_words(s: Segment, start: int, end: int) -> tuple:
    """The segment's timed words without those at text positions start..end (when the
    words spell the text; else all of them go, since they no longer match it)."""
    if len(s.words) != len(s.text.split()):
        return ()
    return s.words[:start] + s.words[end:]


def phantoms(t: Transcript, speech: Sequence[tuple[float, float]]) -> Transcript:
    """Segments where the VAD heard (almost) no speech: Whisper's stock lines and unsure
    text are left out; anything else is kept, flagged doubtful."""
    kept: list[Segment] = []
    flags: list[Flag] = []
    for s in t.segments:
        length = s.end - s.start
        heard = sum(max(0.0, min(s.end, b + 0.2) - max(s.start, a - 0.2)) for a, b in speech)
        if length < 1.0 or heard >= NO_SPEECH * length or not s.text.strip():
            kept.append(s)
            continue
        stock = PHANTOMS.match(s.text.strip()) is not None
        if stock or (s.avg_logprob is not None and s.avg_logprob < UNSURE) or looping(s):
            continue
        kept.append(s)
        flags.append(Flag("doubtful-silence", s.start, s.end, "no speech heard here"))
    if len(kept) == len(t.segments) and not flags:
        return t
    return t.replace(segments=tuple(kept), flags=t.flags + tuple(flags))


def review(t: Transcript, speech: Sequence[tuple[float, float]] | None) -> Transcript:
    """One window's transcript with its loops cut and, where the VAD's `speech` is known
    (the engine did not cut at it already), its lines over silence dealt with."""
    t = cut_loops(t)
    if speech is None:
        return t
    return skipped(phantoms(t, speech), speech)


SKIPPED = 8.0  # seconds of speech in a row with no word written: the decoder skipped it


def skipped(t: Transcript, speech: Sequence[tuple[float, float]]) -> Transcript:
    """Stretches where the VAD heard SKIPPED seconds of speech or more and no word was
    written (needs word times): flagged, so a text that silently lacks 20 s of a talk says
    so. faster-whisper's batched path decodes each ~30 s chunk in one pass, and when the
    decoder jumps ahead (a chunk opening with what it cannot read, a phrase it runs past)
    the rest of the chunk's text is aligned late and the speech before it is simply gone."""
    import bisect

    starts = sorted(w.start for s in t.segments for w in s.words)
    if not starts:
        return t
    ends = sorted(w.end for s in t.segments for w in s.words)
    covered = [(f.start, f.end) for f in t.flags]

    def written(a: float, b: float) -> bool:  # a word overlaps [a, b]
        return bisect.bisect_left(starts, b) > bisect.bisect_right(ends, a)

    found: list[Flag] = []
    run: list[tuple[float, float]] = []

    def close() -> None:
        heard = sum(b - a for a, b in run)
        a, b = run[0][0], run[-1][1]
        if heard >= SKIPPED and not any(x < b and y > a for x, y in covered):
            note = "not transcribed: the model wrote nothing for this speech"
            found.append(Flag("skipped", round(a, 3), round(b, 3), note, drop=True))

    for a, b in speech:
        if written(a, b):
            if run:
                close()
            run = []
        else:
            run.append((a, b))
    if run:
        close()
    return t.replace(flags=t.flags + tuple(found)) if found else t
