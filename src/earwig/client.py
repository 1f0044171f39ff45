"""Clients for the daemon's socket: blocking (the CLI, tests, benchmarks) and asyncio (the TUI).

It imports only the protocol and the standard library, so commands such as `earwig status`
start fast and never load the ML stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from earwig import protocol
from earwig.errors import DaemonNotRunning, EarwigError, ProtocolError


class RemoteError(EarwigError):
    """The daemon answered a request with an error."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.code = code


class DaemonClient:
    def __init__(self, socket_path: Path, timeout: float | None = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._lines = protocol.LineBuffer()
        self._pending: deque[dict[str, Any]] = deque()
        self._events: deque[dict[str, Any]] = deque()
        self._next_id = 0
        self.server: dict[str, Any] = {}

    def __enter__(self) -> DaemonClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> dict[str, Any]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise DaemonNotRunning(
                f"the earwig daemon is not running (no answer on {self.socket_path})",
                "start it with `earwig run`, or install it as a service with "
                "`earwig service install`",
            ) from exc
        except PermissionError as exc:
            sock.close()
            raise DaemonNotRunning(
                f"not allowed to connect to {self.socket_path}",
                "the daemon belongs to another user",
            ) from exc
        self._sock = sock
        with contextlib.suppress(BrokenPipeError):  # a refusal may already be waiting to be read
            self.send(protocol.hello())
        welcome = self._read()
        if welcome.get("ok") is False:
            err = welcome.get("error", {})
            raise RemoteError(err.get("code", "error"), err.get("message", ""), err.get("hint", ""))
        if welcome.get("type") != "welcome":
            raise ProtocolError(f"unexpected greeting from the daemon: {welcome!r}")
        protocol.check_version(welcome.get("protocol"), "the daemon")
        self.server = welcome
        return welcome

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send(self, message: dict[str, Any]) -> None:
        assert self._sock is not None, "not connected"
        self._sock.sendall(protocol.encode(message))

    def call(self, kind: str, /, **params: Any) -> Any:
        """Send one request and return its result, raising RemoteError on an error reply."""
        self._next_id += 1
        msg_id = self._next_id
        self.send(protocol.request(msg_id, kind, params))
        while True:
            message = self._read()
            if message.get("type") == "event":
                self._events.append(message)
                continue
            if message.get("id") != msg_id:
                continue
            if message.get("ok"):
                return message.get("result")
            err = message.get("error") or {}
            raise RemoteError(
                err.get("code", "error"), err.get("message", "?"), err.get("hint", "")
            )

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield events as they arrive (call `subscribe` or `logs.tail` with follow first)."""
        assert self._sock is not None
        self._sock.settimeout(timeout)
        while True:
            if self._events:
                yield self._events.popleft()
                continue
            try:
                message = self._read()
            except TimeoutError:
                return
            if message.get("type") == "event":
                yield message

    def _read(self) -> dict[str, Any]:
        while not self._pending:
            assert self._sock is not None
            data = self._sock.recv(65536)
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
        on_event: Callable[[dict[str, Any]], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.on_event = on_event
        self.on_close = on_close
        self.server: dict[str, Any] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._waiting: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._welcome: asyncio.Future | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.socket_path), limit=protocol.MAX_LINE),
                timeout,
            )
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as exc:
            raise DaemonNotRunning(
                f"the earwig daemon is not running (no answer on {self.socket_path})",
                "start it with `earwig run`, or `earwig service install`",
            ) from exc
        self._writer = writer
        self._welcome = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read(reader))
        writer.write(protocol.encode(protocol.hello()))
        welcome = await asyncio.wait_for(self._welcome, timeout)
        if welcome.get("ok") is False:
            err = welcome.get("error") or {}
            await self.close()
            raise ProtocolError(err.get("message", "refused"), err.get("hint", ""))
        protocol.check_version(welcome.get("protocol"), "the daemon")
        self.server = welcome
        return welcome

    async def call(self, kind: str, /, **params: Any) -> Any:
        if not self.connected:
            raise DaemonNotRunning("not connected to the daemon", "it may have stopped")
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = future
        assert self._writer is not None
        self._writer.write(protocol.encode(protocol.request(self._next_id, kind, params)))
        reply = await future
        if reply.get("ok"):
            return reply.get("result")
        err = reply.get("error") or {}
        raise RemoteError(err.get("code", "error"), err.get("message", "?"), err.get("hint", ""))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
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

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == "event":
            if self.on_event is not None:
                self.on_event(message)
            return
        if self._welcome is not None and not self._welcome.done():
            self._welcome.set_result(message)
            return
        future = self._waiting.pop(message.get("id"), None)  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(message)
