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

from typing import TYPE_CHECKING

from earwig import languages
from earwig.model import Transcript

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


def review(t: Transcript, model: str, english_only: bool) -> Transcript:
    """The transcript with warnings added for whatever looks wrong in it."""
    problems: list[str] = []
    words = len(t.text.split())
    speech = t.speech or 0.0
    if speech >= MIN_SPEECH and words < MIN_WORDS_PER_MINUTE * speech / 60:
        problems.append(
            f"only {words} words for {speech:.0f}s of speech: most of what is said is missing "
            "from the transcript"
        )
    timed = [(s.end - s.start, s) for s in t.segments if s.end > s.start]
    total = sum(d for d, _ in timed)
    scored = [(d, s.avg_logprob) for d, s in timed if s.avg_logprob is not None]
    if scored and total:
        mean = sum(d * lp for d, lp in scored) / sum(d for d, _ in scored)
        if mean < UNSURE_LOGPROB:
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
