"""Podcast RSS and Atom feeds: a conditional GET with urllib, then feedparser.

Fetching ourselves (not feedparser's own fetch, which has no timeout) keeps control of the
timeout and of ETag / Last-Modified, so an unchanged feed costs one small request. Only the
enclosures that are new are ever handed to yt-dlp.

Hostile or broken servers cost little: the whole fetch has a deadline (a server that sends a
byte every few seconds never trips a per-read timeout), a compressed body is inflated only up
to MAX_FEED_BYTES (a gzip bomb is refused, not expanded), a feed with a stray `&` is read for
the items feedparser recovers, and one unusable enclosure skips that item, not the feed.
"""

from __future__ import annotations

import calendar
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from earwig import __version__
from earwig.errors import TransientError
from earwig.sources import Item
from earwig.sources.errors import SourceError, classify_http
from earwig.urls import is_url

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
    problems: list[str] = field(default_factory=list)  # read anyway; worth a log line


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
    deadline = time.monotonic() + deadline_for(timeout)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = _read(response, url, deadline)
            body = _inflate(body, response.headers.get("Content-Encoding"), url)
            new_etag = response.headers.get("ETag")
            new_modified = response.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return FeedResult(304, etag, modified)
        if 300 <= exc.code < 400:
            raise SourceError(
                f"feed {url} redirects in a loop (or to nowhere)",
                "open it in a browser to find where it lives now",
            ) from None
        raise classify_http(exc.code, f"feed {url}", exc.headers.get("Retry-After")) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout:.0f}s"
        raise TransientError(f"feed {url}: {reason}", "earwig retries at the next check") from None
    result = parse(body, url)
    return FeedResult(
        200, new_etag, new_modified, result.title, result.items, result.problems
    )


def deadline_for(timeout: float) -> float:
    """The most a whole feed fetch may take: a few times the per-read timeout."""
    return max(3 * timeout, 10.0)


def _read(response: object, url: str, deadline: float) -> bytes:
    chunks, size = [], 0
    while block := response.read1(65536):  # type: ignore[attr-defined]
        chunks.append(block)
        size += len(block)
        if size > MAX_FEED_BYTES:
            raise SourceError(f"feed {url} is larger than {MAX_FEED_BYTES // 2**20} MB")
        if time.monotonic() > deadline:
            raise TransientError(
                f"feed {url}: the server is too slow (the feed did not arrive in time)",
                "earwig retries at the next check",
            )
    return b"".join(chunks)


def _inflate(body: bytes, encoding: str | None, url: str) -> bytes:
    """A gzip or deflate body, inflated, but never past MAX_FEED_BYTES."""
    import zlib

    gz = body[:2] == b"\x1f\x8b"
    if not gz and (encoding or "").lower() not in ("gzip", "x-gzip", "deflate"):
        return body
    inflater = zlib.decompressobj(wbits=47 if gz or "gzip" in (encoding or "") else 15)
    try:
        out = inflater.decompress(body, MAX_FEED_BYTES + 1)
    except zlib.error as exc:
        raise SourceError(f"feed {url}: its compressed body is damaged ({exc})") from None
    if len(out) > MAX_FEED_BYTES or inflater.unconsumed_tail:
        raise SourceError(
            f"feed {url} inflates to more than {MAX_FEED_BYTES // 2**20} MB: refused",
            "no podcast feed is that big; check the URL",
        )
    return out


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
    items = []
    for entry in doc.entries:
        try:
            item = _item(entry, url)
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


def is_html(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<html" in head or b"<!doctype html" in head


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
