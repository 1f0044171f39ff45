"""The HTTP server's connections: how many, from whom, and how long a client may dawdle.

A flood of HTTP clients must degrade HTTP only, never the Unix socket, the queue or
transcription (1,100 connections sending their headers a byte at a time used to take the
daemon to its descriptor limit, and `earwig status` stopped answering). So:

- **a descriptor budget**: HTTP connections (WebSockets and event streams included) never
  hold more than the soft RLIMIT_NOFILE less RESERVE descriptors (a quarter of it, under a
  limit below 1,024), read at every connection,
  so the socket's clients, the database, downloads, hooks and decoding always have theirs;
- **caps**: MAX_CONNECTIONS at once, and PER_ADDRESS from one address (a reverse proxy
  listed in `[http] proxies` is exempt: its clients all share its address). Past a cap the
  connection gets a short 503 and is closed at once, before anything is parsed or built;
- **timeouts**: a request's line and headers must arrive within HEADER_TIMEOUT of the
  connection (or of the last answer on a kept-alive one), whatever trickles in meanwhile; a
  request body may pause for BODY_IDLE at most; a response waiting on a client that does not
  read (its buffer full) for WRITE_STALL is dropped, buffer and all; an idle kept-alive
  connection goes after uvicorn's `timeout_keep_alive`.

The figures, and why: a household's clients (the page with its event stream, Bazarr, Open
WebUI, another earwig) hold a handful of connections; PER_ADDRESS = 64 leaves a browser, a
pool and a script room many times over, and MAX_CONNECTIONS = 512 lets eight such addresses
at their cap in. RESERVE = 256 covers what the daemon opens besides HTTP (socket clients,
SQLite's files, a dozen downloads, hooks' pipes, the decoder), with room for the accept
that is refused. Ten seconds for headers is generous for any real client on a LAN and short
enough that a slow-header flood from one address holds at most 64 descriptors, each for ten
seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("earwig.http")

MAX_CONNECTIONS = 512
PER_ADDRESS = 64
RESERVE = 256
HEADER_TIMEOUT = 10.0
BODY_IDLE = 60.0
WRITE_STALL = 30.0
REPORT_EVERY = 60.0  # seconds between "refused N connections" lines while it lasts


def _refusal() -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": "busy",
                "message": "earwig has too many HTTP connections open",
                "hint": "try again in a moment",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"retry-after: 5\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REFUSAL = _refusal()
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


def descriptor_budget() -> int:
    """How many connections HTTP may hold now: the soft descriptor limit less the reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(0, min(MAX_CONNECTIONS, soft - min(RESERVE, soft // 4)))


class Gate:
    """Counts the open HTTP connections by address; admits or refuses each new one."""

    def __init__(self, exempt: Callable[[str], bool] = lambda address: False) -> None:
        self.exempt = exempt  # a reverse proxy: no per-address cap
        self.by_address: Counter[str] = Counter()
        self.transports: dict[asyncio.BaseTransport, str] = {}
        self.refused = 0  # since the last report
        self._reported = -REPORT_EVERY

    @property
    def open(self) -> int:
        return sum(self.by_address.values())

    def admit(self, address: str) -> bool:
        """Count a new connection from `address` in, or say no (and report it, at most a
        line a minute)."""
        budget = descriptor_budget()
        full = self.open >= budget
        crowded = self.by_address[address] >= PER_ADDRESS and not self.exempt(address)
        if not (full or crowded):
            self.by_address[address] += 1
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._reported >= REPORT_EVERY:
            why = (
                f"{self.open} open, the most the descriptor budget allows ({budget})"
                if full
                else f"{PER_ADDRESS} open from {address}, the most one address may hold"
            )
            log.warning(
                "HTTP: refused %d connection(s) since the last report: %s; the socket, the "
                "queue and transcription are not affected",
                self.refused,
                why,
            )
            self.refused, self._reported = 0, now
        return False

    def bind(self, transport: asyncio.BaseTransport, address: str) -> None:
        self.transports[transport] = address

    def release(self, transport: asyncio.BaseTransport) -> None:
        """The connection on `transport` is closed (whichever protocol last had it)."""
        address = self.transports.pop(transport, None)
        if address is not None:
            self.forget(address)

    def forget(self, address: str) -> None:
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


def refuse(conn: socket.socket) -> None:
    """A short 503 and the door closed, without reading what the client sent."""
    try:
        conn.setblocking(False)
        conn.send(REFUSAL)
    except OSError:
        pass
    finally:
        conn.close()


class _Stall(asyncio.Protocol):
    """Drops a connection whose client stops reading for WRITE_STALL: its buffer is not
    kept waiting (never-reading event-stream clients grew the daemon by a gigabyte)."""

    transport: Any
    loop: asyncio.AbstractEventLoop
    _stall: asyncio.TimerHandle | None = None

    def _stalled(self) -> None:
        self._stall = None
        self.transport.abort()

    def _watch_stall(self) -> None:
        if self._stall is None:
            self._stall = self.loop.call_later(WRITE_STALL, self._stalled)

    def _unwatch_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def pause_writing(self) -> None:
        super().pause_writing()
        self._watch_stall()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._unwatch_stall()


def protocols(gate: Gate) -> tuple[type[asyncio.Protocol], type[asyncio.Protocol]]:
    """uvicorn's HTTP and WebSocket protocols with the timeouts above, counting their
    connections out of `gate` when they close."""

    class Http(_Stall, H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _request: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(HEADER_TIMEOUT, self._too_slow)

        def _arm(self, seconds: float, then: Callable[[], None]) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, then)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            """No whole request line and headers in time: 408, and closed."""
            self._timer = None
            if not self.transport.is_closing():
                self.transport.write(TIMED_OUT)
                self.transport.close()

        def _body_stalled(self) -> None:
            self._timer = None
            self.transport.close()  # the route reading the body sees the client gone

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.get_protocol() is not self:  # upgraded to a WebSocket
                self._disarm()
                return
            cycle = self.cycle
            if cycle is None:
                return  # still in the headers: their deadline stands, however it trickles
            if cycle is not self._request:  # a new request's headers are complete
                self._request = cycle
                self._disarm()
            if cycle.more_body and not cycle.response_complete:
                self._arm(BODY_IDLE, self._body_stalled)  # each chunk gives it more time
            elif self._timer is not None:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # kept alive: the next request's headers
                self._arm(HEADER_TIMEOUT, self._too_slow)  # get the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._unwatch_stall()
            super().connection_lost(exc)
            gate.release(self.transport)

    class WebSocket(_Stall, WebSocketsSansIOProtocol):
        def connection_lost(self, exc: Exception | None) -> None:
            self._unwatch_stall()
            super().connection_lost(exc)
            gate.release(self.transport)

    return Http, WebSocket
