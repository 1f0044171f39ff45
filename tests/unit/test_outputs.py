"""Transcript files: valid srt/vtt/tsv/json, written atomically."""

from __future__ import annotations

import json
import re
from pathlib import Path

from earwig import outputs
from earwig.model import Segment, Transcript

T = Transcript(
    segments=(Segment(0.0, 2.5, " Hello there."), Segment(2.5, 3661.042, " Ünïcode, ok?")),
    language="en",
    duration=3662.0,
    backend="faster-whisper",
    model="tiny.en",
)

SRT_BLOCK = re.compile(r"^\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+\n?$")
VTT_CUE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n.+\n?$")


def test_srt_blocks_are_numbered_and_timed() -> None:
    text = outputs.to_srt(T, {})
    blocks = text.strip().split("\n\n")
    # the hour-long segment's two words are cues of their own (a cue lasts 7 s at most)
    assert len(blocks) == 3 and all(SRT_BLOCK.match(b) for b in blocks)
    late = T.replace(segments=(Segment(3655.0, 3661.042, " Ünïcode, ok?"),))
    assert "01:00:55,000 --> 01:01:01,042" in outputs.to_srt(late, {})


def test_vtt_has_header_and_cues() -> None:
    text = outputs.to_vtt(T, {})
    head, *cues = text.strip().split("\n\n")
    assert head == "WEBVTT"
    assert len(cues) == 3 and all(VTT_CUE.match(c) for c in cues)
    assert cues[0].startswith("00:00:00.000 --> 00:00:02.500")


def test_tsv_is_milliseconds() -> None:
    rows = outputs.to_tsv(T, {}).splitlines()
    assert rows[0] == "start\tend\ttext"
    assert rows[2] == "2500\t3661042\tÜnïcode, ok?"


def test_json_has_segments_and_metadata() -> None:
    doc = json.loads(outputs.to_json(T, {"source": "/x/a.wav"}))
    assert doc["source"] == "/x/a.wav" and doc["language"] == "en"
    assert doc["backend"] == "faster-whisper" and doc["model"] == "tiny.en"
    assert doc["segments"][1] == {"start": 2.5, "end": 3661.042, "text": "Ünïcode, ok?"}
    assert doc["text"] == "Hello there.\nÜnïcode, ok?"


def test_write_all_writes_each_format_and_leaves_no_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "dir"
    paths = outputs.write_all(T, out, "talk", ("txt", "srt", "json"), {})
    assert [p.name for p in paths] == ["talk.txt", "talk.srt", "talk.json"]
    assert sorted(p.name for p in out.iterdir()) == ["talk.json", "talk.srt", "talk.txt"]
    assert (out / "talk.txt").read_text() == "Hello there.\nÜnïcode, ok?\n"


def test_rewrite_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    before = target.stat().st_ino
    outputs.write_atomic(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_ino != before  # a rename, not an in-place rewrite


def test_markdown_notes_have_front_matter_a_paragraph_a_minute_and_timed_links() -> None:
    from markdown_it import MarkdownIt

    from earwig.outputs import to_md

    t = Transcript(
        (
            Segment(0.0, 5.0, " Hello [world] #1"),
            Segment(30.0, 35.0, " still the first minute"),
            Segment(754.5, 760.0, " later *on*"),
        ),
        "en",
        800.0,
        "fw",
        "base",
    )
    url = "https://example.org/a (1).mp3"
    text = to_md(t, {"title": "Ep 1", "url": url, "source": url, "date": "2026-11-01"})
    assert text.startswith('---\ntitle: "Ep 1"\nsource: "https://example.org/a (1).mp3"\n')
    tokens = MarkdownIt().parse(text)
    paragraphs = [tok.content for tok in tokens if tok.type == "inline"]
    hrefs = [c.attrs["href"] for tok in tokens for c in tok.children or () if c.type == "link_open"]
    link = url.replace(" ", "%20")  # what a Markdown reader makes of the space: one link
    assert f"{link}#t=0" in hrefs and f"{link}#t=754" in hrefs
    assert any("Hello \\[world\\] \\#1 still the first minute" in p for p in paragraphs)
    assert len([p for p in paragraphs if "#t=" in p]) == 2  # one paragraph per minute used


SPOKEN = Transcript(
    segments=(
        Segment(0.0, 1.0, "Hi.", speaker="Ann"),
        Segment(1.0, 2.0, "How are you?", speaker="Ann"),
        Segment(2.0, 3.0, "Fine <really>.", speaker="Ben"),
    ),
    language="en",
    duration=3.0,
    backend="publisher",
    model="application/json",
)


def test_speakers_reach_every_format_as_its_readers_expect() -> None:
    assert outputs.to_txt(SPOKEN, {}) == "Ann: Hi. How are you?\n\nBen: Fine <really>.\n"
    srt = outputs.to_srt(SPOKEN, {}).strip().split("\n\n")
    # a turn's short sentences share a cue; the next speaker starts a new one
    assert [b.splitlines()[2] for b in srt] == ["Ann: Hi. How are you?", "Ben: Fine <really>."]
    vtt = outputs.to_vtt(SPOKEN, {})
    assert "<v Ann>Hi." in vtt and "<v Ben>Fine &lt;really&gt;." in vtt  # escaped, not markup
    rows = outputs.to_tsv(SPOKEN, {}).splitlines()
    assert rows[0] == "start\tend\ttext\tspeaker" and rows[3] == "2000\t3000\tFine <really>.\tBen"
    doc = json.loads(outputs.to_json(SPOKEN, {}))
    assert [s["speaker"] for s in doc["segments"]] == ["Ann", "Ann", "Ben"]
    # without speakers nothing changes: no empty column, no prefixes
    assert "speaker" not in outputs.to_tsv(T, {}) and "speaker" not in outputs.to_json(T, {})


def test_markdown_gives_a_paragraph_per_speaker_turn_and_the_chapters() -> None:
    from markdown_it import MarkdownIt

    meta = {
        "title": "Ep",
        "url": "https://example.org/ep.mp3",
        "chapters": [{"start": 0.0, "title": "Intro"}, {"start": 2.0, "title": "Ben's bit"}],
    }
    text = outputs.to_md(SPOKEN, meta)
    assert 'speakers: ["Ann", "Ben"]' in text
    body = text.split("---", 2)[2]
    paragraphs = [p for p in body.split("\n\n") if "**Ann:**" in p or "**Ben:**" in p]
    assert len(paragraphs) == 2 and "Hi. How are you?" in paragraphs[0]
    links = [
        child.attrs["href"]
        for token in MarkdownIt().parse(text)
        for child in token.children or ()
        if child.type == "link_open"
    ]
    # each chapter and each turn opens with a link to its second of the recording
    assert links.count("https://example.org/ep.mp3#t=0") == 2
    assert links.count("https://example.org/ep.mp3#t=2") == 2
    assert "## Chapters" in text and "Ben's bit" in text


def test_json_times_carry_no_float_noise() -> None:
    """Issue 39, item 13: times joined across windows came out as 2.4480000000000004."""
    from earwig.model import Word

    words = (Word(0.1 + 0.2, 2.4480000000000004, " Hi", 0.9),)
    t = Transcript((Segment(0.1 + 0.2, 2.4480000000000004, " Hi", words),), "en", 3.0, "b", "m")
    doc = json.loads(outputs.to_json(t, {}))
    segment = doc["segments"][0]
    assert (segment["start"], segment["end"]) == (0.3, 2.448)
    assert (segment["words"][0]["start"], segment["words"][0]["end"]) == (0.3, 2.448)
    assert "0000000" not in outputs.to_json(t, {})
