"""Podcasting 2.0 links in a feed: `<podcast:transcript>` and `<podcast:chapters>`.

Read from the XML itself, because feedparser keeps only the last `<podcast:transcript>` of an
item, and publishers often offer several (a VTT for players, a JSON with speakers, an HTML
page). Keyed by each item's guid and by its enclosure URL, which is how feeds.parse finds an
entry's links again. A feed that is not well-formed XML simply has no links here: its items
are transcribed as before.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from earwig.urls import is_url

NAMESPACE_MARK = b"podcastindex.org/namespace"  # https://podcastindex.org/namespace/1.0


@dataclass(frozen=True)
class Links:
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    chapters: str | None = None

    def resolved_transcripts(self, feed_url: str) -> tuple[dict[str, Any], ...]:
        out = []
        for t in self.transcripts:
            url = urllib.parse.urljoin(feed_url, t["url"])
            if is_url(url):
                out.append({**t, "url": url})
        return tuple(out)

    def resolved_chapters(self, feed_url: str) -> str | None:
        if not self.chapters:
            return None
        url = urllib.parse.urljoin(feed_url, self.chapters)
        return url if is_url(url) else None


def links(body: bytes) -> dict[str, Links]:
    """guid -> Links and enclosure URL -> Links, for the items that carry any."""
    if NAMESPACE_MARK not in body:
        return {}
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    found: dict[str, Links] = {}
    for item in root.iter():
        if _local(item.tag) not in ("item", "entry"):
            continue
        transcripts: list[dict[str, Any]] = []
        chapters: str | None = None
        keys = []
        for child in item:
            name, podcast_ns = _local(child.tag), "podcastindex" in child.tag
            if name == "guid" and child.text:
                keys.append(child.text.strip())
            elif name == "enclosure" and child.get("url"):
                keys.append(child.get("url", "").strip())
            elif podcast_ns and name == "transcript" and child.get("url"):
                transcripts.append(
                    {
                        "url": child.get("url", "").strip(),
                        "type": (child.get("type") or "").strip().lower(),
                        "language": child.get("language"),
                        "rel": child.get("rel"),
                    }
                )
            elif podcast_ns and name == "chapters" and child.get("url"):
                chapters = child.get("url", "").strip()
        if transcripts or chapters:
            for key in keys:
                found[key] = Links(transcripts, chapters)
    return found


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
