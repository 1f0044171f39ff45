"""The one interface every backend implements, and the options they all understand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from earwig.model import Segment, Transcript, Word

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16000


def clamp(seconds: float, duration: float) -> float:
    """A timestamp inside the audio, to the millisecond, as a plain float.

    Whisper rounds times to its 30 s windows and can overshoot the end of the audio; every
    backend's segment and word times go through here.
    """
    return round(min(float(seconds), duration), 3)


def shift(s: Segment, offset: float, duration: float, language: str | None) -> Segment:
    """A segment of a piece of the audio (a window, a language's run) moved `offset` seconds
    onto the file's clock, its words too, clamped to the file, in `language`."""
    if not offset:
        return s if s.language == language else replace(s, language=language)
    words = tuple(
        Word(
            clamp(w.start + offset, duration),
            clamp(w.end + offset, duration),
            w.text,
            w.probability,
        )
        for w in s.words
    )
    return replace(
        s,
        start=clamp(s.start + offset, duration),
        end=clamp(s.end + offset, duration),
        words=words,
        language=language,
    )


ProgressFn = Callable[[float], None]  # fraction of the audio done, 0..1
SegmentsFn = Callable[[Sequence[Segment]], None]


def segments_sink(on_progress: ProgressFn) -> SegmentsFn | None:
    """Where a backend that knows its segments as it goes (faster-whisper) hands them over:
    the `segments` method of the progress callback, when it has one (the pipeline's does, so
    the job screen shows lines live). A plain function has none, and nothing is sent."""
    sink = getattr(on_progress, "segments", None)
    return sink if callable(sink) else None


AbortFn = Callable[[], bool]  # True: stop as soon as possible


@dataclass(frozen=True)
class TranscribeOptions:
    """The same option names whatever the backend; each maps them to its own parameters."""

    language: str | None = None  # None: detect
    translate: bool = False  # into English
    initial_prompt: str | None = None  # vocabulary hints
    vad: bool = False  # skip silence where the backend can
    word_timestamps: bool = False  # per-word timing in the .json output
    beam_size: int = 5
    # find the language of every stretch of speech (transcribe/spoken.py); `language` is then
    # a hint the audio can overrule; False: one language for the whole file
    multilingual: bool = True
    diarize: bool = False  # label speakers (earwig/speakers), after transcription
    speakers: int | None = None  # how many, when known; None: found from the voices
    # found from the voices, but no fewer / no more than this (whisper-asr-webservice's
    # min_speakers, max_speakers): a count outside is clustered again at the nearest bound
    min_speakers: int | None = None
    max_speakers: int | None = None
    voices_everywhere: bool = False  # named voices looked for in every file, not by source


class Transcriber(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    def load(self) -> None:
        """Load the model now (it is kept warm until `unload`)."""

    def unload(self) -> None:
        """Free the model's memory."""

    @property
    def loaded(self) -> bool: ...

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        on_progress: ProgressFn,
        should_abort: AbortFn,
    ) -> Transcript:
        """Transcribe float32 mono 16 kHz samples. Raise Aborted when should_abort() says so."""
