"""The English-only judge (transcribe/quality.py: foreign_spans) on transcripts made by hand:
one reading is never enough to leave speech out; a second, deterministic one decides."""

from __future__ import annotations

from earwig import flags
from earwig.model import Flag, Segment, Transcript, Word
from earwig.transcribe import quality

SPEECH = [(0.0, 12.0)]


def said(text: str, start: float, end: float, probability: float) -> Segment:
    """A segment whose words share [start, end] evenly, each at `probability`."""
    words = text.split()
    step = (end - start) / len(words)
    timed = tuple(
        Word(start + i * step, start + (i + 1) * step, w, probability) for i, w in enumerate(words)
    )
    return Segment(start, end, " " + text, timed, avg_logprob=-0.2, compression_ratio=1.3)


ENGLISH = said(
    "Welcome to the weekly meeting today we will talk about the budget for next year the new "
    "office and the summer holidays",
    0.0,
    12.0,
    0.95,
)
GARBLED = said(
    "In winter even the land in Denmark and Tzu and common the family in mid-even Bufa Fekauf",
    0.0,
    12.0,
    0.3,
)


def transcript(*segments: Segment, flagged: tuple[Flag, ...] = ()) -> Transcript:
    return Transcript(
        segments=segments, language="en", duration=12.0, backend="t", model="t", flags=flagged
    )


def test_unsure_english_is_kept_when_a_second_reading_is_sure() -> None:
    first = transcript(said(ENGLISH.text.strip(), 0.0, 12.0, 0.4))  # sampled: unsure
    mended, found = quality.foreign_spans(first, SPEECH, lambda a, b: [ENGLISH])
    assert found == [] and mended.segments == first.segments  # the engine's words stay


def test_an_empty_first_reading_is_filled_from_a_sure_second_one() -> None:
    skipped = Flag("skipped", 0.0, 12.0, "not transcribed", drop=True)
    mended, found = quality.foreign_spans(
        transcript(flagged=(skipped,)), SPEECH, lambda a, b: [ENGLISH]
    )
    assert found == [] and mended.segments == (ENGLISH,) and mended.flags == ()


def test_both_readings_foreign_is_left_out_and_explains_the_skipped_speech() -> None:
    skipped = Flag("skipped", 0.0, 12.0, "not transcribed", drop=True)
    mended, found = quality.foreign_spans(
        transcript(flagged=(skipped,)), SPEECH, lambda a, b: [GARBLED]
    )
    (suspect,) = found
    assert "0 words" in suspect.why and "read again alone: the model was unsure" in suspect.why
    assert mended.flags == ()  # the foreign flag says why, not "the model wrote nothing"


def test_skipped_speech_through_an_english_only_model_names_the_multilingual_hint() -> None:
    flag = Flag("skipped", 0.0, 10.0, "not transcribed", drop=True)
    (warning,) = flags.warnings([flag], "bundled")
    assert "English-only" in warning and "earwig models pull base" in warning
    (other,) = flags.warnings([flag], "base")
    assert "English-only" not in other
