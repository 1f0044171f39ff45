"""Is this transcript believable? Warnings for text that is probably wrong, never silence.

Whisper does not fail loudly: German through an English-only model comes out as fluent
English nonsense, French as two words, unclear audio as one sentence repeated. Three signals
catch it, all from what the engine already reports or ships:

- too little text for the speech heard: Silero VAD (inside faster-whisper) measures how many
  seconds are speech, and ordinary speech runs at 100-200 words a minute;
- the model was unsure: the mean token log-probability, weighted by time (clear English
  through tiny.en scores about -0.3; another language through it, below -1.5);
- the text loops: gzip compresses a repetition loop far better than speech (ratio over 2.4,
  Whisper's own threshold) and the model was not sure of it (a sentence really said three
  times scores about -0.15; a hallucinated loop, -0.5).

The job still ends `done` (the text may be partly right), with warnings that say what looks
wrong and what to do; they are shown by `earwig jobs`, `earwig show`, the dashboard and the
.json output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from earwig import languages
from earwig.model import Flag, Transcript

if TYPE_CHECKING:
    import numpy as np

MIN_WORDS_PER_MINUTE = 40  # of speech; people speak 100-200
MIN_SPEECH = 5.0  # seconds: below this, a short transcript is no surprise
UNSURE_LOGPROB = -1.0
LOOP_RATIO = 2.4
LOOP_SHARE = 0.25  # of the transcript's time
LOOP_LOGPROB = -0.3  # a confident repetition is usually really said (a chorus, a drill)
UNSURE_LANGUAGE = 0.5


def sparse(t: Transcript, seconds: float) -> bool:
    """Few enough words for this much audio that the speech in it should be measured."""
    return len(t.text.split()) < MIN_WORDS_PER_MINUTE * seconds / 60


def speech_seconds(samples: np.ndarray) -> float:
    """Seconds of speech in 16 kHz samples, by the Silero VAD that ships with faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(samples, VadOptions())
    return sum(s["end"] - s["start"] for s in spans) / 16000


def review(
    t: Transcript, model: str, english_only: bool, *, spans_judged: bool = False
) -> Transcript:
    """The transcript with warnings added for whatever looks wrong in it. With
    `spans_judged`, each stretch of speech was already judged (foreign_spans): the whole
    file's word count and certainty are not judged again."""
    problems: list[str] = []
    words = len(t.text.split())
    speech = t.speech or 0.0
    if not spans_judged and speech >= MIN_SPEECH and words < MIN_WORDS_PER_MINUTE * speech / 60:
        problems.append(
            f"only {words} words for {speech:.0f}s of speech: most of what is said is missing "
            "from the transcript"
        )
    timed = [(s.end - s.start, s) for s in t.segments if s.end > s.start]
    total = sum(d for d, _ in timed)
    scored = [(d, s.avg_logprob) for d, s in timed if s.avg_logprob is not None]
    if scored and total:
        mean = sum(d * lp for d, lp in scored) / sum(d for d, _ in scored)
        if mean < UNSURE_LOGPROB and not spans_judged:
            problems.append(
                f"the model was unsure of most of the text (mean log-probability {mean:.2f}): "
                "it is probably wrong"
            )
        looping = sum(
            d
            for d, s in timed
            if (s.compression_ratio or 0) > LOOP_RATIO and (s.avg_logprob or 0) < LOOP_LOGPROB
        )
        if looping > LOOP_SHARE * total:
            problems.append("the text repeats itself, a sign that the model lost track")
    warnings = list(t.warnings)
    if problems:
        from earwig.transcribe.models import display_name

        model = display_name(model)
        what = "; ".join(problems)
        if english_only:
            warnings.append(
                f"{what}. {model} is English-only: if this recording is in another language, "
                '`earwig models pull base` and set [transcribe] model = "base" (or use --model '
                "base); `earwig retry` then transcribes it again"
            )
        else:
            warnings.append(
                f"{what}. Check the audio; a larger model (`earwig models`) or the right "
                "[transcribe] language may help"
            )
    if (
        not english_only
        and t.language_probability is not None
        and t.language_probability < UNSURE_LANGUAGE
        and t.segments
    ):
        warnings.append(
            f"the language was hard to tell ({languages.name(t.language)}, "
            f"{t.language_probability:.0%} sure): if that is wrong, set [transcribe] language "
            "or use --language"
        )
    return t.replace(warnings=tuple(dict.fromkeys(warnings)))


# Per-span judgement for English-only models (measured per VAD piece of 8-20 s on eSpeak NG
# voices through the bundled tiny.en, docs/models-and-languages.md): English (five voices)
# read 2.4-3.2 words a second of speech at a mean word log-probability of -0.09 to -0.33; nine other
# languages came out as nothing (Spanish, French, Italian), or at -0.69 to -3.3, or as a
# confident loop (Portuguese: compression ratio 3.6).
SPAN_MIN_SPEECH = 3.0  # seconds of speech: a shorter piece is not judged on its own
SPAN_MIN_WORDS_PER_SECOND = 1.0
SPAN_UNSURE_WORD_LOGPROB = -0.6


@dataclass(frozen=True)
class Suspect:
    """A stretch of speech (seconds, on the window's clock) that is probably not English."""

    start: float
    end: float
    speech: float  # seconds of it
    words: int
    word_logprob: float | None
    why: str


