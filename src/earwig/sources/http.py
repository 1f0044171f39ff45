"""One careful HTTP GET for small documents (feeds, publishers' transcripts, chapters).

Hostile or broken servers cost little: the whole body has a deadline (a server that sends a
byte every few seconds never trips a per-read timeout), and a compressed body is inflated only
up to the caller's limit (a gzip bomb is refused, not expanded). Media never comes this way:
yt-dlp downloads it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage
from typing import Any

from earwig import __version__
from earwig.errors import TransientError
from earwig.sources.errors import SourceError, classify_http

USER_AGENT = f"earwig/{__version__} (+podcast transcription)"


@dataclass(frozen=True)
class Response:
    status: int  # 200, or 304 when a conditional GET found it unchanged
    body: bytes = b""
    headers: Message | None = None


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects to http and https only: urllib's own also follows one to ftp:, which
    would reach a server (and an address) no feed should lead earwig to."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"a redirect to {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def deadline_for(timeout: float) -> float:
    """The most a whole fetch may take: a few times the per-read timeout."""
    return max(3 * timeout, 10.0)


def get(
    url: str,
    *,
    what: str,
    timeout: float,
    limit: int,
    headers: dict[str, str] | None = None,
    later: str = "earwig tries again later",
) -> Response:
    """GET `url` (`what` names it in errors: "feed URL", "transcript URL"), at most `limit`
    bytes after inflating. Raises SourceError (won't work as it is) or TransientError, whose
    hint is `later` (when earwig tries again)."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise SourceError(f"{what} {url} is not an http or https URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    deadline = time.monotonic() + deadline_for(timeout)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = _read(response, what, deadline, limit, later)
            body = _inflate(body, response.headers.get("Content-Encoding"), what, limit)
            return Response(response.status, body, response.headers)
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Response(304, b"", exc.headers)
        if 300 <= exc.code < 400:
            raise SourceError(
                f"{what} redirects in a loop, to nowhere, or away from http(s)",
                "open it in a browser to find where it lives now",
            ) from None
        raise classify_http(exc.code, what, exc.headers.get("Retry-After")) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout:.0f}s"
        raise TransientError(f"{what}: {reason}", later) from None


def _read(response: object, what: str, deadline: float, limit: int, later: str) -> bytes:
    chunks, size = [], 0
    while block := response.read1(65536):  # type: ignore[attr-defined]
        chunks.append(block)
        size += len(block)
        if size > limit:
            raise SourceError(f"{what} is larger than {limit // 2**20} MB")
        if time.monotonic() > deadline:
            raise TransientError(
                f"{what}: the server is too slow (the answer did not arrive in time)", later
            )
    return b"".join(chunks)


def _inflate(body: bytes, encoding: str | None, what: str, limit: int) -> bytes:
    """A gzip or deflate body, inflated, but never past `limit`."""
    gz = body[:2] == b"\x1f\x8b"
    if not gz and (encoding or "").lower() not in ("gzip", "x-gzip", "deflate"):
        return body
    inflater = zlib.decompressobj(wbits=47 if gz or "gzip" in (encoding or "") else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise SourceError(f"{what}: its compressed body is damaged ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise SourceError(
            f"{what} inflates to more than {limit // 2**20} MB: refused",
            "no document of this kind is that big; check the URL",
        )
    return out
