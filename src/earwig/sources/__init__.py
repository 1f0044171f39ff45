"""Where media comes from besides local files: feeds (feedparser) and yt-dlp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    """One downloadable thing a subscription lists."""

    id: str  # identity in the download archive (guid; for yt-dlp "youtube VIDEOID")
    url: str  # what to download
    title: str
    published: float | None = None  # Unix time, when known
    # Podcasting 2.0: the publisher's transcripts ({url, type, language, rel}) and chapters
    transcripts: tuple[dict[str, Any], ...] = ()
    chapters: str | None = None

    def archive_row(self) -> dict:
        return {
            "item_id": self.id,
            "url": self.url,
            "title": self.title,
            "published": self.published,
        }
