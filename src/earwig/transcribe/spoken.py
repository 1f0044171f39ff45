"""Which language each stretch of speech is in, found before transcribing it.

Whisper detects one language from the first 30 s and then writes everything in it: the German
half of an English-then-German recording comes out as English (or as German tagged `en`).
faster-whisper's own `multilingual` switch re-detects per 30 s window (or per batched chunk),
but a window that holds the switch gets one language for both halves, and it does not say which
language it chose. So earwig finds the languages first, on the speech itself:

1. Silero VAD (inside faster-whisper) finds the speech, cut at pauses of PAUSE seconds;
2. the speech is grouped into pieces of PIECE_MIN..PIECE_MAX seconds, cut at those pauses;
3. each piece goes through the model's encoder *unpadded* and its language token is read.
   CTranslate2 accepts fewer than Whisper's 3000 frames, and the encoder's cost grows with its
   input: a 10 s piece costs about a ninth of a padded 30 s window (0.07 s against 0.67 s for
   base on 2 cores), and is as sure as the padded one from about 8 s of speech (measured in
   docs/models-and-languages.md), so detecting every piece of a file costs a few per cent of
   transcribing it;
4. neighbouring pieces of one language become a run; each run is transcribed with its language
   fixed, so nothing is translated and every segment knows its language.

A language the user (or a subscription) gave is a hint: a run the audio clearly puts in another
language (CLEAR) is transcribed in that language, with a warning; otherwise the hint wins.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from earwig.model import Flag, Transcript

if TYPE_CHECKING:
    import numpy as np

RATE = 16000
PAUSE = 0.3  # seconds of silence that may separate two languages
PIECE_MIN = 8.0  # seconds: a piece shorter than this is joined to its neighbour when it can be
PIECE_MAX = 20.0  # seconds: a longer stretch of speech is cut in equal parts
SURE = 0.5  # below this, a piece's language is taken from its neighbours
PAD_TO = 10.0  # seconds: shorter pieces are padded with silence to this for detection
CLEAR = 0.8  # a run this sure of a language other than the hint overrides the hint


@dataclass(frozen=True)
class Piece:
    start: float  # seconds within the samples
    end: float
    language: str
    probability: float
    spans: tuple[tuple[float, float], ...] = ()  # its stretches of speech


@dataclass(frozen=True)
class Run:
    """A stretch to transcribe in one language (start and end cut in the pauses)."""

    start: float
    end: float
    language: str
    probability: float  # the least sure of its pieces
    overrides: str | None = None  # the hint this run's audio clearly contradicts


def speech(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where the speech is (seconds), cut at pauses of PAUSE seconds or more."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        samples, VadOptions(min_silence_duration_ms=int(PAUSE * 1000), speech_pad_ms=100)
    )
    return [(s["start"] / RATE, s["end"] / RATE) for s in found]


def pieces_of(spans: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Speech spans grouped into pieces of PIECE_MIN..PIECE_MAX seconds, cut at pauses: each
    piece is the list of its spans."""
    out: list[list[tuple[float, float]]] = []
    for start, end in spans:
        length = end - start
        if length > PIECE_MAX:
            count = int(-(-length // PIECE_MAX))
            size = length / count
            out += [[(start + i * size, start + (i + 1) * size)] for i in range(count)]
        elif out and _length(out[-1]) < PIECE_MIN and end - out[-1][0][0] <= PIECE_MAX:
            out[-1].append((start, end))
        else:
            out.append([(start, end)])
    short_tail = len(out) > 1 and _length(out[-1]) < PIECE_MIN / 2
    if short_tail and out[-1][-1][1] - out[-2][0][0] <= PIECE_MAX * 1.5:
        out[-2:] = [out[-2] + out[-1]]  # a short tail joins the piece before
    return out


def _length(spans: list[tuple[float, float]]) -> float:
    return spans[-1][1] - spans[0][0]


def whole(model: Any, samples: np.ndarray) -> tuple[str, float]:
    """The file's language as the engine finds it on its own (`WhisperModel.transcribe`
    with no language: its first 30 s, padded): the reference every piece is held to."""
    language, probability, _ = model.detect_language(audio=samples[: 30 * RATE])
    return str(language), float(probability)


def detect(
    model: Any, samples: np.ndarray, start: float, end: float, pad_to: float = PAD_TO
) -> tuple[str, float]:
    """The language of samples[start:end] (seconds) by `model` (a faster-whisper
    WhisperModel): (code, probability). The encoder reads the piece unpadded (its cost grows
    with its input); a piece shorter than PAD_TO seconds is padded with silence to PAD_TO:
    unpadded, a 2-3 s piece is often misjudged, and padding it to Whisper's full 30 s costs
    five times as much for the same answer (docs/models-and-languages.md)."""
    import ctranslate2
    import numpy as np

    piece = samples[int(start * RATE) : int(end * RATE)]
    features = model.feature_extractor(piece)
    frames = min(3000, max(1, len(piece) // 160), features.shape[1])
    width = min(3000, max(frames, int(pad_to * 100)))
    padded = np.zeros((features.shape[0], width), dtype=np.float32)
    padded[:, :frames] = features[:, :frames]
    view = ctranslate2.StorageView.from_array(padded[None])
    token, probability = model.model.detect_language(view)[0][0]
    return str(token)[2:-2], float(probability)


def find(
    model: Any,
    samples: np.ndarray,
    reference: str | None = None,
    spans: list[tuple[float, float]] | None = None,
) -> list[Piece]:
    """Every piece of speech in `samples` with its language. A piece unsure of its language
    (a switch inside it, most often) is split at its middle pause and each half judged (the
    halves are kept when each is surer than SURE); a piece that disagrees with the
    `reference` (the file's language as the engine finds it) is judged again padded to a
    full 30 s window, as the engine judges, and keeps its own language only if that agrees
    (a short piece read unpadded can take German for Welsh); where two pieces disagree, the
    switch is looked for among their pauses (a binary search on single stretches of speech),
    since a piece mostly in one language can hide a sentence of the other."""
    found: list[Piece] = []
    for group in pieces_of(speech(samples) if spans is None else spans):
        found += _judge(model, samples, group, depth=2)
    if reference is not None:
        found = [_held_to(model, samples, p, reference) for p in found]
    found = _smooth(found)
    for i in range(len(found) - 1):
        if found[i].language != found[i + 1].language:
            found[i], found[i + 1] = _switch(model, samples, found[i], found[i + 1])
    return found


def halves(
    model: Any, samples: np.ndarray, spans: list[tuple[float, float]], reference: str
) -> list[Piece]:
    """Speech that fits one piece: one language (no pieces: the engine's own answer
    stands), unless its two halves, cut at the pause nearest the middle, are each sure of
    a different language, one of them the `reference`, and the other half, judged again
    padded as the engine judges, says so too (English, then German, in 18 s). Two short
    unpadded readings cost about two thirds of the engine's one padded window."""
    if len(spans) < 2:
        return []
    middle = (spans[0][0] + spans[-1][1]) / 2
    cut = min(range(1, len(spans)), key=lambda i: abs(spans[i][0] - middle))
    first, second = spans[:cut], spans[cut:]
    a = detect(model, samples, first[0][0], first[-1][1])
    b = detect(model, samples, second[0][0], second[-1][1])
    if a[0] == b[0] or min(a[1], b[1]) < SURE or reference not in (a[0], b[0]):
        return []
    pieces = [
        Piece(first[0][0], first[-1][1], a[0], a[1], tuple(first)),
        Piece(second[0][0], second[-1][1], b[0], b[1], tuple(second)),
    ]
    other = 0 if a[0] != reference else 1
    checked = _held_to(model, samples, pieces[other], reference)
    if checked.language != pieces[other].language:
        return []
    return list(_switch(model, samples, pieces[0], pieces[1]))


def _held_to(model: Any, samples: np.ndarray, p: Piece, reference: str) -> Piece:
    """A piece that disagrees with the file's language, judged again as the engine would
    (padded to 30 s): the padded answer stands."""
    if p.language == reference:
        return p
    language, probability = detect(model, samples, p.start, min(p.end, p.start + 30.0), 30.0)
    return dataclasses.replace(p, language=language, probability=probability)


def _judge(
    model: Any, samples: np.ndarray, spans: list[tuple[float, float]], depth: int
) -> list[Piece]:
    start, end = spans[0][0], spans[-1][1]
    language, probability = detect(model, samples, start, end)
    if probability >= CLEAR or len(spans) < 2 or depth == 0:
        return [Piece(start, end, language, probability, tuple(spans))]
    middle = (start + end) / 2
    cut = min(range(1, len(spans)), key=lambda i: abs(spans[i][0] - middle))
    halves = [
        p for half in (spans[:cut], spans[cut:]) for p in _judge(model, samples, half, depth - 1)
    ]
    if any(p.probability < SURE for p in halves):  # less sure in parts than as a whole
        return [Piece(start, end, language, probability, tuple(spans))]
    return halves


def _switch(model: Any, samples: np.ndarray, a: Piece, b: Piece) -> tuple[Piece, Piece]:
    """Where between pieces `a` and `b` (two languages) the language changes: the pause
    between two stretches of speech, found by judging single stretches. A stretch unsure
    of its language, or naming a third, is judged again padded to 30 s as the engine
    judges: a 3.7 s Spanish sentence after English, read padded to 10 s, comes out as
    unsure Latin and was left in the English run, which wrote "The new office!" for it."""
    spans = [*a.spans, *b.spans]
    low, high = 0, len(spans) - 1  # spans[low] speaks a's language, spans[high] b's
    while high - low > 1:
        middle = (low + high) // 2
        language, probability = detect(model, samples, *spans[middle])
        if probability < SURE or language not in (a.language, b.language):
            language, probability = detect(model, samples, *spans[middle], 30.0)
        if probability < SURE or language not in (a.language, b.language):
            break
        if language == a.language:
            low = middle
        else:
            high = middle
    if high - low > 1:  # undecided: keep the cut between the pieces
        return a, b
    first, second = spans[: low + 1], spans[high:]
    return (
        Piece(first[0][0], first[-1][1], a.language, a.probability, tuple(first)),
        Piece(second[0][0], second[-1][1], b.language, b.probability, tuple(second)),
    )


def _smooth(found: list[Piece]) -> list[Piece]:
    """An unsure piece takes the language of a sure neighbour (the one before, else after)."""
    out = list(found)
    for i, p in enumerate(out):
        if p.probability >= SURE:
            continue
        around = [
            q
            for q in (out[i - 1] if i else None, found[i + 1] if i + 1 < len(found) else None)
            if q
        ]
        sure = [q for q in around if q.probability >= SURE]
        if sure:
            out[i] = dataclasses.replace(p, language=sure[0].language)
    return out


def runs(found: list[Piece], duration: float, hint: str | None = None) -> list[Run]:
    """Pieces joined into runs of one language covering all of [0, duration]: boundaries in
    the middle of the pause between two languages. With a `hint`, only a run that is CLEAR
    about another language keeps it."""
    if not found:
        return [Run(0.0, duration, hint or "", 0.0)] if hint else []
    out: list[Run] = []
    for p in found:
        language, overrides = p.language, None
        if hint and language != hint:
            if p.probability >= CLEAR:
                overrides = hint
            else:
                language = hint
        if out and out[-1].language == language:
            last = out[-1]
            out[-1] = Run(
                last.start,
                p.end,
                language,
                min(last.probability, p.probability),
                last.overrides or overrides,
            )
        else:
            if out:
                middle = (out[-1].end + p.start) / 2
                out[-1] = Run(
                    out[-1].start, middle, out[-1].language, out[-1].probability, out[-1].overrides
                )
                start = middle
            else:
                start = 0.0
            out.append(Run(start, p.end, language, p.probability, overrides))
    last = out[-1]
    out[-1] = Run(last.start, duration, last.language, last.probability, last.overrides)
    return out


def overruled(t: Transcript, hint: str) -> tuple[Flag, ...]:
    """A flag for each stretch of `t` the audio put in another language than the `hint`
    the language setting gave (transcribed in the language heard: nothing to mark in the
    text, one warning per language, earwig/flags.py)."""
    stretches: list[tuple[float, float, str]] = []
    for s in t.segments:
        if not s.language or s.language == hint:
            continue
        if stretches and stretches[-1][2] == s.language:
            stretches[-1] = (stretches[-1][0], s.end, s.language)
        else:
            stretches.append((s.start, s.end, s.language))
    return tuple(
        Flag(f"overruled:{code}", start, end, "", detail=hint) for start, end, code in stretches
    )
