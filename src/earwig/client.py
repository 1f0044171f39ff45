"""Clients for the daemon's socket: blocking (the CLI, tests, benchmarks) and asyncio (the TUI).

Both send the typed requests of `protocol` and return their typed results; both turn every
way a connection can fail into the same exceptions (`connect_failure`, `protocol.unwrap`,
`protocol.check_welcome`), so a caller handles a failure once whichever client it holds:

- no daemon (no socket, refused)          -> DaemonNotRunning
- another user's socket (EACCES)          -> DaemonNotAllowed
- a daemon that does not answer in time,
  or whose backlog is full (EAGAIN)       -> DaemonNotAnswering
- a daemon of another protocol version    -> VersionMismatch
- a request the daemon refuses            -> RemoteError (code, message, hint)

It imports only the protocol and the standard library, so commands such as `earwig status`
start fast and never load the ML stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import typing
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from earwig import protocol
from earwig.errors import (
    DaemonNotAllowed,
    DaemonNotAnswering,
    DaemonNotRunning,
    EarwigError,
    ProtocolError,
    RemoteError,
    VersionMismatch,
)

__all__ = [
    "AsyncDaemonClient",
    "DaemonClient",
    "DaemonNotAllowed",
    "DaemonNotAnswering",
    "DaemonNotRunning",
    "NoEvent",
    "RemoteError",
    "VersionMismatch",
    "connect_failure",
]

R = TypeVar("R")

RESTART_HINT = (
    "see `earwig logs`; restart it: systemctl --user restart earwig"
    if sys.platform.startswith("linux")
    else "see `earwig logs`; restart it: earwig service install (or stop it and `earwig run`)"
)


class NoEvent(EarwigError):
    """`DaemonClient.events(timeout)` waited `timeout` seconds and no event came."""

    code = "no_event"


def connect_failure(exc: OSError, path: Path) -> EarwigError:
    """What an OSError from connecting to (or talking to) the socket at `path` means."""
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return DaemonNotRunning(
            f"the earwig daemon is not running (no answer on {path})",
            "start it with `earwig run`, or install it as a service with `earwig service install`",
        )
    if isinstance(exc, PermissionError):
        return DaemonNotAllowed(
            f"not allowed to connect to {path}", "the daemon belongs to another user"
        )
    if isinstance(exc, TimeoutError | BlockingIOError):
        return not_answering(path)
    if isinstance(exc, ConnectionError):
        return DaemonNotRunning(
            "the daemon closed the connection", "it may have stopped; see `earwig logs`"
        )
    return DaemonNotRunning(f"cannot talk to the daemon on {path}: {exc}", RESTART_HINT)


def not_answering(path: Path) -> DaemonNotAnswering:
    return DaemonNotAnswering(f"the daemon is not answering (on {path})", RESTART_HINT)


class DaemonClient:
    """A blocking connection: `call(request)` waits for its reply; events that arrive in
    between are kept for `events()`."""

    def __init__(self, socket_path: Path, timeout: float | None = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._lines = protocol.LineBuffer()
        self._pending: deque[protocol.Message] = deque()
        self._events: deque[protocol.Message] = deque()
        self._next_id = 0
        self.server: protocol.Welcome | None = None

    def __enter__(self) -> DaemonClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> protocol.Welcome:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            raise connect_failure(exc, self.socket_path) from exc
        self._sock = sock
        try:
            with contextlib.suppress(BrokenPipeError):  # a refusal may be waiting to be read
                self.send(protocol.hello())
            self.server = protocol.check_welcome(self._read())
        except BaseException:
            self.close()
            raise
        return self.server

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send(self, message: protocol.Message) -> None:
        """Write one message as it is (tests use it to speak raw JSON)."""
        assert self._sock is not None, "not connected"
        try:
            self._sock.sendall(protocol.encode(message))
        except (TimeoutError, BlockingIOError, ConnectionResetError) as exc:
            raise connect_failure(exc, self.socket_path) from exc

    def call(self, request: protocol.Request[R]) -> R:
        """Send one request and return its result; RemoteError when the daemon refuses it."""
        return typing.cast(R, protocol.unwrap(self.exchange(protocol.request(0, request))))

    def exchange(self, message: protocol.Message) -> protocol.Message:
        """Send a request message (its id replaced by the next one) and return the reply."""
        self._next_id += 1
        msg_id = self._next_id
        self.send({**message, "id": msg_id})
        while True:
            reply = self._read()
            if reply.get("type") == "event":
                self._events.append(reply)
            elif reply.get("id") == msg_id:
                return reply

    def events(self, timeout: float | None = None) -> Iterator[protocol.Message]:
        """Yield events as they arrive (after a `Subscribe`). With a timeout, NoEvent is
        raised when none comes for that long: a caller waiting for one learns it did not."""
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            while True:
                if self._events:
                    yield self._events.popleft()
                    continue
                try:
                    message = self._read()
                except DaemonNotAnswering:
                    raise NoEvent(f"no event from the daemon in {timeout}s") from None
                if message.get("type") == "event":
                    yield message
        finally:
            if self._sock is not None:
                self._sock.settimeout(self.timeout)

    def _read(self) -> protocol.Message:
        while not self._pending:
            assert self._sock is not None
            try:
                data = self._sock.recv(65536)
            except OSError as exc:
                raise connect_failure(exc, self.socket_path) from exc
            if not data:
                raise DaemonNotRunning(
                    "the daemon closed the connection", "it may have stopped; see `earwig logs`"
                )
            for line in self._lines.feed(data):
                if isinstance(line, protocol.TooLong):
                    raise ProtocolError(f"the daemon sent an oversized line ({line.size} bytes)")
                self._pending.append(protocol.decode(line))
        return self._pending.popleft()


class AsyncDaemonClient:
    """The asyncio twin of DaemonClient, for the TUI: calls are matched to replies by id,
    events go to `on_event` as they arrive, and `on_close` hears when the daemon goes away."""

    def __init__(
        self,
        socket_path: Path,
        on_event: Callable[[protocol.Message], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.on_event = on_event
        self.on_close = on_close
        self.server: protocol.Welcome | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[protocol.Message]] = {}
        self._next_id = 0
        self._welcome: asyncio.Future[protocol.Message] | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self, timeout: float = 10.0) -> protocol.Welcome:
        # Connect by hand: a Unix socket's connect is done or refused at once (EAGAIN when
        # the daemon's backlog is full), which asyncio would wait out instead of saying.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            raise connect_failure(exc, self.socket_path) from exc
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=protocol.MAX_LINE)
        self._writer = writer
        self._welcome = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read(reader))
        writer.write(protocol.encode(protocol.hello()))
        try:
            self.server = protocol.check_welcome(await asyncio.wait_for(self._welcome, timeout))
        except TimeoutError:
            await self.close()
            raise not_answering(self.socket_path) from None
        except BaseException:
            await self.close()
            raise
        return self.server

    async def call(self, request: protocol.Request[R]) -> R:
        """Send one request and return its result; RemoteError when the daemon refuses it."""
        if not self.connected:
            raise DaemonNotRunning("not connected to the daemon", "it may have stopped")
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = future
        assert self._writer is not None
        self._writer.write(protocol.encode(protocol.request(self._next_id, request)))
        return typing.cast(R, protocol.unwrap(await future))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None and self._reader_task is not asyncio.current_task():
            self._reader_task.cancel()
            with contextlib.suppress(BaseException):
                await self._reader_task
        self._writer = None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        lines = protocol.LineBuffer()
        try:
            while data := await reader.read(65536):
                for line in lines.feed(data):
                    if isinstance(line, protocol.TooLong):
                        continue
                    self._dispatch(protocol.decode(line))
        except (ConnectionError, ProtocolError):
            pass
        finally:
            gone = DaemonNotRunning("the daemon went away", "it may have stopped")
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(gone)
            self._waiting.clear()
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_exception(gone)
            self._writer = None
            if self.on_close is not None:
                self.on_close()

    def _dispatch(self, message: protocol.Message) -> None:
        if message.get("type") == "event":
            if self.on_event is not None:
                self.on_event(message)
            return
        if self._welcome is not None and not self._welcome.done():
            self._welcome.set_result(message)
            return
        msg_id = message.get("id")
        future = self._waiting.pop(msg_id, None) if isinstance(msg_id, int) else None
        if future is not None and not future.done():
            future.set_result(message)
