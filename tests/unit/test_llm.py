"""The language-model stage's pure parts, in-process and fast: cues re-aligned by id (never by
position), map-reduce over windows, chapters clamped and deduplicated, the answers of a model
that breaks every format. The same parts against a real model on a real server are in
tests/integration/test_llm_stage.py."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

import pytest

from earwig import config, jobs
from earwig.config import Config
from earwig.daemon.followups import Wishes, wishes
from earwig.errors import ConfigError
from earwig.llm import prompts
from earwig.llm.lines import Line, lines_of, windows
from earwig.llm.summarize import (
    clamp_chapters,
    clean_title,
    parse_chapters,
    planned_calls,
    summarize,
)
from earwig.llm.translate import Cue, batches, realign, tag, to_srt, translate, width
from earwig.model import JobState, Segment, Transcript

CUES = [Cue(i, i * 2.0, i * 2.0 + 1.5, f"line {i}") for i in range(1, 8)]


def test_realign_is_by_id_never_by_position() -> None:
    """A model that reorders, drops, repeats, renumbers and wraps: each text lands on its
    own id, a missing one is missing (it keeps the source), an id from elsewhere is
    ignored."""
    answer = "\n".join(
        [
            "Here is the translation:",
            "[0003] drei",
            "[0001] eins",
            "(2) zwei",  # mangled brackets, number kept
            "[0001] eins noch mal",  # a repeat: the first wins
            "0005. fünf",  # numbered list style
            "  und weiter",  # wraps onto the line before
            "[0099] fremd",  # not in this batch
            "[0006]",  # empty: missing
        ]
    )
    found = realign(CUES, answer)
    assert found == {3: "drei", 1: "eins", 2: "zwei", 5: "fünf und weiter"}


def test_realign_never_takes_a_text_without_an_id() -> None:
    assert realign(CUES, "eins\nzwei\ndrei") == {}


def test_tags_and_batches() -> None:
    assert tag(CUES[:2], 4) == "[0001] line 1\n[0002] line 2"
    assert width([Cue(12345, 0, 1, "x")]) == 5
    groups = batches(CUES, size=3, budget=10_000)
    assert [len(g) for g in groups] == [3, 3, 1]
    assert [len(g) for g in batches(CUES, size=50, budget=40)] == [2, 2, 2, 1]
    empty = [Cue(1, 0, 1, ""), *CUES[:2]]
    assert [c.id for g in batches(empty, 50, 1000) for c in g] == [1, 2]  # nothing to send


def test_translate_keeps_every_cue_and_its_timing_and_counts_the_lost() -> None:
    """Whatever the model answers, the translation has the source's cues and times."""
    calls: list[str] = []

    async def ask(system: str, user: str, tokens: int) -> str:
        calls.append(user)
        ids = [int(n) for n in re.findall(r"^\[(\d+)\]", user, re.M)]
        # drops every third id, answers the rest reversed
        return "\n".join(f"[{i:04d}] übersetzt {i}" for i in reversed(ids) if i % 3)

    out = asyncio.run(
        translate(CUES, ask, source="English", target="German", budget=10_000, size=4)
    )
    assert len(calls) == 2
    assert [(c.id, c.start, c.end) for c in out.cues] == [(c.id, c.start, c.end) for c in CUES]
    assert out.cues[0].text == "übersetzt 1" and out.cues[2].text == "line 3"
    assert (out.kept, out.sent) == (2, 7) and round(out.survived, 2) == 0.71
    assert "German" in calls[0] and "[0001] line 1" in calls[0]


def test_translate_survives_a_model_that_answers_garbage() -> None:
    async def ask(system: str, user: str, tokens: int) -> str:
        return "I am sorry, I cannot help with that. 1 2 3"

    out = asyncio.run(translate(CUES, ask, source="English", target="German", budget=10_000))
    assert [c.text for c in out.cues] == [c.text for c in CUES]
    assert out.kept == len(CUES) and out.survived == 0.0


