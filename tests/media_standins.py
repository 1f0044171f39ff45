"""Loopback stand-ins for Jellyfin, Emby and Plex: no real one can run here.

Each is a real HTTP server on 127.0.0.1 that answers the few calls earwig makes, the way the
server's own code and documentation say it does (see mediaservers/clients.py for where each
call was read), with bodies from tests/payloads/ (captured or built from the projects' own
classes). They check the key as the server would and record every request, so a test can
assert exactly which refresh calls were made, with which key and body.
"""

from __future__ import annotations

import json
import re
import threading
from copy import deepcopy
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAYLOADS = Path(__file__).parent / "payloads"
ADMIN = "4d3c2b1a09f8e7d6c5b4a39281706f5e"  # users.json's administrator


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StandIn:
    """A media server of `kind` with API key `key`, its libraries (name -> the folders as it
    names them), and its items (id -> the file as it names it)."""

    kind: str  # "jellyfin", "emby", "plex"
    key: str
    libraries: dict[str, list[str]] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    fail_refreshes: int = 0  # answer 503 to this many refresh calls first
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)  # lookups wait for it

    def __post_init__(self) -> None:
        self.gate.set()
        self._serve()

    def _serve(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers), body
                )
                with stand_in.lock:
                    stand_in.requests.append(seen)
                status, ctype, answer = stand_in.answer(seen)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------ what tests read

    def refreshes(self) -> list[Seen]:
        """Every refresh call received (accepted or not)."""
        with self.lock:
            return [r for r in self.requests if is_refresh(r)]

    # ------------------------------------------------------------ the server's side

    def key_of(self, seen: Seen) -> str | None:
        h = {k.lower(): v for k, v in seen.headers.items()}

        def query(name: str) -> str | None:
            values = seen.query.get(name)
            return values[0] if values else None

        if self.kind == "plex":
            return h.get("x-plex-token") or query("X-Plex-Token")
        if self.kind == "emby":
            return h.get("x-emby-token") or query("api_key")
        # Jellyfin 10.11: the Authorization header (MediaBrowser scheme), or ApiKey; legacy
        # X-Emby-Token only with legacy authorization on (off by default)
        match = re.search(r'Token="?([^",]+)"?', h.get("authorization", ""))
        return match.group(1) if match else query("ApiKey")

    def answer(self, seen: Seen) -> tuple[int, str, bytes]:
        if self.kind == "plex":
            return self._plex(seen)
        return self._jellyfin(seen)

    def _json(self, doc: Any, status: int = 200) -> tuple[int, str, bytes]:
        return status, "application/json; charset=utf-8", json.dumps(doc).encode()

    def _refresh_fails(self) -> bool:
        with self.lock:
            if self.fail_refreshes > 0:
                self.fail_refreshes -= 1
                return True
        return False

    def _jellyfin(self, seen: Seen) -> tuple[int, str, bytes]:
        if self.key_of(seen) != self.key:
            return 401, "text/plain", b"Unauthorized"
        path, m = seen.path, seen.method
        empty = (204, "text/plain", b"") if self.kind == "jellyfin" else (200, "text/plain", b"")
        if m == "GET" and path == "/System/Info":
            info = payload("jellyfin/system-info.json")
            if self.kind == "emby":
                info |= {"ServerName": "emby", "Version": "4.8.11.0"}
            return self._json(info)
        if m == "GET" and path == "/Users":
            return self._json(payload("jellyfin/users.json"))
        if m == "GET" and path == "/Library/VirtualFolders":
            folders = [
                {"Name": name, "Locations": places, "CollectionType": "movies"}
                for name, places in self.libraries.items()
            ]
            return self._json(folders)
        item = None
        if self.kind == "jellyfin" and m == "GET" and (g := re.fullmatch(r"/Items/(\w+)", path)):
            if seen.query.get("userId") != [ADMIN]:
                return 404, "text/plain", b""  # an API key alone is no user: Jellyfin 404s
            item = g.group(1)
        if self.kind == "emby" and m == "GET":
            g = re.fullmatch(rf"/Users/{ADMIN}/Items/(\w+)", path)
            item = g.group(1) if g else None
        if item is not None:
            self.gate.wait(60)  # a test holds the lookup to see the webhook answered first
            if item not in self.items:
                return 404, "text/plain", b""
            doc = payload("jellyfin/item.json") | {"Id": item, "Path": self.items[item]}
            return self._json(doc)
        if m == "POST" and (g := re.fullmatch(r"/Items/(\w+)/Refresh", path)):
            if self._refresh_fails():
                return 503, "text/plain", b"busy"
            return empty if g.group(1) in self.items else (404, "text/plain", b"")
        if m == "POST" and path == "/Library/Media/Updated":
            if self._refresh_fails():
                return 503, "text/plain", b"busy"
            updates = json.loads(seen.body or b"{}").get("Updates")
            if not isinstance(updates, list) or not all(u.get("Path") for u in updates):
                return 400, "text/plain", b"Item path can't be null."
            return empty
        return 404, "text/plain", b""

    def _plex(self, seen: Seen) -> tuple[int, str, bytes]:
        path, m = seen.path, seen.method
        if m == "GET" and path == "/identity":  # needs no token
            return self._json(
                {"MediaContainer": {"size": 0, "machineIdentifier": "abc", "version": "1.41.0"}}
            )
        if self.key_of(seen) != self.key:
            return 401, "text/html", (PAYLOADS / "plex" / "unauthorized.html").read_bytes()
        if m == "GET" and path == "/library/sections":
            doc = payload("plex/sections.json")
            template = doc["MediaContainer"]["Directory"][0]
            doc["MediaContainer"]["Directory"] = [
                deepcopy(template)
                | {
                    "key": str(i + 1),
                    "title": name,
                    "Location": [{"id": i * 10 + j, "path": p} for j, p in enumerate(places)],
                }
                for i, (name, places) in enumerate(self.libraries.items())
            ]
            doc["MediaContainer"]["size"] = len(self.libraries)
            return self._json(doc)
        if m == "GET" and (g := re.fullmatch(r"/library/metadata/(\d+)", path)):
            self.gate.wait(60)
            if g.group(1) not in self.items:
                return 404, "text/plain", b""
            doc = payload("plex/metadata.json")
            movie = doc["MediaContainer"]["Metadata"][0]
            movie["ratingKey"] = g.group(1)
            movie["Media"][0]["Part"][0]["file"] = self.items[g.group(1)]
            return self._json(doc)
        if m == "PUT" and (g := re.fullmatch(r"/library/metadata/(\d+)/refresh", path)):
            if self._refresh_fails():
                return 503, "text/plain", b""
            return (200, "text/plain", b"") if g.group(1) in self.items else (404, "", b"")
        if m == "GET" and (g := re.fullmatch(r"/library/sections/(\d+)/refresh", path)):
            if self._refresh_fails():
                return 503, "text/plain", b""
            known = 1 <= int(g.group(1)) <= len(self.libraries)
            return (200, "text/plain", b"") if known else (404, "text/plain", b"")
        return 404, "text/plain", b""


def is_refresh(seen: Seen) -> bool:
    return seen.path.endswith(("/Refresh", "/refresh")) or seen.path == "/Library/Media/Updated"
