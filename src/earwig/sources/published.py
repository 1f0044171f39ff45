"""A publisher's own transcript and chapters (Podcasting 2.0), as earwig's segments.

A feed item may link transcripts in four types: WebVTT, SubRip, the namespace's JSON (with
speakers) and HTML. They are tried best first (JSON and VTT carry times and speakers; HTML
often has neither) and the first that reads into timed text wins; when none does, the caller
downloads the media and transcribes it, so a broken or missing transcript costs one request.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from earwig.errors import EarwigError
from earwig.model import Segment, Transcript
from earwig.sources import http
from earwig.sources.errors import SourceError

MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
MAX_CHAPTERS = 2000
BACKEND = "publisher"

VTT, SRT, JSON, HTML = "text/vtt", "application/x-subrip", "application/json", "text/html"
_TYPES = {  # what feeds write in type="..." -> the kind earwig reads
    "text/vtt": VTT,
    "application/x-subrip": SRT,
    "application/srt": SRT,
    "text/srt": SRT,
    "application/x-srt": SRT,
    "application/json": JSON,
    "text/json": JSON,
    "text/html": HTML,
}
_BY_EXTENSION = {".vtt": VTT, ".srt": SRT, ".json": JSON, ".html": HTML, ".htm": HTML}
PREFERENCE = (JSON, VTT, SRT, HTML)


def kind_of(link: dict[str, Any]) -> str | None:
    """The transcript's kind from its type attribute, else from its URL's extension."""
    declared = _TYPES.get(str(link.get("type") or "").split(";")[0].strip().lower())
    if declared:
        return declared
    path = str(link.get("url") or "").split("?")[0].lower()
    return next((k for ext, k in _BY_EXTENSION.items() if path.endswith(ext)), None)


def ordered(links: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The links earwig can read, best first."""
    known = [(kind, link) for link in links if (kind := kind_of(link))]
    return sorted(known, key=lambda pair: PREFERENCE.index(pair[0]))


def fetch_transcript(
    links: list[dict[str, Any]], timeout: float, say: Callable[[str], None] = lambda m: None
) -> tuple[Transcript, str] | None:
    """The first of `links` that reads into text, as (transcript, kind); None when none does.
    Each failure is said (a 404, an empty or unreadable document) and the next is tried."""
    tried = ordered(links)
    if not tried:
        say("none of its transcript types is one earwig reads (vtt, srt, json, html)")
    for kind, link in tried:
        try:
            got = http.get(
                link["url"],
                what=f"transcript {link['url']}",
                timeout=timeout,
                limit=MAX_TRANSCRIPT_BYTES,
            )
            text = got.body.decode("utf-8-sig", errors="replace")
            segments, warnings = PARSERS[kind](text)
        except EarwigError as exc:
            say(exc.message)
            continue
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            say(f"transcript {link['url']} is not readable {kind}: {exc}")
            continue
        segments = [s for s in segments if s.text.strip()]
        if not segments:
            say(f"transcript {link['url']} holds no text")
            continue
        language = _language(link.get("language"))
        transcript = Transcript(
            segments=tuple(segments),
            language=language,
            duration=max(s.end for s in segments),
            backend=BACKEND,
            model=kind,
            warnings=tuple(warnings),
        )
        return transcript, kind
    return None


def fetch_chapters(url: str, timeout: float) -> list[dict[str, Any]]:
    """The JSON chapters file (Podcasting 2.0): start times, titles, links."""
    got = http.get(url, what=f"chapters {url}", timeout=timeout, limit=MAX_TRANSCRIPT_BYTES)
    try:
        doc = json.loads(got.body)
        items = doc["chapters"] if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ValueError("no list of chapters")
        chapters = []
        for c in items[:MAX_CHAPTERS]:
            if not isinstance(c, dict) or "startTime" not in c:
                continue
            chapter: dict[str, Any] = {"start": float(c["startTime"])}
            if c.get("endTime") is not None:
                chapter["end"] = float(c["endTime"])
            chapter["title"] = str(c.get("title") or "")
            if isinstance(c.get("url"), str):
                chapter["url"] = c["url"]
            chapters.append(chapter)
    except (ValueError, TypeError, KeyError) as exc:
        raise SourceError(f"chapters {url} are not a readable chapters file: {exc}") from None
    return sorted(chapters, key=lambda c: c["start"])