def test_the_source_subtitles_are_read_back_cue_for_cue_and_written_the_same_way() -> None:
    """The translation keeps the cues of the job's own .srt and .vtt (cut by the cue builder
    from word times the database does not keep): read back, they give the same ids, times,
    names and count; written again with new text, the times are byte for byte the same."""
    from earwig import outputs
    from earwig.llm.translate import parse_srt, parse_vtt, to_vtt

    segments = (
        Segment(0.0, 3.2, "Welcome back to the show, everyone.", speaker="Ann"),
        Segment(
            3.2,
            9.9,
            "Today we talk about rivers, bridges and the people who build them.",
            speaker="Ann",
        ),
        Segment(10.5, 14.0, "Thanks for having me <here> & now.", speaker="Ben"),
    )
    t = Transcript(segments, "en", 15.0, "b", "m")
    srt, vtt = outputs.to_srt(t, {}), outputs.to_vtt(t, {})
    built = outputs.subtitle_cues(t)
    read = parse_srt(srt, {"Ann", "Ben"})
    assert [(c.id, c.start, c.end) for c in read] == [
        (i, c.start, c.end) for i, c in enumerate(built, 1)
    ]
    assert [c.label for c in read].count("Ann: ") == 1 and read[-1].label == "Ben: "
    assert all(not c.text.startswith(("Ann:", "Ben:")) for c in read)
    assert [(c.start, c.end, c.speaker) for c in parse_vtt(vtt)] == [
        (c.start, c.end, c.speaker) for c in built
    ]
    assert parse_vtt(vtt)[-1].text == "Thanks for having me <here> & now."
    again = [Cue(c.id, c.start, c.end, f"übersetzt {c.id}", c.speaker, c.label) for c in read]
    times = re.compile(r"^\d.*-->.*$", re.M)
    assert times.findall(to_srt(again)) == times.findall(srt)
    assert "Ann: übersetzt 1" in to_srt(again) and "Ben: übersetzt" in to_srt(again)
    assert times.findall(to_vtt(again)) == times.findall(vtt) and "<v Ben>" in to_vtt(again)


def test_lines_carry_times_and_speakers_and_windows_fit() -> None:
    segments = [
        Segment(i * 10.0, i * 10.0 + 9, f"words {i} " * 5, speaker="Alice") for i in range(100)
    ]
    lines = lines_of(segments)
    assert lines[7].text.startswith("[01:10] Alice: words 7")
    parts = windows(lines, 500)
    assert len(parts) > 1 and all(sum(len(x.text) + 1 for x in w) <= 500 for w in parts)
    assert [x for w in parts for x in w] == lines  # nothing lost, nothing reordered


def _lines(n: int, step: float = 30.0) -> list[Line]:
    return lines_of(
        Segment(i * step, i * step + step - 1, f"sentence number {i}") for i in range(n)
    )


def test_chapters_are_clamped_deduplicated_and_snapped() -> None:
    lines = _lines(20)  # 0 .. 599 s
    found = [
        (0.0, "Intro"),
        (95.0, "Budget"),  # moved back to the line starting at 90
        (100.0, "Budget again"),  # too close to the one before
        (300.0, "budget"),  # the same title
        (420.0, "Hiring"),
        (5000.0, "After the end"),  # outside the transcript
    ]
    chapters = clamp_chapters(found, lines, 600.0)
    assert [(c.start, c.title) for c in chapters] == [
        (0.0, "Intro"),
        (90.0, "Budget"),
        (420.0, "Hiring"),
    ]
    assert [c.end for c in chapters] == [90.0, 420.0, 600.0]
    assert clamp_chapters([], lines, 600.0) == ()


def test_chapter_lines_as_small_models_write_them() -> None:
    answer = (
        "Chapters:\n1. [00:00] Intro\n- 01:30 \u2013 The budget\n**[1:02:03]** Late\nno time here"
    )
    assert parse_chapters(answer) == [(0.0, "Intro"), (90.0, "The budget"), (3723.0, "Late")]
    assert clean_title('Title: "The budget meeting"\nmore') == "The budget meeting"
    assert clean_title("word " * 30).endswith("…")


def test_one_window_takes_three_calls_that_share_the_transcript_prefix() -> None:
    seen: list[str] = []

    async def ask(system: str, user: str, tokens: int) -> str:
        seen.append(user)
        if user.endswith(prompts.TITLE):
            return "A title"
        if user.endswith(prompts.CHAPTERS):
            return "[00:00] Start\n[05:00] Later"
        return "It is about numbers."

    progress: list[tuple[int, int]] = []
    lines = _lines(20)
    out = asyncio.run(
        summarize(lines, 600.0, ask, budget=10_000, progress=lambda d, t: progress.append((d, t)))
    )
    assert (out.summary, out.title) == ("It is about numbers.", "A title")
    assert [(c.start, c.title) for c in out.chapters] == [(0.0, "Start"), (300.0, "Later")]
    prefix = prompts.MATERIAL.format(text="\n".join(x.text for x in lines))
    assert len(seen) == 3 and all(u.startswith(prefix) for u in seen)
    assert progress == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("echoes", [1, 2])
