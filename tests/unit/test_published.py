"""Publishers' transcripts and chapters (Podcasting 2.0): the feed's links, the four readers,
and the fetch's fallbacks, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from earwig.sources import feeds, podcast, published
from httpserver import LocalServer, rss

VTT = """WEBVTT

NOTE a comment block

1
00:00:00.000 --> 00:00:02.500
<v Alice>Hello &amp; welcome to the show.

00:02.500 --> 00:05.000 align:start
<v.loud Bob>Thanks, <i>Alice</i>.
"""

SRT = """1
00:00:00,000 --> 00:00:02,000
First line
of the cue.

2
00:00:02,000 --> 00:00:04,250
<i>Second</i> cue.
"""

JSON = {
    "version": "1.0.0",
    "segments": [
        {"speaker": "Alice", "startTime": 0.0, "endTime": 0.4, "body": "One"},
        {"speaker": "Alice", "startTime": 0.4, "endTime": 0.8, "body": "word"},
        {"speaker": "Alice", "startTime": 0.8, "endTime": 1.2, "body": "each."},
        {"speaker": "Bob", "startTime": 1.2, "endTime": 1.6, "body": "Then"},
        {"speaker": "Bob", "startTime": 1.6, "endTime": 2.0, "body": "Bob."},
    ],
}

HTML = """<html><body>
<cite>Alice:</cite> <time>0:00</time> <p>Good morning.</p>
<cite>Bob:</cite> <time>1:05</time> <p>Good <b>evening</b>.</p>
<script>var x = "<p>not text</p>";</script>
</body></html>"""


def test_vtt_reads_cues_voices_and_entities() -> None:
    segments, warnings = published.parse_vtt(VTT)
    assert [(s.start, s.end, s.speaker) for s in segments] == [
        (0.0, 2.5, "Alice"),
        (2.5, 5.0, "Bob"),
    ]
    assert segments[0].text == "Hello & welcome to the show."
    assert segments[1].text == "Thanks, Alice."
    assert not warnings
    with pytest.raises(ValueError, match="WEBVTT"):
        published.parse_vtt(SRT)


def test_srt_reads_multi_line_cues() -> None:
    segments, _ = published.parse_srt(SRT)
    assert [(s.start, s.end, s.text) for s in segments] == [
        (0.0, 2.0, "First line of the cue."),
        (2.0, 4.25, "Second cue."),
    ]
    with pytest.raises(ValueError):
        published.parse_srt("no cues here at all")


def test_json_word_pieces_are_joined_into_lines_per_speaker() -> None:
    segments, _ = published.parse_json(json.dumps(JSON))
    assert [(s.text, s.speaker, s.start, s.end) for s in segments] == [
        ("One word each.", "Alice", 0.0, 1.2),
        ("Then Bob.", "Bob", 1.2, 2.0),
    ]


def test_html_paragraphs_take_the_cite_and_time_before_them() -> None:
    segments, warnings = published.parse_html(HTML)
    assert [(s.speaker, s.start, s.end, s.text) for s in segments] == [
        ("Alice", 0.0, 65.0, "Good morning."),
        ("Bob", 65.0, 65.0, "Good evening."),
    ]
    assert not warnings
    untimed, warnings = published.parse_html("<p>Just text.</p><p>More.</p>")
    assert [s.text for s in untimed] == ["Just text.", "More."]
    assert warnings and "no times" in warnings[0]


def test_every_transcript_of_an_item_is_found_though_feedparser_keeps_one() -> None:
    extra = (
        '<podcast:transcript url="/t/1.vtt" type="text/vtt" language="en-US"/>'
        '<podcast:transcript url="https://cdn.example.org/1.json" type="application/json"/>'
        '<podcast:chapters url="/c/1.json" type="application/json+chapters"/>'
    )
    item = {"title": "One", "url": "http://h.example/media/1.mp3", "date": 1e9, "extra": extra}
    body = rss([item, {"title": "Two", "url": "http://h.example/media/2.mp3", "date": 2e9}])
    result = feeds.parse(body, "http://h.example/feed.xml")
    one = next(i for i in result.items if i.title == "One")
    two = next(i for i in result.items if i.title == "Two")
    assert [t["url"] for t in one.transcripts] == [
        "http://h.example/t/1.vtt",  # relative to the feed
        "https://cdn.example.org/1.json",
    ]
    assert one.transcripts[0]["language"] == "en-US"
    assert one.chapters == "http://h.example/c/1.json"
    assert two.transcripts == () and two.chapters is None
    # best first: JSON (speakers, times) before VTT, whatever the feed's order
    assert [kind for kind, _ in published.ordered(list(one.transcripts))] == [
        published.JSON,
        published.VTT,
    ]


def test_links_of_a_broken_feed_are_none_and_nothing_breaks() -> None:
    assert podcast.links(b"<rss xmlns:podcast='https://podcastindex.org/namespace/1.0'><x") == {}
    assert podcast.links(b"<rss><channel></channel></rss>") == {}


def test_fetch_falls_back_from_a_404_and_a_broken_file_to_one_that_works() -> None:
    with LocalServer() as server:
        server.add("/bad.json", body=b"{not json", content_type="application/json")
        server.add("/ok.srt", body=SRT.encode(), content_type="application/x-subrip")
        links = [
            {"url": server.url("/gone.vtt"), "type": "text/vtt"},
            {"url": server.url("/bad.json"), "type": "application/json"},
            {"url": server.url("/ok.srt"), "type": "application/x-subrip", "language": "de"},
            {"url": server.url("/x.pdf"), "type": "application/pdf"},  # not read: not fetched
        ]
        said: list[str] = []
        got = published.fetch_transcript(links, timeout=5, say=said.append)
        assert got is not None
        transcript, kind = got
        assert kind == published.SRT and transcript.language == "de"
        assert transcript.backend == "publisher" and transcript.duration == 4.25
        assert len(said) == 2 and "404" in said[1] and "not readable" in said[0], said
        assert server.count("/x.pdf") == 0
        assert published.fetch_transcript(links[:2], timeout=5) is None


def test_chapters_are_read_in_order_and_a_bad_file_is_an_error() -> None:
    with LocalServer() as server:
        doc = {
            "version": "1.2.0",
            "chapters": [
                {"startTime": 60, "title": "News", "url": "https://example.org"},
                {"startTime": 0, "title": "Intro"},
                {"title": "no start: left out"},
            ],
        }
        url = server.add("/c.json", body=json.dumps(doc).encode())
        assert published.fetch_chapters(url, timeout=5) == [
            {"start": 0.0, "title": "Intro"},
            {"start": 60.0, "title": "News", "url": "https://example.org"},
        ]
        bad = server.add("/bad.json", body=b"[1, 2]")
        with pytest.raises(published.SourceError, match="not a readable chapters file"):
            published.fetch_chapters(bad, timeout=5)


def test_a_publishers_speaker_name_stays_on_one_line() -> None:
    doc = {"segments": [{"speaker": "Ann\n\n1\n00:00:00,000 --> 00:09:00,000", "body": "Hi."}]}
    (segment,) = published.parse_json(json.dumps(doc))[0]
    assert segment.speaker == "Ann 1 00:00:00,000 --> 00:09:00,000"  # no forged cue
    assert (
        published.parse_json(json.dumps({"segments": [{"speaker": "x" * 500, "body": "Hi."}]}))[0][
            0
        ].speaker
        == "x" * 80
    )
