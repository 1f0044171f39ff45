"""/api/events (Server-Sent Events) and /api/ws (WebSocket): the socket's event stream.

Each HTTP client gets the same Outbox a socket connection gets (daemon/bus.py), handing its
batches to a Feed instead of a socket: the Outbox drops events past its bound and coalesces
progress per job, and the Feed gives it the client's own pace (its `drain` waits until the
client took the last batch), so a client that never reads stalls only itself, never the
daemon. What every stream shares is made once: the snapshot while nothing changes, and each
event's JSON (500 streams used to cost 500 snapshots and 1,500 encodings an event).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any, cast

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from earwig import protocol
from earwig.daemon import dispatch
from earwig.daemon.bus import Outbox
from earwig.errors import ProtocolError
from earwig.web.host import Host
from earwig.web.rest import NOT_ROUTED


class Feed:
    """Where an HTTP client's outbox puts its batches of messages, taken by the response
    at the client's own pace (`drain` waits until the client took the last batch)."""

    def __init__(self) -> None:
        self._batches: deque[list[protocol.Message]] = deque()
        self._ready = asyncio.Event()
        self._taken = asyncio.Event()
        self.closed = False
        self.ender: asyncio.Future[None] | None = None  # closes it when the daemon stops

    def put(self, batch: list[protocol.Message]) -> None:
        if self.closed:
            raise ConnectionError("the HTTP client has gone")
        self._batches.append(batch)
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

    async def batches(self) -> AsyncIterator[list[protocol.Message]]:
        """What the outbox has put since the last batch was taken, all at once: a stream
        that fell behind by a few events writes them in one go."""
        while not self.closed:
            if not self._batches:
                self._ready.clear()
                await self._ready.wait()
                continue
            taken = [m for batch in self._batches for m in batch]
            self._batches.clear()
            yield taken
            if not self._batches:
                self._taken.set()

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        async for batch in self.batches():
            for message in batch:
                yield message


class FeedOutbox(Outbox):
    """An outbox whose batches go to a Feed as messages: each event's data is encoded once
    for all the streams (data_json), not encoded, decoded and encoded again per client."""

    async def _send(self, batch: list[protocol.Message]) -> None:
        feed = cast(Feed, self.writer)
        feed.put(batch)
        await feed.drain()


# The JSON of recent events' data, by identity: one event reaches every stream with the same
# data object, so 500 streams cost one encoding, not 500 (the loop spent seconds on them).
_encoded: OrderedDict[int, tuple[Any, str]] = OrderedDict()
_ENCODED_KEPT = 512


def data_json(data: Any) -> str:
    key = id(data)
    hit = _encoded.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    text = _dumps(data)
    _encoded[key] = (data, text)  # the object is kept, so its id is not reused meanwhile
    if len(_encoded) > _ENCODED_KEPT:
        _encoded.popitem(last=False)
    return text


def message_json(message: dict[str, Any]) -> str:
    """A socket message as /api/ws sends it, an event's data encoded once for all."""
    if message.get("type") != "event":
        return _dumps(message)
    head = {k: v for k, v in message.items() if k != "data"}
    return _dumps(head)[:-1] + f',"data":{data_json(message["data"])}}}'


# The snapshot as JSON text, shared by the subscribers that arrive while no event has been
# published and within the same second: (topics, limit) -> ((bus version, second), text).
# 500 event-stream clients arriving at once each had their own: 500 x 100 ms of the loop
# (`earwig status` waited seconds) and 500 copies of it (the daemon grew by 900 MB).
_shared: dict[tuple[tuple[str, ...], int | None], tuple[tuple[int, int], str]] = {}


async def subscribe(
    host: Host, topics: list[str], limit: int | None = None
) -> tuple[Outbox, Feed, str]:
    """A subscription as the socket's `subscribe` request makes one: its snapshot as JSON
    text (with the newest `limit` jobs; None: the request's default), and the outbox its
    events arrive in."""
    feed = Feed()
    stop = host.stop

    async def end_on_stop() -> None:  # the stream ends when the daemon stops, so the
        await stop.wait()  # server closes at once instead of cancelling it after its grace
        feed.close()

    feed.ender = asyncio.ensure_future(end_on_stop())
    box = FeedOutbox(cast(asyncio.StreamWriter, feed))
    params: dict[str, Any] = {"topics": topics}
    if limit is not None:
        params["limit"] = limit
    key = (tuple(sorted(topics)), limit)
    stamp = (host.bus.version, int(time.monotonic()))
    shared = _shared.get(key)
    if shared is not None and shared[0] == stamp:
        # no event since that snapshot was made: it holds all this one would, and every
        # event from now on reaches this outbox (attached as the subscribe handler does)
        protocol.parse_params("subscribe", params)
        box.topics.update(topics)
        host.bus.attach(box)
        return box, feed, shared[1]
    snapshot: protocol.Snapshot = await dispatch.call(host, "subscribe", params, box)
    text = _dumps(snapshot)
    _shared[key] = (stamp, text)
    return box, feed, text


async def close(host: Host, box: Outbox, feed: Feed) -> None:
    host.bus.detach(box)
    feed.close()
    if feed.ender is not None:
        feed.ender.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(box.close(), 2)


SSE_PIECE = 32 * 1024  # bytes written at a time: the server waits for a slow reader between
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def sse_frame(event: str, data: str, event_id: int | None = None) -> bytes:
    """One Server-Sent Event (`data` is one line of JSON: it holds no newline)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {data}\n\n".encode()


def sse_events(host: Host, limit: int | None = None) -> AsyncIterator[bytes]:
    """The SSE stream, as bytes: `snapshot` first, then one event per socket event. `limit`
    (web, for the page): how many of the newest jobs the snapshot carries, checked here,
    before the stream starts, so a bad one is a 400 and not a broken stream.

    Written in pieces of SSE_PIECE bytes: the server waits for a client that does not read
    before each next piece, so such a client holds a piece or two of memory, not a whole
    snapshot (which, for 500 jobs, is about a megabyte)."""
    if limit is not None:
        protocol.parse_params("subscribe", {"limit": limit})

    async def stream() -> AsyncIterator[bytes]:
        box, feed, snapshot = await subscribe(host, ["jobs", "log"], limit)
        try:
            frame = sse_frame("snapshot", snapshot)
            del snapshot
            for start in range(0, len(frame), SSE_PIECE):
                yield frame[start : start + SSE_PIECE]
            del frame
            async for batch in feed.batches():
                yield b"".join(
                    sse_frame(m["event"], data_json(m["data"]), m.get("seq"))
                    for m in batch
                    if m.get("type") == "event"
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
        await socket.send_text(f'{{"type":"snapshot","data":{snapshot}}}')
        async for message in feed.messages():
            await socket.send_text(message_json(message))

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