def test_a_summary_that_is_only_the_transcript_back_is_asked_again_then_refused(
    echoes: int,
) -> None:
    """Small models sometimes answer the transcript's own lines and nothing else: cleaned,
    that is no summary. It is asked once more; twice empty is an error (the stage's warning),
    never a follow-up done with an empty summary."""
    from earwig.llm.client import LlmError

    lines = _lines(4)
    summaries = 0

    async def ask(system: str, user: str, tokens: int) -> str:
        nonlocal summaries
        if user.endswith(prompts.TITLE):
            return "A title"
        if user.endswith(prompts.CHAPTERS):
            return "[00:00] Start"
        summaries += 1
        return "\n".join(x.text for x in lines) if summaries <= echoes else "About numbers."

    if echoes == 1:
        out = asyncio.run(summarize(lines, 60.0, ask, budget=10_000))
        assert out.summary == "About numbers." and summaries == 2
    else:
        with pytest.raises(LlmError, match="no summary"):
            asyncio.run(summarize(lines, 60.0, ask, budget=10_000))
        assert summaries == 2


def test_map_reduce_over_windows_and_a_prompt_of_ones_own() -> None:
    """A transcript over the budget: a summary and chapters per window, then the window
    summaries (with their time spans) reduced into one; the user's prompt is the last
    step's instruction."""
    seen: list[str] = []

    async def ask(system: str, user: str, tokens: int) -> str:
        seen.append(user)
        if user.endswith(prompts.CHAPTERS):
            first = re.search(r"^\[([\d:]+)\]", user.split("Transcript:\n")[1], re.M)
            assert first is not None
            return f"[{first.group(1)}] Part at {first.group(1)}"
        if user.endswith(prompts.TITLE):
            return "Long talk"
        if user.endswith("MINUTES"):
            return "Decisions: none."
        return "a part"

    lines = _lines(200)  # 100 minutes, ~6,000 characters
    out = asyncio.run(summarize(lines, 6000.0, ask, budget=1500, prompt="MINUTES"))
    parts = len(windows(lines, 1500))
    assert parts > 2
    assert len(seen) == planned_calls(parts, True)
    assert out.summary == "Decisions: none." and out.title == "Long talk"
    reduce_call = next(u for u in seen if u.endswith("MINUTES"))
    assert reduce_call.startswith("Summaries of the consecutive parts") and "a part" in reduce_call
    assert re.search(r"\[00:00-\d\d:\d\d\] a part", reduce_call)
    assert len(out.chapters) == parts  # one a window, each where its window starts
    assert all(0 <= c.start < c.end <= 6000.0 for c in out.chapters)


def test_a_reduce_that_still_does_not_fit_is_cut_again() -> None:
    async def ask(system: str, user: str, tokens: int) -> str:
        return "x" * 300  # every note is long: the notes need more than one reduce round

    lines = _lines(400)
    out = asyncio.run(summarize(lines, 12000.0, ask, budget=1200, chapters=False))
    assert out.summary.startswith("xxx") and out.chapters == ()


def _config(text: str) -> Config:
    return config.parse(tomllib.loads(text), None)


