"""/api/events (Server-Sent Events) and /api/ws (WebSocket): the socket's event stream.

Each HTTP client gets the same Outbox a socket connection gets (daemon/bus.py), writing into
a Feed instead of a socket: the Outbox drops events past its bound and coalesces progress
per job, and the Feed gives it the client's own pace (its `drain` waits until the client
took the last batch), so a client that never reads stalls only itself, never the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEventMessage

from earwig import protocol
from earwig.daemon import dispatch
from earwig.daemon.bus import Outbox
from earwig.errors import ProtocolError
from earwig.web.host import Host
from earwig.web.rest import NOT_ROUTED


class Feed:
    """A stand-in for asyncio.StreamWriter that hands NDJSON batches to an HTTP response."""

    def __init__(self) -> None:
        self._batches: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._taken = asyncio.Event()
        self.closed = False
        self.ender: asyncio.Future[None] | None = None  # closes it when the daemon stops

    def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionError("the HTTP client has gone")
        self._batches.append(data)
        self._ready.set()

    async def drain(self) -> None:
        while self._batches:
            if self.closed:
                raise ConnectionError("the HTTP client has gone")
            self._taken.clear()
            await self._taken.wait()

    def close(self) -> None:
        self.closed = True
        self._taken.set()
        self._ready.set()

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        while not self.closed:
            if not self._batches:
                self._ready.clear()
                await self._ready.wait()
                continue
            batch = self._batches.popleft()
            for line in batch.splitlines():
                if line.strip():
                    yield json.loads(line)
            if not self._batches:
                self._taken.set()


async def subscribe(
    host: Host, topics: list[str], limit: int | None = None
) -> tuple[Outbox, Feed, protocol.Snapshot]:
    """A subscription as the socket's `subscribe` request makes one: its snapshot (with the
    newest `limit` jobs; None: the request's default), and the outbox its events arrive in."""
    feed = Feed()
    stop = host.stop

    async def end_on_stop() -> None:  # the stream ends when the daemon stops, so the
        await stop.wait()  # server closes at once instead of cancelling it after its grace
        feed.close()

    feed.ender = asyncio.ensure_future(end_on_stop())
    box = Outbox(cast(asyncio.StreamWriter, feed))
    params: dict[str, Any] = {"topics": topics}
    if limit is not None:
        params["limit"] = limit
    snapshot: protocol.Snapshot = await dispatch.call(host, "subscribe", params, box)
    return box, feed, snapshot


async def close(host: Host, box: Outbox, feed: Feed) -> None:
    host.bus.detach(box)
    feed.close()
    if feed.ender is not None:
        feed.ender.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(box.close(), 2)


def sse_events(host: Host, limit: int | None = None) -> AsyncIterator[ServerSentEventMessage]:
    """The SSE stream: `snapshot` first, then one event per socket event. `limit` (web, for
    the page): how many of the newest jobs the snapshot carries, checked here, before the
    stream starts, so a bad one is a 400 and not a broken stream."""
    if limit is not None:
        protocol.parse_params("subscribe", {"limit": limit})

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        box, feed, snapshot = await subscribe(host, ["jobs", "log"], limit)
        try:
            yield ServerSentEventMessage(data=_dumps(snapshot), event="snapshot")
            async for message in feed.messages():
                if message.get("type") != "event":
                    continue
                yield ServerSentEventMessage(
                    data=_dumps(message["data"]), event=message["event"], id=message.get("seq")
                )
        finally:
            await close(host, box, feed)

    return stream()


async def websocket_session(host: Host, socket: WebSocket) -> None:
    """/api/ws: `{"type": "snapshot", "data": ...}` first, then the socket's event messages;
    the client may send socket requests (`{"id", "type", "params"}`) and gets their replies,
    answered by the socket's own dispatcher (a bug in a handler is an `internal` reply and
    the session goes on)."""
    await socket.accept()
    box, feed, snapshot = await subscribe(host, ["jobs", "log"])

    async def pump() -> None:
        await socket.send_text(_dumps({"type": "snapshot", "data": snapshot}))
        async for message in feed.messages():
            await socket.send_text(_dumps(message))

    sender = asyncio.create_task(pump())
    try:
        while True:
            text = await socket.receive_text()
            try:
                message = protocol.decode(text.encode())
            except ProtocolError as exc:
                box.reply(protocol.error(None, exc.code, exc.message, exc.hint))
                continue
            box.reply(await dispatch.answer(host, message, box, refused=NOT_ROUTED))
            await box.room()
    except (WebSocketDisconnect, ConnectionError, RuntimeError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
        await close(host, box, feed)


def _dumps(data: Any) -> str:
    return protocol.dumps(data).decode()
