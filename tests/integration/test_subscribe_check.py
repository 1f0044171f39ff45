"""`earwig subscribe` fetches the URL first and refuses what is neither a feed nor a page yt-dlp
can list, with the reason: through the daemon when it runs, by itself when not; --no-check
subscribes anyway. A real HTTP server on 127.0.0.1 serves a feed, a 404, a text file, a wav
and a web page without media."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol as p
from helpers import run_cli
from httpserver import LocalServer, rss


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def urls(server: LocalServer, wav: Path) -> dict[str, str]:
    return {
        "missing": server.url("/gone.xml"),  # nothing there: 404
        "text": server.add("/notes.txt", body=b"shopping: eggs, milk\n" * 20,
                           content_type="text/plain"),
        "wav": server.add("/talk.wav", body=wav.read_bytes(), content_type="audio/wav"),
        "page": server.add("/about.html", body=b"<html><body><p>About us</p></body></html>",
                           content_type="text/html"),
    }  # fmt: skip


REASONS = {
    "missing": "404",
    "text": "not RSS or Atom",
    "wav": "not RSS or Atom",
    "page": "neither a feed nor a page yt-dlp can list",
}


def refused(home: Home, url: str) -> str:
    out = run_cli(home.config, "subscribe", url, "--name", "x", "--backfill", "0")
    assert out.returncode == 2, (url, out.stdout, out.stderr)
    assert "subscribed" not in out.stdout and "Traceback" not in out.stderr
    return out.stderr


def test_refused_without_a_daemon(home: Home, server: LocalServer, speech_wav: Path) -> None:
    before = home.config.read_text()
    for kind, url in urls(server, speech_wav).items():
        said = refused(home, url)
        assert "not subscribed" in said and REASONS[kind] in said, (kind, said)
        assert "--no-check" in said
    assert home.config.read_text() == before  # nothing written
    feed = server.add("/pod.xml", body=rss([]), content_type="application/rss+xml")
    assert run_cli(home.config, "subscribe", feed, "--name", "pod").returncode == 0


def test_refused_by_the_daemon_unless_no_check(
    home: Home, server: LocalServer, speech_wav: Path
) -> None:
    daemon = home.daemon().start()
    try:
        for kind, url in urls(server, speech_wav).items():
            said = refused(home, url)
            assert "not subscribed" in said and REASONS[kind] in said, (kind, said)
        assert daemon.call(p.ListSubscriptions())["subscriptions"] == []
        served = server.count("/notes.txt")
        assert served >= 1  # the daemon fetched it, once per check
        text = server.url("/notes.txt")
        out = run_cli(home.config, "subscribe", text, "--name", "anyway", "--no-check")
        assert out.returncode == 0 and "subscribed 'anyway'" in out.stdout, out.stderr
        names = [s["name"] for s in daemon.call(p.ListSubscriptions())["subscriptions"]]
        assert names == ["anyway"]
        # a feed that trickles (a byte at a time, for ever): the daemon's answer reaches the
        # CLI before it gives up on the daemon (it said "not answering... restart it")
        with trickling() as url:
            said = refused(home, url)
        assert "not subscribed" in said and "not answering" not in said, said
        assert "too slow" in said or "did not send a whole answer within 20 s" in said, said
    finally:
        daemon.kill()


@contextlib.contextmanager
def trickling() -> Iterator[str]:
    """A server on 127.0.0.1 that answers a feed's headers, then a byte every half second."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=dribble, args=(conn,), daemon=True).start()

    def dribble(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            conn.sendall(f"{head}Content-Length: 100000\r\n\r\n<rss".encode())
            while not stop.wait(0.5):
                conn.sendall(b" ")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