def test_llm_config_is_off_unless_set_and_each_source_may_say_otherwise(tmp_path: Path) -> None:
    assert not _config("").llm.enabled
    base = '[llm]\nbase_url = "http://127.0.0.1:11434/v1"\nmodel = "llama3.2"\n'
    folder, other = tmp_path / "meetings", tmp_path / "films"
    cfg = _config(
        base
        + 'translate_to = ["de", "de"]\n'
        + f'[[watch]]\npath = "{folder}"\nprompt = "Minutes."\nchapters = false\n'
        + f'[[watch]]\npath = "{other}"\nsummary = false\ntranslate_to = ["fr", "de"]\n'
        + '[[subscription]]\nname = "pod"\nurl = "https://example.org/f.xml"\nsummary = false\n'
    )
    assert cfg.llm.enabled and cfg.llm.translate_to == ("de",)
    meeting = jobs.new("watch", "a.wav", 0.0, path=str(folder / "a.wav"))
    film = jobs.new("watch", "b.mkv", 0.0, path=str(other / "deep" / "b.mkv"))
    episode = jobs.new(
        "subscription", "ep", 0.0, url="https://example.org/1.mp3", subscription="pod"
    )
    added = jobs.new("cli", "c.wav", 0.0, path="/elsewhere/c.wav")
    api = jobs.new("api", "d.wav", 0.0, path="/cache/d.wav")
    assert wishes(meeting, cfg) == Wishes(True, False, ("de",), "Minutes.")
    assert wishes(film, cfg) == Wishes(False, True, ("fr", "de"), None)
    assert wishes(episode, cfg) == Wishes(False, True, ("de",), None)
    assert wishes(added, cfg) == Wishes(True, True, ("de",), None)
    assert wishes(api, cfg) == Wishes(False, False, (), None)
    assert wishes(meeting, _config("")) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[llm]\nbase_url = "http://x:1/v1"\n', "[llm] has no model"),
        ('[llm]\nmodel = "m"\n', "[llm] has no base_url"),
        ('[[watch]]\npath = "/w"\nsummary = true\n', "asks for a summary or a translation"),
        ('[llm]\nbase_url = "http://x:1/v1"\nmodel = "m"\ntranslate_to = ["xx"]\n', "translate_to"),
        ('[llm]\nbase_url = "http://x:1/v1"\nmodel = "m"\ntranslate_to = ["German"]\n', '"de"'),
        ('[llm]\nbase_url = "http://x:1/v1"\nmodel = "m"\ntemperature = 3\n', "temperature"),
        ('[llm]\nbase_url = "file:///etc"\nmodel = "m"\n', "base_url"),
    ],
)
def test_llm_config_mistakes_are_named(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(text)
    assert says in str(caught.value)


def test_followups_in_the_store_and_summaries_in_search(tmp_path: Path) -> None:
    """A summary is searchable under its job (and goes with it); a follow-up asked again
    replaces the one still waiting; an HTTP request's job goes first; a stored answer is
    found by its key; a stop's running follow-up is queued again at start."""
    from earwig import search
    from earwig.model import Transcript
    from earwig.store import Store

    store = Store(tmp_path / "e.db")
    first = store.add_job(jobs.new("watch", "budget.wav", 1.0, path="/m/budget.wav"))
    api = store.add_job(jobs.new("api", "a.wav", 1.0, path="/c/a.wav", priority=1_000_000))
    assert first.id is not None and api.id is not None
    t = Transcript((Segment(0, 2, "we spoke of rivers"),), "en", 2.0, "b", "m")
    store.save_transcript(first.id, t)
    store.index_summary(first.id, "The meeting decided the zeppelin budget.", "Zeppelins")
    hits = search.search(store, "zeppelin")
    assert [(h["job_id"], h.get("summary")) for h in hits] == [(first.id, True)]
    assert "zeppelin" in hits[0]["snippet"].lower() and hits[0]["clock"] == "00:00"
    assert [h.get("summary") for h in search.search(store, "rivers")] == [None]

    store.add_followup(first.id, "summary")
    again = store.add_followup(first.id, "summary", force=True)
    assert [(f["id"], f["force"]) for f in store.followups(first.id)] == [(again, True)]
    urgent = store.add_followup(api.id, "translation", "de")
    assert store.next_followup(2e9)["id"] == urgent  # type: ignore[index]
    store.update_followup(urgent, state="running")
    assert store.requeue_running_followups() == 1
    store.update_followup(urgent, state="done", result={"cues": [], "kept": 0}, key="k1")
    assert store.stored_answer("k1") == {"cues": [], "kept": 0}
    assert store.job_translation(api.id, "de") == {"cues": [], "kept": 0}
    store.update_followup(again, state="queued", not_before=5e9)
    assert store.next_followup(2e9) is None and store.followup_wakeup() == 5e9

    store.save_job(store.get_job(first.id).replace(state=JobState.DONE))
    store.delete_job(first.id)
    assert search.search(store, "zeppelin") == [] and store.followups(first.id) == []
    store.close()


def test_what_small_models_wrap_a_summary_in_is_taken_off() -> None:
    """SmolLM2-135M echoes the transcript, then labels its summary; it copies the prompt's
    example chapter."""
    from earwig.llm.summarize import clean_text

    echoed = (
        "Transcript:\n[01:26] Welcome to the weekly meeting.\n[01:30] Today: the budget.\n\n"
        "Summary:\nThe budget is discussed."
    )
    assert clean_text(echoed) == "The budget is discussed."
    assert clean_text("**Summary:** It is short.") == "It is short."
    assert clean_text('"A plain answer.\nOn two lines."') == "A plain answer.\nOn two lines."
    copied = parse_chapters(f"[00:00] {prompts.EXAMPLE_TITLES[0]}\n[00:30] Real")
    assert [c.title for c in clamp_chapters(copied, _lines(4), 120.0)] == ["Real"]