def foreign_spans(t: Transcript, spans: list[tuple[float, float]]) -> list[Suspect]:
    """The pieces of speech (VAD `spans` grouped into 8-20 s pieces) whose transcript looks
    like an English-only model hearing another language: too few words for the speech, or
    words the model was unsure of, or a loop. A flagged piece loses the stretches at its ends
    that pass on their own (a piece can hold the last English sentence before a switch);
    neighbouring suspects are joined."""
    from earwig.transcribe import spoken

    out: list[Suspect] = []
    for piece in spoken.pieces_of(spans):
        speech = sum(e - s for s, e in piece)
        if speech < SPAN_MIN_SPEECH:
            continue
        found = _judge_span(t, piece)
        if found is None:
            continue
        kept = list(piece)
        while len(kept) > 1 and _passes(t, kept[0]):
            kept.pop(0)
        while len(kept) > 1 and _passes(t, kept[-1]):
            kept.pop()
        if len(kept) < len(piece):
            found = _judge_span(t, kept) or found
        if out and found.start - out[-1].end < 2.0:
            last = out[-1]
            out[-1] = Suspect(
                last.start,
                found.end,
                last.speech + found.speech,
                last.words + found.words,
                last.word_logprob,
                last.why,
            )
        else:
            out.append(found)
    return out


def _passes(t: Transcript, span: tuple[float, float]) -> bool:
    """One stretch of speech, long enough to judge alone, that looks like English."""
    return span[1] - span[0] >= SPAN_MIN_SPEECH / 2 and _judge_span(t, [span]) is None


def _judge_span(t: Transcript, piece: list[tuple[float, float]]) -> Suspect | None:
    """The piece as a Suspect, with why, if its transcript looks wrong; else None."""
    import math

    start, end = piece[0][0], piece[-1][1]
    speech = sum(e - s for s, e in piece)
    timed_words = [w for s in t.segments for w in s.words]
    if timed_words:
        inside = [w for w in timed_words if start <= (w.start + w.end) / 2 <= end]
        words = len(inside)
        probabilities = [w.probability for w in inside if w.probability is not None]
        logprob = (
            sum(math.log(max(p, 1e-6)) for p in probabilities) / len(probabilities)
            if probabilities
            else None
        )
    else:  # no word times (another backend): words shared out by overlap
        words, logprob = _by_overlap(t, start, end)
    touching = [s for s in t.segments if s.end > start and s.start < end]
    text = " ".join(s.text.strip() for s in touching if s.text)
    loop = _ratio(text) > LOOP_RATIO and any((s.avg_logprob or 0) < LOOP_LOGPROB for s in touching)
    if words < SPAN_MIN_WORDS_PER_SECOND * speech:
        why = f"{words} words for {speech:.0f}s of speech"
    elif logprob is not None and logprob < SPAN_UNSURE_WORD_LOGPROB:
        why = f"the model was unsure of it, word log-probability {logprob:.2f}"
    elif loop:
        why = "the text repeats itself"
    else:
        return None
    return Suspect(start, end, speech, words, logprob, why)


def _by_overlap(t: Transcript, start: float, end: float) -> tuple[int, float | None]:
    words, weighted, weight = 0.0, 0.0, 0.0
    for s in t.segments:
        overlap = min(s.end, end) - max(s.start, start)
        if overlap <= 0:
            continue
        words += overlap / max(s.end - s.start, 1e-3) * len(s.text.split())
        if s.avg_logprob is not None:
            weighted += overlap * s.avg_logprob
            weight += overlap
    return round(words), (weighted / weight if weight else None)


def _ratio(text: str) -> float:
    import zlib

    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def foreign_flag(s: Suspect, heard: str | None) -> Flag:
    """A suspect stretch (on the window's clock) as a flag: its words are left out of the
    text formats, which say instead what is there; `heard` names the language a
    multilingual model on disk detected there (e.g. "German, 97% sure")."""
    language = heard.split(",")[0] if heard else "other-language"
    return Flag(
        "foreign",
        round(s.start, 3),
        round(s.end, 3),
        f"not transcribed: {language} speech; the model is English-only",
        drop=True,
        detail=heard or "",
    )


class Namer:
    """Names the language of a suspect stretch with a multilingual model already on disk
    (the smallest the Hugging Face cache holds), loaded the first time it is needed and
    kept for the rest of the file. None when there is none: nothing is downloaded for it."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads
        self._model: object | None = None
        self._tried = False

    def model(self) -> object | None:
        if not self._tried:
            self._tried = True
            from earwig.transcribe import catalog

            found = sorted(
                (e.size, str(path))
                for e in catalog.CATALOG.values()
                if e.multilingual and (path := catalog.cached(e)) is not None
            )
            if found:
                import os

                from faster_whisper import WhisperModel

                threads = self.threads or os.cpu_count() or 1
                try:
                    self._model = WhisperModel(
                        found[0][1], device="cpu", compute_type="int8", cpu_threads=threads
                    )
                except (RuntimeError, ValueError, OSError):
                    self._model = None
        return self._model

    def name(self, samples: np.ndarray, start: float, end: float) -> str | None:
        from earwig.transcribe import spoken

        model = self.model()
        if model is None:
            return None
        language, probability = spoken.detect(model, samples, start, min(end, start + 30.0))
        return f"{languages.name(language)}, {probability:.0%} sure"
