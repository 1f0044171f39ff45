"""The protocol end to end: every request through the real daemon, spoken as the raw JSON of
the previous version and checked against its declared result type; every way a connection
fails, raised as the same exception by both clients and said in one line by the CLI; the
daemon at its file-descriptor limit and stopping with dashboards attached."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from conftest import Home
from earwig import cli, protocol
from earwig import protocol as p
from earwig.client import AsyncDaemonClient, DaemonClient, NoEvent
from earwig.errors import (
    DaemonNotAllowed,
    DaemonNotAnswering,
    DaemonNotRunning,
    RemoteError,
    VersionMismatch,
)
from helpers import DaemonProcess, wait_for
from httpserver import LocalServer, rss
from media_standins import StandIn


class RawClient:
    """A client that knows nothing of earwig's Python: JSON lines on a socket, as a client of
    the previous protocol version (or in another language) speaks them."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.buf = b""
        self.next_id = 0
        welcome = self.send({"type": "hello", "protocol": 1})
        assert welcome["type"] == "welcome", welcome

    def send(self, message: dict[str, Any]) -> dict[str, Any]:
        self.sock.sendall(json.dumps(message).encode() + b"\n")
        return self.read()

    def read(self) -> dict[str, Any]:
        """The next message that is not an event."""
        while True:
            while b"\n" not in self.buf:
                self.buf += self.sock.recv(65536)
            line, self.buf = self.buf.split(b"\n", 1)
            reply = json.loads(line)
            if reply.get("type") != "event":
                return reply

    def call(self, kind: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        return self.send({"id": self.next_id, "type": kind, "params": params})


def typed(kind: str, reply: dict[str, Any]) -> Any:
    """The reply's result, checked against the result type `kind` declares (msgspec reads
    the TypedDicts: a missing key or a wrong type fails here)."""
    assert reply["ok"], reply
    return msgspec.convert(reply["result"], protocol.REQUESTS[kind].RESULT, strict=False)


@pytest.fixture
def jellyfin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """A loopback Jellyfin stand-in (no real one can run here): `media_servers.test` then
    answers with a full server view, libraries and folders, not an empty list."""
    monkeypatch.setenv("EARWIG_JELLYFIN_KEY", "jf-key-0c1d2e")
    server = StandIn("jellyfin", "jf-key-0c1d2e", {"Movies": ["/data/media/movies"]}, {})
    yield server
    server.stop()


def test_every_request_round_trips_as_the_json_of_the_previous_version(
    home: Home, jellyfin: StandIn, speech_wav: Path
) -> None:
    (home.root / "library" / "movies").mkdir(parents=True)
    home.write_config(
        extra=f"""
[[media_server]]
kind = "jellyfin"
url = "{jellyfin.url}"
token_env = "EARWIG_JELLYFIN_KEY"
path_map = {{ "/data/media" = "{home.root / "library"}" }}
"""
    )
    daemon = home.daemon().start()
    with LocalServer() as server:
        feed = server.add("/feed.xml", body=rss([]), content_type="application/rss+xml")
        raw = RawClient(daemon.socket)
        done: set[str] = set()

        def call(kind: str, **params: Any) -> Any:
            done.add(kind)
            return typed(kind, raw.call(kind, **params))

        assert call("status")["pid"] == daemon.process.pid
        assert call("queue.pause") == {"paused": True}  # the job stays where it is put
        added = call("job.add", paths=[str(speech_wav)])["results"][0]
        job_id = added["job"]["id"]
        assert call("jobs.list", limit=10)["jobs"][0]["id"] == job_id
        assert call("job.get", id=job_id, transcript=True)["job"]["state"] == "queued"
        for kind, state in (
            ("job.pause", "paused"),
            ("job.resume", "queued"),
            ("job.prioritize", "queued"),
            ("job.cancel", "cancelled"),
            ("job.retry", "queued"),
            ("job.cancel", "cancelled"),
        ):
            assert call(kind, id=job_id)["job"]["state"] == state, kind
        # no [llm] here: a typed refusal that says what to add (test_llm_stage.py
        # translates for real, against a model served on loopback)
        reply = raw.call("job.translate", id=job_id, language="de")
        assert reply["error"]["code"] == "config", reply
        assert "no language model" in reply["error"]["message"], reply
        done.add("job.translate")
        assert call("job.delete", id=job_id)["deleted"] == job_id
        assert call("queue.resume") == {"paused": False}
        assert isinstance(call("logs.tail", limit=5)["log"], list)
        assert call("search", query="nothing", limit=5) == {"hits": []}
        subscribed = call("subscription.add", url=feed, name="empty", backfill=0)
        assert subscribed["name"] == "empty"
        assert call("subscriptions.list")["subscriptions"][0]["name"] == "empty"
        assert call("subscription.check", name="empty")["results"][0]["name"] == "empty"
        assert call("subscription.remove", name="empty")["needs_restart"] == []
        assert isinstance(call("config.reload")["changed"], list)
        assert call("slots.list")["slots"][0]["name"] == "local"
        assert call("slot.drain", name="local", drain=False)["slot"]["drained"] is False
        assert call("speakers.list") == {"voices": []}
        reply = raw.call("speaker.name", id=1, speaker="SPEAKER 1", name="Ann")
        assert reply["error"]["code"] == "not_found"  # job 1 is gone: a typed refusal
        done.add("speaker.name")
        reply = raw.call("speaker.forget", name="Ann")
        assert reply["error"]["code"] == "not_found"  # no voice was named
        done.add("speaker.forget")
        (tested,) = call("media_servers.test")["servers"]
        assert tested["reachable"] is True and tested["server"] == "Jellyfin 10.11.0 (jellyfin)"
        assert tested["folders"] == [
            {
                "library": "Movies",
                "theirs": "/data/media/movies",
                "ours": str(home.root / "library" / "movies"),
                "readable": True,
            }
        ]
        snapshot = call("subscribe", topics=["jobs", "log"], limit=5, log_limit=5)
        assert snapshot["status"]["pid"] == daemon.process.pid and "log" in snapshot
        assert done == set(protocol.REQUESTS), set(protocol.REQUESTS) - done


@pytest.mark.parametrize(
    ("line", "code", "complaint"),
    [
        (b"{garbage\n", "protocol", "not a JSON line"),
        (b'{"id":1,"type":"job.get","params":{"id":"seven"}}\n', "protocol", "params.id must be"),
        (b'{"id":1,"type":"jobs.list","params":{"limit":5000}}\n', "protocol", "from 1 to 1000"),
        (b'{"id":1,"type":"status","params":{"verbose":true}}\n', "protocol", "'verbose'"),
        (b'{"id":1,"type":"no.such"}\n', "unknown_request", "unknown request type 'no.such'"),
    ],
)
def test_a_bad_message_gets_a_refusal_and_the_connection_stays_usable(
    daemon: DaemonProcess, line: bytes, code: str, complaint: str
) -> None:
    raw = RawClient(daemon.socket)
    raw.sock.sendall(line)
    refusal = raw.read()
    assert refusal["ok"] is False and refusal["error"]["code"] == code, refusal
    assert complaint in refusal["error"]["message"], refusal
    answer = raw.call("status")  # the same connection
    assert answer["ok"] is True and answer["result"]["pid"] == daemon.process.pid


# ---------------------------------------------------------------- both clients, one class


def both(path: Path, timeout: float = 1.0) -> Iterator[type[BaseException] | None]:
    """Connect with each client in turn; yield what each raised (None: it connected)."""
    for connect in (_sync, _async):
        try:
            connect(path, timeout)
        except Exception as exc:
            yield type(exc)
        else:
            yield None


def _sync(path: Path, timeout: float) -> None:
    with DaemonClient(path, timeout=timeout) as client:
        client.call(p.GetStatus())


def _async(path: Path, timeout: float) -> None:
    async def go() -> None:
        client = AsyncDaemonClient(path)
        await client.connect(timeout)
        await client.call(p.GetStatus())
        await client.close()

    asyncio.run(go())


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))  # AF_UNIX paths are short
    yield folder / "s.sock"
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


