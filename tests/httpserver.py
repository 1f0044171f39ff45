"""A real HTTP server on 127.0.0.1 for feeds and media: Range, ETag, errors, stalls, counts.

http.server's own handler has no Range support, and resuming a stalled download needs it, so
this one serves registered in-memory resources and records every request it gets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Resource:
    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    stall_after: int | None = None  # a GET without Range sends this many bytes, then hangs
    drip: float | None = None  # send the body one byte every `drip` seconds (a hostile server)
    headers: dict[str, str] = field(default_factory=dict)
    gets: int = 0
    fail_first: int = 0  # POST: answer `status` to the first N requests, then 200


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


class LocalServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        assert host.startswith("127."), "loopback only"
        self.host = host
        self.resources: dict[str, Resource] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                with server.lock:
                    server.requests.append(Request("POST", path, dict(self.headers), body))
                    res = server.resources.get(path)
                    if res is not None:
                        res.gets += 1
                        status = res.status if res.gets <= res.fail_first else 200
                    else:
                        status = 404
                self._reply(status, b"{}", "application/json")

            def _serve(self, head: bool) -> None:
                path = self.path.split("?", 1)[0]
                with server.lock:
                    server.requests.append(Request(self.command, path, dict(self.headers)))
                    res = server.resources.get(path)
                    if res is not None and not head:
                        res.gets += 1
                if res is None:
                    return self._reply(404, b"not found", "text/plain")
                if res.status != 200:
                    return self._reply(res.status, b"error", "text/plain", res.headers)
                if res.etag and self.headers.get("If-None-Match") == res.etag:
                    return self._reply(304, b"", None, {"ETag": res.etag})
                if res.last_modified and self.headers.get("If-Modified-Since") == res.last_modified:
                    return self._reply(304, b"", None)
                extra = dict(res.headers)
                if res.etag:
                    extra["ETag"] = res.etag
                if res.last_modified:
                    extra["Last-Modified"] = res.last_modified
                body, status = res.body, 200
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start_s, _, end_s = rng[6:].partition("-")
                    start = int(start_s or 0)
                    end = int(end_s) if end_s else len(res.body) - 1
                    body, status = res.body[start : end + 1], 206
                    extra["Content-Range"] = f"bytes {start}-{end}/{len(res.body)}"
                extra["Accept-Ranges"] = "bytes"
                if res.drip is not None and not head:
                    self.send_response(status)
                    self._headers(res.content_type, len(body), extra)
                    for i in range(len(body)):
                        if server.released.wait(res.drip):
                            return
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                    return
                if res.stall_after is not None and not rng and not head:
                    self.send_response(status)
                    self._headers(res.content_type, len(body), extra)
                    self.wfile.write(body[: res.stall_after])
                    self.wfile.flush()
                    server.released.wait(60)  # hang like a dead connection
                    return
                self._reply(
                    status, b"" if head else body, res.content_type, extra, length=len(body)
                )

            def _headers(self, ctype: str | None, length: int, extra: dict[str, str]) -> None:
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(length))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()

            def _reply(self, status, body, ctype, extra=None, length=None) -> None:
                self.send_response(status)
                self._headers(ctype, len(body) if length is None else length, extra or {})
                if body:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, **kw) -> str:
        with self.lock:
            self.resources[path] = Resource(**kw)
        return self.url(path)

    def count(self, path: str | None = None, method: str = "GET") -> int:
        with self.lock:
            return sum(
                1 for r in self.requests if r.method == method and (path is None or r.path == path)
            )

    def media_requests(self) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path.startswith("/media/"))

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(items: list[dict], title: str = "Test podcast", guid: bool = True) -> bytes:
    """An RSS 2.0 feed; items are dicts with title, url, date (Unix time), optional guid and
    extra (XML inside the item, such as <podcast:transcript .../>)."""
    parts = []
    for it in items:
        guid_xml = f"<guid>{it.get('guid', it['url'])}</guid>" if guid else ""
        parts.append(
            f"<item><title>{it['title']}</title>{guid_xml}"
            f"<pubDate>{formatdate(it['date'], usegmt=True)}</pubDate>"
            f'<enclosure url="{it["url"]}" type="audio/wav" length="1"/>{it.get("extra", "")}'
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        f"<title>{title}</title><link>http://127.0.0.1/</link><description>d</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def atom(items: list[dict], title: str = "Test Atom") -> bytes:
    entries = "".join(
        f"<entry><title>{it['title']}</title><id>{it.get('guid', it['url'])}</id>"
        f"<updated>{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(it['date']))}</updated>"
        f'<link rel="enclosure" type="audio/wav" href="{it["url"]}"/></entry>'
        for it in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:test</id><updated>2026-01-01T00:00:00Z</updated>"
        + entries
        + "</feed>"
    ).encode()
