"""Podcast RSS and Atom feeds: a conditional GET with urllib, then feedparser.

Fetching ourselves (not feedparser's own fetch, which has no timeout) keeps control of the
timeout and of ETag / Last-Modified, so an unchanged feed costs one small request. Only the
enclosures that are new are ever handed to yt-dlp.

Hostile or broken servers cost little (sources/http.py: a deadline for the whole body, gzip
inflated only up to MAX_FEED_BYTES), a feed with a stray `&` is read for the items feedparser
recovers, and one unusable enclosure skips that item, not the feed. Podcasting 2.0 links
(publishers' transcripts, chapters) are read from the XML itself (sources/podcast.py):
feedparser keeps only the last `<podcast:transcript>` of an item.
"""

from __future__ import annotations

import calendar
import urllib.parse
from dataclasses import dataclass, field

from earwig.sources import Item, http, podcast
from earwig.sources.errors import SourceError
from earwig.urls import is_url

MAX_FEED_BYTES = 50 * 1024 * 1024
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
    problems: list[str] = field(default_factory=list)  # read anyway; worth a log line


def fetch(url: str, etag: str | None, modified: str | None, timeout: float) -> FeedResult:
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    got = http.get(
        url,
        what=f"feed {url}",
        timeout=timeout,
        limit=MAX_FEED_BYTES,
        headers=headers,
        later="earwig retries at the next check",
    )
    if got.status == 304:
        return FeedResult(304, etag, modified)
    assert got.headers is not None
    result = parse(got.body, url)
    return FeedResult(
        200,
        got.headers.get("ETag"),
        got.headers.get("Last-Modified"),
        result.title,
        result.items,
        result.problems,
    )


def parse(body: bytes, url: str = "") -> FeedResult:
    import feedparser  # only when a feed is checked

    doc = feedparser.parse(body)
    exc = doc.get("bozo_exception")
    problems = []
    if not doc.get("version") and not doc.entries:
        raise NotAFeed(
            f"{url or 'the feed'} is {'an HTML page' if is_html(body) else 'not RSS or Atom'}, "
            "not a feed",
            "give the feed's own URL (often linked as RSS), or a page yt-dlp can list",
        )
    if exc is not None and "SAX" in type(exc).__name__:
        if not doc.entries:
            raise SourceError(f"feed {url} is malformed: {exc}", "the next check tries again")
        problems.append(f"the feed is not well-formed XML ({exc}); read what could be read")
    links = podcast.links(body)
    items = []
    for entry in doc.entries:
        try:
            item = _item(entry, url, links)
        except (ValueError, TypeError, AttributeError) as bad:  # one broken entry
            problems.append(f"skipped an entry: {bad}")
            continue
        if item is None:
            continue
        if not is_url(item.url):
            problems.append(f"skipped {item.title!r}: its media URL is not usable ({item.url!r})")
            continue
        items.append(item)
    if items and all(i.published is not None for i in items):
        items.sort(key=lambda i: i.published or 0.0, reverse=True)
    return FeedResult(200, title=doc.feed.get("title"), items=items, problems=problems)


def suggest_name(url: str, taken: set[str], timeout: float = 10.0) -> str:
    """A subscription's name when none is given: the feed's own title (what people call the
    podcast), else the URL's host and last path part; never one of `taken`."""
    from earwig.errors import EarwigError
    from earwig.urls import slug

    try:
        title = fetch(url, None, None, timeout).title
    except EarwigError:
        title = None
    base = " ".join((title or "").split())[:60].strip(" .") or slug(url)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base} ({n})"
    return name


def is_html(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<html" in head or b"<!doctype html" in head


def _item(entry, feed_url: str, links: dict[str, podcast.Links]) -> Item | None:
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
    found = links.get(entry.get("id") or "") or links.get(media) or podcast.Links()
    return Item(
        id=identity,
        url=urllib.parse.urljoin(feed_url, media),
        title=entry.get("title") or media.rsplit("/", 1)[-1],
        published=float(calendar.timegm(when)) if when else None,
        transcripts=found.resolved_transcripts(feed_url),
        chapters=found.resolved_chapters(feed_url),
    )
