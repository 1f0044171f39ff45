"""Loops, phantom lines and skipped speech (transcribe/repair.py), on transcripts made by hand;
tests/integration/test_loops.py has the real hallucinating input."""

from __future__ import annotations

from earwig.model import Segment, Transcript, Word
from earwig.transcribe import repair


def t(*segments: Segment) -> Transcript:
    return Transcript(tuple(segments), "en", 60.0, "faster-whisper", "m")


def test_a_phrase_looped_past_a_handful_is_cut_to_two_copies_and_flagged() -> None:
    looped = Segment(0, 30, " I don't know how to do it," * 12 + " end.", avg_logprob=-0.5)
    mended = repair.cut_loops(t(looped))
    (s,) = mended.segments
    assert s.text.count("I don't know how to do it") == repair.KEEP
    assert s.text.endswith("end.")
    (flag,) = mended.flags
    assert flag.kind == "loop" and (flag.start, flag.end) == (0, 30) and "12 times" in flag.detail
    syllables = repair.cut_loops(t(Segment(0, 9, " T-E-M" + "-E-M" * 60)))
    assert "-E-M-E-M-E-M" not in syllables.segments[0].text


def test_what_people_really_repeat_is_left_alone() -> None:
    said = t(Segment(0, 9, " We will win. We will win. We will win. No, no, no, no!"))
    assert repair.cut_loops(said) == said
    assert not repair.looping(Segment(0, 9, " We meet. " * 3, compression_ratio=3.0))


def test_a_loop_is_decoded_again_and_the_new_answer_kept_when_it_does_not_loop() -> None:
    loop = Segment(5, 20, " so so so so so so so so so so so so so", compression_ratio=9.0)
    fine = Segment(0, 5, " Hello there.")
    asked: list[tuple[float, float]] = []

    def again(start: float, end: float) -> list[Segment]:
        asked.append((start, end))
        return [Segment(start, end, " The river was high.")]

    out, mended = repair.decode_again([fine, loop], again)
    assert mended == 1 and asked == [(5, 20)]
    assert [s.text for s in out] == [" Hello there.", " The river was high."]
    still, none = repair.decode_again([loop], lambda a, b: [loop])
    assert none == 0 and still == [loop]


def test_stock_lines_over_silence_go_and_other_text_there_is_doubtful() -> None:
    speech = [(0.0, 10.0)]
    transcript = t(
        Segment(0, 10, " Welcome to the meeting."),
        Segment(20, 25, " Thanks for watching!"),
        Segment(30, 35, " The budget is approved.", avg_logprob=-0.2),
        Segment(40, 45, " Mumble rumble.", avg_logprob=-1.2),
    )
    out = repair.phantoms(transcript, speech)
    assert [s.text for s in out.segments] == [
        " Welcome to the meeting.",
        " The budget is approved.",
    ]
    (flag,) = out.flags
    assert flag.kind == "doubtful-silence" and (flag.start, flag.end) == (30, 35)


def test_speech_left_without_words_is_flagged_missing() -> None:
    words = tuple(Word(i * 0.5, i * 0.5 + 0.4, " w") for i in range(20))
    late = tuple(Word(40 + i * 0.5, 40.4 + i * 0.5, " w") for i in range(10))
    transcript = t(Segment(0, 10, " w" * 20, words), Segment(40, 45, " w" * 10, late))
    speech = [(0.0, 10.0), (12.0, 20.0), (21.0, 38.0), (40.0, 45.0)]
    (flag,) = repair.skipped(transcript, speech).flags
    assert (flag.kind, flag.start, flag.end, flag.drop) == ("skipped", 12.0, 38.0, True)
    assert repair.skipped(transcript, [(0.0, 10.0), (40.0, 45.0)]).flags == ()
