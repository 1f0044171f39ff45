"""Subtitle cues (earwig/cues.py): every cue within the rules, none overlapping, the words
kept, over many generated transcripts (hypothesis), and the writers that use them."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earwig import cues, outputs
from earwig.cues import Mark, Rules, width
from earwig.model import Segment, Transcript, Word

LATIN = [
    "the",
    "a",
    "of",
    "and",
    "but",
    "because",
    "which",
    "river",
    "bridge",
    "station",
    "tickets,",
    "early.",
    "holiday?",
    "Welcome!",
    "budget;",
    "next-year",
    "office:",
    "Friday.",
    "supercalifragilisticexpialidocious",
    "https://example.org/a/very/long/path/that/never/fits/on/one/line",
    "ok.",
    "I,",
    "you",
]
CJK = ["今日", "は", "会議", "です。", "明日", "の", "予算", "について", "话", "我们", "。"]


@st.composite
def transcripts(draw: st.DrawFn) -> tuple[list[Segment], bool]:
    """Segments in time order with gaps, speakers and languages that change, words with
    times or not, Latin or CJK text (and a few words wider than a line)."""
    cjk = draw(st.booleans())
    vocabulary = CJK if cjk else LATIN
    segments: list[Segment] = []
    t = draw(st.floats(0, 5))
    for _ in range(draw(st.integers(1, 12))):
        n = draw(st.integers(1, 40))
        words = [draw(st.sampled_from(vocabulary)) for _ in range(n)]
        timed = draw(st.booleans())
        speaker = draw(st.sampled_from([None, None, "Ann", "Ben"]))
        language = draw(st.sampled_from([None, "en", "de"]))
        start = t
        spelled: list[Word] = []
        for i, w in enumerate(words):
            length = draw(st.floats(0.0, 1.2))
            text = w if cjk else (" " + w if i or segments else w)
            spelled.append(Word(round(t, 3), round(t + length, 3), text))
            t += length + draw(st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.5, 1.5]))
        joiner = "" if cjk else " "
        segments.append(
            Segment(
                round(start, 3),
                round(t, 3),
                joiner + joiner.join(words),
                tuple(spelled) if timed else (),
                language=language,
                speaker=speaker,
            )
        )
        t += draw(st.sampled_from([0.0, 0.1, 0.6, 2.0, 8.0]))
    return segments, cjk


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts(), st.sampled_from([Rules(), Rules(line_width=32, lines=3), Rules(lines=1)]))
def test_every_cue_is_within_the_rules_and_the_words_are_kept(
    case: tuple[list[Segment], bool], rules: Rules
) -> None:
    segments, cjk = case
    duration = segments[-1].end + 3
    made = cues.cues(segments, rules, duration=duration)
    # the words, in order, each once, each cue one speaker's (CJK is written without
    # spaces, so a cue's line may join what Whisper gave as two words: compared by characters)
    said = [(ch, s.speaker) for s in segments for ch in "".join(s.text.split())]
    shown = [(ch, c.speaker) for c in made for ch in "".join(c.text.split())]
    assert shown == said
    if not cjk:
        words = [tok for s in segments for tok in s.text.split()]
        assert [tok for c in made for tok in c.text.split()] == words
    for k, c in enumerate(made):
        assert len(c.lines) <= rules.lines
        for line in c.lines:  # a line is narrow enough unless one word is wider alone
            assert width(line) <= rules.line_width or len(cues._tokens(line)) == 1, line
        assert c.start <= c.end <= c.start + rules.longest + 1e-6
        nxt = made[k + 1].start if k + 1 < len(made) else duration
        assert c.end <= nxt + 1e-6  # no overlaps, nothing past the audio
        on_screen = c.end - c.start
        held_back = abs(c.end - nxt) < 1e-3 or abs(on_screen - rules.longest) < 1e-3
        chars = width(("" if cjk else " ").join(c.lines))
        if on_screen < rules.shortest - 1e-3:
            assert held_back, c  # short only where the next cue leaves no room
        if chars / max(on_screen, 1e-3) > rules.reading_speed + 1e-3:
            assert held_back, c


@settings(max_examples=150, deadline=None)
@given(transcripts())
def test_a_cue_never_spans_a_long_pause_or_a_change_of_language(
    case: tuple[list[Segment], bool],
) -> None:
    segments, _ = case
    rules = Rules()
    units = cues._units(segments, False)
    made = cues.cues(segments, rules)
    k = 0
    for c in made:  # walk the units cue by cue, by the characters each cue shows
        left = len("".join(c.text.split()))
        inside = []
        while left > 0:
            inside.append(units[k])
            left -= len(units[k].text)
            k += 1
        assert left == 0
        for a, b in itertools.pairwise(inside):
            assert b.start - a.end < rules.pause
            assert a.language == b.language and a.speaker == b.speaker


def seg(start: float, end: float, text: str, **kw: object) -> Segment:
    return Segment(start, end, text, **kw)  # type: ignore[arg-type]


def test_a_thirty_second_segment_becomes_cues_broken_after_sentences() -> None:
    text = (
        " The river was high after a week of rain, and the old bridge creaked under every "
        "cart. Our train leaves at half past nine, so please be at the station early with "
        "your tickets. Welcome to the weekly meeting. Today we will talk about the budget."
    )
    made = cues.cues([seg(0.0, 16.0, text)])
    assert len(made) >= 4
    assert all(c.end - c.start <= 7.0 for c in made)
    assert all(len(line) <= 42 for c in made for line in c.lines)
    ends = [c.lines[-1][-1] for c in made]
    assert ends.count(".") >= 2  # cuts at sentence ends where they can be
    assert not any(c.lines[-1].endswith((" the", " a")) for c in made)


def test_line_breaks_read_naturally_and_fit() -> None:
    lines = cues.layout(
        cues._units([seg(0, 4, " I went to the station early, but the train had left.")], False),
        Rules(),
    )
    assert lines == ("I went to the station early,", "but the train had left.")


def test_cjk_is_counted_by_its_width() -> None:
    text = "今日は会議です。明日の予算について話します。" * 3
    made = cues.cues([seg(0, 12, text, language="ja")])
    assert all(width(line) <= 42 for c in made for line in c.lines)
    assert "".join("".join(c.lines) for c in made) == text
    assert width("会議") == 4 and width("ab") == 2


def test_cues_are_held_for_reading_but_never_over_the_next() -> None:
    made = cues.cues(
        [seg(1.0, 1.2, " Yes.", speaker="Ann"), seg(1.5, 3.0, " Then we go.", speaker="Ben")]
    )
    assert [c.text for c in made] == ["Yes.", "Then we go."]
    assert made[0].end == made[1].start == 1.5  # held as long as it can be
    one = cues.cues([seg(1.0, 1.2, " Yes.")])
    assert one[0].end - one[0].start >= 0.8


def test_a_speaker_change_ends_a_cue_and_srt_names_each_turn() -> None:
    t = Transcript(
        (seg(0, 1, " Hello there.", speaker="Ann"), seg(1, 2, " Hi.", speaker="Ben")),
        "en",
        2.0,
        "b",
        "m",
    )
    srt = outputs.to_srt(t, {})
    assert "Ann: Hello there." in srt and "Ben: Hi." in srt
    vtt = outputs.to_vtt(t, {})
    assert "<v Ann>Hello there." in vtt and "<v Ben>Hi." in vtt


def test_a_dropped_stretch_becomes_its_mark_and_a_doubtful_one_is_tagged() -> None:
    segments = [
        seg(0, 4, " Welcome to the weekly meeting."),
        seg(4.5, 9, " T-E-M-E-M-E-M-E-M-E-M-E-M"),
        seg(10, 13, " Thanks for watching."),
    ]
    marks = [
        Mark(4.5, 9.0, "[not transcribed: German speech]", drop=True),
        Mark(10, 13, "[doubtful]"),
    ]
    made = cues.cues(segments, marks=marks)
    texts = [c.text.replace("\n", " ") for c in made]
    assert "[not transcribed: German speech]" in texts
    assert not any("T-E-M" in t for t in texts)
    assert any(t.startswith("[doubtful] Thanks for watching.") for t in texts)
    assert all(a.end <= b.start for a, b in itertools.pairwise(made))