# ------------------------------------------------------------------ the four readers

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>")
_VOICE = re.compile(r"<v(?:\.[^ >]*)?\s+([^>]+)>")


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def _cues(text: str) -> list[Segment]:
    """WebVTT and SubRip cues: a time line, then text lines up to a blank line."""
    segments: list[Segment] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        match = _CUE.match(lines[i])
        i += 1
        if not match:
            continue
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i])
            i += 1
        raw = " ".join(body)
        voice = _VOICE.search(raw)
        words = html.unescape(_TAG.sub("", raw)).split()
        if words:
            speaker = _name(html.unescape(voice.group(1))) if voice else None
            segments.append(Segment(start, max(end, start), " ".join(words), speaker=speaker))
    if not segments:
        raise ValueError("no cues")
    return segments


def parse_vtt(text: str) -> tuple[list[Segment], list[str]]:
    if not text.lstrip().startswith("WEBVTT"):
        raise ValueError("it does not start with WEBVTT")
    return _merge(_cues(text)), []


def parse_srt(text: str) -> tuple[list[Segment], list[str]]:
    return _merge(_cues(text)), []


def parse_json(text: str) -> tuple[list[Segment], list[str]]:
    doc = json.loads(text)
    items = doc.get("segments") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ValueError("no list of segments")
    segments = []
    for item in items:
        if not isinstance(item, dict) or not str(item.get("body") or "").strip():
            continue
        start = float(item.get("startTime", 0))
        end = float(item.get("endTime", start))
        speaker = item.get("speaker")
        segments.append(
            Segment(
                start,
                max(start, end),
                " ".join(str(item["body"]).split()),
                speaker=_name(speaker),
            )
        )
    return _merge(segments), []


class _HtmlTranscript(HTMLParser):
    """The namespace's HTML: `<cite>Speaker:</cite> <time>0:00</time> <p>text</p>` blocks; any
    other page gives its paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str | None, float | None, str]] = []
        self.speaker: str | None = None
        self.time: float | None = None
        self._in: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("cite", "time", "p", "script", "style"):
            self._close()
            self._in, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._close()

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text.append(data)

    def _close(self) -> None:
        text = " ".join("".join(self._text).split())
        if self._in == "cite":
            self.speaker = _name(text.rstrip(":"))
        elif self._in == "time":
            self.time = _clock_seconds(text)
        elif self._in == "p" and text:
            self.blocks.append((self.speaker, self.time, text))
        self._in, self._text = None, []


def _clock_seconds(text: str) -> float | None:
    parts = text.strip().split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    seconds = 0.0
    for n in numbers:
        seconds = seconds * 60 + n
    return seconds


def parse_html(text: str) -> tuple[list[Segment], list[str]]:
    reader = _HtmlTranscript()
    reader.feed(text)
    reader.close()
    blocks = reader.blocks
    timed = any(t is not None for _, t, _ in blocks)
    segments = []
    for i, (speaker, start, body) in enumerate(blocks):
        begin = start or 0.0
        following = next((t for _, t, _ in blocks[i + 1 :] if t is not None), None)
        end = following if following is not None and following >= begin else begin
        segments.append(Segment(begin, end, body, speaker=speaker))
    warnings = []
    if not timed:
        warnings.append(
            "the publisher's transcript has no times: subtitles from it are not useful; "
            'set transcripts = "always-transcribe" on the subscription for timed text'
        )
    return segments, warnings


PARSERS: dict[str, Callable[[str], tuple[list[Segment], list[str]]]] = {
    VTT: parse_vtt,
    SRT: parse_srt,
    JSON: parse_json,
    HTML: parse_html,
}

SENTENCE_END = (".", "?", "!", "…", "\u3002", "\uff1f", "\uff01")  # and CJK full stops
MERGE_WITHIN = 15.0  # seconds: the longest line merged from word-sized pieces


def _merge(segments: list[Segment]) -> list[Segment]:
    """Word-by-word transcripts (some hosts write a segment a word) read as lines: runs of
    one speaker are joined up to a sentence's end or MERGE_WITHIN seconds. Line-sized
    segments are kept as the publisher cut them."""
    if not segments:
        return segments
    words = sorted(len(s.text.split()) for s in segments)
    if words[len(words) // 2] > 2:
        return segments
    out: list[Segment] = []
    current: Segment | None = None
    for s in segments:
        if (
            current is not None
            and s.speaker == current.speaker
            and s.end - current.start <= MERGE_WITHIN
            and not current.text.endswith(SENTENCE_END)
        ):
            current = dataclasses.replace(
                current, end=max(current.end, s.end), text=f"{current.text} {s.text}"
            )
            continue
        if current is not None:
            out.append(current)
        current = s
    assert current is not None
    out.append(current)
    return out


def _name(value: Any) -> str | None:
    """A speaker's name from the publisher, on one line and of a sane length."""
    if value is None:
        return None
    name = " ".join(str(value).split())[:80]
    return name or None


def _language(value: Any) -> str | None:
    """ "en-US" -> "en": earwig keeps Whisper's codes."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().split("-")[0].split("_")[0].lower() or None