def test_no_daemon_is_not_running_in_both_clients(sock_path: Path) -> None:
    assert list(both(sock_path)) == [DaemonNotRunning, DaemonNotRunning]  # no socket file
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.close()  # the file stays, nobody listens: refused
    assert list(both(sock_path)) == [DaemonNotRunning, DaemonNotRunning]


def test_a_socket_that_accepts_and_never_answers(sock_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(16)  # the kernel completes the connects; nobody reads or writes
    try:
        assert list(both(sock_path)) == [DaemonNotAnswering, DaemonNotAnswering]
        cli.CLIENT_TIMEOUT, saved = 1.0, cli.CLIENT_TIMEOUT
        config = sock_path.parent / "c.toml"
        config.write_text(f'[daemon]\nsocket = "{sock_path}"\nstate_dir = "{sock_path.parent}"\n')
        try:
            shown = CliRunner().invoke(cli.main, ["--config", str(config), "status"])
        finally:
            cli.CLIENT_TIMEOUT = saved
        assert shown.exit_code == 1, shown.output
        lines = shown.output.strip().splitlines()
        assert lines == [
            f"error: the daemon is not answering (on {sock_path})",
            "  hint: " + cli_hint(),
        ], lines
    finally:
        listener.close()


def cli_hint() -> str:
    from earwig.client import RESTART_HINT

    assert "earwig logs" in RESTART_HINT
    if sys.platform.startswith("linux"):
        assert "systemctl --user restart earwig" in RESTART_HINT
    return RESTART_HINT


def test_a_full_backlog_is_not_answering_in_both_clients(sock_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(0)
    held = []
    try:
        while True:  # fill the backlog until the kernel refuses with EAGAIN
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(str(sock_path))
            except BlockingIOError:
                s.close()
                break
            held.append(s)
            assert len(held) < 1000
        assert list(both(sock_path)) == [DaemonNotAnswering, DaemonNotAnswering]
    finally:
        for s in held:
            s.close()
        listener.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may connect to any socket")
def test_another_users_socket_is_not_allowed_in_both_clients(sock_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    os.chmod(sock_path, 0)
    try:
        assert list(both(sock_path)) == [DaemonNotAllowed, DaemonNotAllowed]
    finally:
        listener.close()


def test_a_daemon_of_another_version_is_a_version_mismatch_in_both_clients(
    sock_path: Path,
) -> None:
    """A fake daemon of protocol 2, answering a hello the way earwig's daemon does."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(4)
    refusal = protocol.error(None, "protocol", "protocol mismatch: client speaks 1, this side 2")

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(1024)
            conn.sendall(protocol.encode(refusal))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert list(both(sock_path, timeout=10)) == [VersionMismatch, VersionMismatch]
    finally:
        thread.join(10)
        listener.close()


def test_a_refused_request_is_a_remote_error_in_both_clients(daemon: DaemonProcess) -> None:
    with DaemonClient(daemon.socket) as client, pytest.raises(RemoteError) as blocking:
        client.call(p.GetJob(id=424242))

    async def go() -> RemoteError:
        client = AsyncDaemonClient(daemon.socket)
        await client.connect()
        try:
            await client.call(p.GetJob(id=424242))
        except RemoteError as exc:
            return exc
        finally:
            await client.close()
        raise AssertionError("no refusal")

    refused = asyncio.run(go())
    assert (blocking.value.code, blocking.value.message) == (refused.code, refused.message)
    assert refused.code == "not_found"


def test_waiting_for_an_event_that_does_not_come_fails(daemon: DaemonProcess) -> None:
    with daemon.client() as client:
        client.call(p.Subscribe(topics=["jobs"]))
        with pytest.raises(NoEvent):
            for _ in client.events(timeout=0.5):
                pass  # nothing happens on an idle daemon
        assert client.call(p.GetStatus())["pid"]  # and the connection goes on


# ---------------------------------------------------------------- the daemon under stress


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prlimit and /proc: Linux")
def test_at_the_fd_limit_the_daemon_waits_quietly_and_answers_once_fds_free_up(
    daemon: DaemonProcess,
) -> None:
    pid = daemon.process.pid
    # idle first: loading the model opens and closes files, which would move the limit's edge
    wait_for(lambda: daemon.call(p.GetStatus())["backend"]["loaded"], 60, what="the model")
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid) + 8, hard))
    before = len(daemon.log())
    held = []
    try:
        for _ in range(300):  # far past the limit: most wait in the backlog or are refused
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(str(daemon.socket))
            except (BlockingIOError, ConnectionRefusedError):
                s.close()
                continue
            held.append(s)
        wait_for(
            lambda: "cannot take new connections" in daemon.log()[before:],
            30,
            what="the daemon to say it is at its limit",
        )
        # 2 s each: the daemon tries accept() again several times meanwhile (and says so once)
        assert list(both(daemon.socket, timeout=2)) == [DaemonNotAnswering, DaemonNotAnswering]
        grown = daemon.log()[before:]
        # One line, or a few where the limit flapped (5 s clear, then hit again): never one a try
        assert 1 <= grown.count("cannot take new connections") <= 3, grown[-3000:]
        assert "Traceback" not in grown and len(grown) < 2000, grown[-3000:]
    finally:
        for s in held:
            s.close()
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))

    def answers() -> bool:
        try:
            with DaemonClient(daemon.socket, timeout=2) as client:
                return client.call(p.GetStatus())["pid"] == pid
        except DaemonNotAnswering:  # still taking the backlog of closed connections
            return False

    wait_for(answers, 30, what="the daemon to answer again")

    grown = daemon.log()[before:]
    assert 1 <= grown.count("cannot take new connections") <= 3, grown[-3000:]
    assert "Traceback" not in grown, grown[-3000:]


def test_stopping_with_dashboards_attached_logs_no_traceback(daemon: DaemonProcess) -> None:
    attached = []
    for _ in range(3):
        client = daemon.client()
        client.call(p.Subscribe(topics=["jobs", "log"]))
        attached.append(client)
    try:
        assert daemon.stop() == 0
    finally:
        for client in attached:
            client.close()
    log = daemon.log()
    assert "CancelledError" not in log and "Traceback" not in log, log[-3000:]
