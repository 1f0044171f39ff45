"""Podcast RSS and Atom feeds: a conditional GET with urllib, then feedparser.

Fetching ourselves (not feedparser's own fetch, which has no timeout) keeps control of the
timeout and of ETag / Last-Modified, so an unchanged feed costs one small request. Only the
enclosures that are new are ever handed to yt-dlp.
"""

from __future__ import annotations

import calendar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from earwig import __version__
from earwig.errors import TransientError
from earwig.sources import Item
from earwig.sources.errors import SourceError, classify_http

MAX_FEED_BYTES = 50 * 1024 * 1024
USER_AGENT = f"earwig/{__version__} (+podcast transcription)"
MEDIA_TYPES = ("audio/", "video/")


class NotAFeed(SourceError):
    """The URL answered, but with something that is not RSS or Atom (an HTML page, say)."""

    code = "not_a_feed"


@dataclass(frozen=True)
class FeedResult:
    status: int  # 200, or 304 when unchanged
    etag: str | None = None
    modified: str | None = None
    title: str | None = None
    items: list[Item] = field(default_factory=list)  # newest first


def fetch(url: str, etag: str | None, modified: str | None, timeout: float) -> FeedResult:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_FEED_BYTES + 1)
            new_etag = response.headers.get("ETag")
            new_modified = response.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return FeedResult(304, etag, modified)
        raise classify_http(exc.code, f"feed {url}", exc.headers.get("Retry-After")) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientError(f"feed {url}: {reason}", "earwig retries at the next check") from None
    if len(body) > MAX_FEED_BYTES:
        raise SourceError(f"feed {url} is larger than {MAX_FEED_BYTES // 2**20} MB")
    result = parse(body, url)
    return FeedResult(200, new_etag, new_modified, result.title, result.items)


def parse(body: bytes, url: str = "") -> FeedResult:
    import feedparser  # only when a feed is checked

    doc = feedparser.parse(body)
    exc = doc.get("bozo_exception")
    if not doc.get("version"):
        what = "an HTML page" if b"<html" in body[:2048].lower() else "not RSS or Atom"
        raise NotAFeed(
            f"{url or 'the feed'} is {what}, not a feed",
            "give the feed's own URL (often linked as RSS), or a page yt-dlp can list",
        )
    if exc is not None and "SAX" in type(exc).__name__:
        raise SourceError(f"feed {url} is malformed: {exc}", "the next check tries again")
    items = [item for entry in doc.entries if (item := _item(entry, url)) is not None]
    if items and all(i.published is not None for i in items):
        items.sort(key=lambda i: i.published or 0.0, reverse=True)
    return FeedResult(200, title=doc.feed.get("title"), items=items)


def _item(entry, feed_url: str) -> Item | None:
    media = None
    for link in entry.get("enclosures", []) + entry.get("links", []):
        kind = link.get("type", "")
        if link.get("href") and (link.get("rel") == "enclosure" or kind.startswith(MEDIA_TYPES)):
            media = link["href"]
            break
    video_id = entry.get("yt_videoid")
    if media is None and video_id:  # a YouTube channel's Atom feed: no enclosures
        media = entry.get("link")
    if media is None:
        return None
    identity = f"youtube {video_id}" if video_id else (entry.get("id") or media)
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    return Item(
        id=identity,
        url=urllib.parse.urljoin(feed_url, media),
        title=entry.get("title") or media.rsplit("/", 1)[-1],
        published=float(calendar.timegm(when)) if when else None,
    )
