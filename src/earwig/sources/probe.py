"""Is this URL something a subscription can follow? Asked once, before subscribing.

`earwig subscribe` used to accept anything (a 404, a text file, a wav) and say "subscribed";
the error only showed at the first check, in `earwig subscriptions`. Now the URL is fetched
first, the same way a check does (sources/feeds.py, then yt-dlp's listing for a web page), and
what is neither a feed nor a page yt-dlp can list is refused with the reason. The daemon asks
this when it runs (the dashboard's subscribe goes through the same request); the CLI asks it
itself when no daemon runs. `--no-check` skips it (a feed that is down right now).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from earwig.errors import EarwigError
from earwig.sources import feeds, ytdlp
from earwig.sources.errors import SourceError


class NotFollowable(SourceError):
    """The URL answered (or did not) with nothing a subscription can follow."""

    code = "config"  # the request's argument is what is wrong: shown as a usage error


def probe(
    url: str, kind: str = "auto", timeout: float = 15.0, extractors: Sequence[Any] = ()
) -> str:
    """What `url` is, in a few words ("a feed, 12 items"); NotFollowable with the reason
    when it is neither a feed nor a page yt-dlp can list."""
    hint = "check the URL, or subscribe anyway with --no-check"
    if kind in ("feed", "auto"):
        try:
            result = feeds.fetch(url, None, None, timeout)
            return f"a feed, {len(result.items)} item{'s' if len(result.items) != 1 else ''}"
        except feeds.NotAFeed as exc:
            if kind == "feed" or "HTML" not in exc.message:
                anyway = f"{exc.hint}; or subscribe anyway with --no-check" if exc.hint else hint
                raise NotFollowable(f"not subscribed: {exc.message}", anyway) from None
        except EarwigError as exc:
            raise NotFollowable(f"not subscribed: {exc.message}", hint) from None
    try:
        items = ytdlp.list_entries(url, 3, timeout=timeout, extractors=extractors)
    except EarwigError as exc:
        what = "neither a feed nor a page yt-dlp can list" if kind == "auto" else "not listable"
        raise NotFollowable(f"not subscribed: {url} is {what} ({exc.message})", hint) from None
    if not items:
        raise NotFollowable(f"not subscribed: yt-dlp lists nothing at {url}", hint)
    return (
        f"a page yt-dlp lists ({len(items)}+ items)" if len(items) >= 3 else "a page yt-dlp lists"
    )
