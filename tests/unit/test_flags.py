"""Warnings merged per kind with all their ranges, and the marks a reader of the text formats
sees where something is missing or doubtful (earwig/flags.py)."""

from __future__ import annotations

import json

from earwig import flags, outputs
from earwig.jobs import Action, advance
from earwig.model import Flag, Job, JobState, Segment, Transcript


def foreign(start: float, end: float) -> Flag:
    note = "not transcribed: German speech; the model is English-only"
    return Flag("foreign", start, end, note, drop=True, detail="German, 97% sure")


def test_ten_stretches_of_one_kind_are_one_warning_naming_the_job() -> None:
    found = [foreign(30 + 70 * i, 59 + 70 * i) for i in range(10)]
    (warning,) = flags.warnings(found, "bundled", job_id=12)
    assert warning.startswith("not English: 00:30-00:59, 01:40-02:09, 02:50-03:19 and 7 more")
    assert "it sounds like German, 97% sure" in warning
    assert "`earwig retry 12 --model base`" in warning and "ID" not in warning
    assert flags.warnings(found[:2], "bundled")[0].startswith(
        "not English: 00:30-00:59 and 01:40-02:09"
    )


def test_kinds_stay_apart_and_neighbours_join() -> None:
    found = [
        Flag("loop", 10, 20, "doubtful", detail="a 3-word phrase 40 times"),
        Flag("loop", 20.5, 25, "doubtful"),
        Flag("overruled:de", 40, 60, "", detail="en"),
    ]
    loop, overruled = flags.warnings(found, "base")
    assert "00:10-00:25" in loop and "a 3-word phrase 40 times" in loop
    assert overruled.startswith("clearly German, not English as the language setting says")


T = Transcript(
    segments=(
        Segment(0.0, 4.0, " Welcome to the meeting."),
        Segment(31.0, 58.0, " Tim, I'm a kid to me, Brent."),
        Segment(60.0, 63.0, " Please send your questions."),
    ),
    language="en",
    duration=64.0,
    backend="faster-whisper",
    model="tiny.en",
    flags=(foreign(30, 59),),
)


def test_text_formats_mark_what_is_missing_where_it_is() -> None:
    txt = outputs.to_txt(T, {})
    assert txt.splitlines() == [
        "Welcome to the meeting.",
        "[00:30-00:59: not transcribed: German speech; the model is English-only]",
        "Please send your questions.",
    ]
    md = outputs.to_md(T, {"title": "x"})
    assert "not transcribed: German speech" in md and "Brent" not in md
    srt = outputs.to_srt(T, {})
    assert "[not transcribed: German speech; the model is English-only]" in srt.replace("\n", " ")
    assert "Brent" not in srt and "Welcome to the meeting." in srt
    doc = json.loads(outputs.to_json(T, {}))  # the .json keeps what the model wrote
    assert "Brent" in doc["segments"][1]["text"]
    assert doc["flags"][0]["kind"] == "foreign" and doc["flags"][0]["dropped"]


def test_a_rerun_starts_without_the_last_runs_warnings() -> None:
    job = Job(1, "cli", "a.wav", state=JobState.DONE, warnings=("not English: 00:30-00:59",))
    assert advance(job, Action.RETRY, 1.0).warnings == ()
