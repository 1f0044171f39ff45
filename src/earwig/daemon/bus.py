"""Fan-out of events to connected clients, built so a slow client can never stall the daemon.

Each connection has its own outbox: replies in order, events in a bounded queue (overflow is
dropped and shows up as a gap in `seq`, which tells the client to fetch a snapshot), and
progress coalesced to the latest value per job. Publishing never awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from earwig import protocol

MAX_QUEUED_EVENTS = 2000
MAX_PENDING_REPLIES = 8  # a client that sends without reading is not read from past this


class Outbox:
    """What one connection still has to send, drained by its own writer task."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.topics: set[str] = set()
        self._replies: deque[protocol.Message] = deque()
        self._events: deque[tuple[str, Any]] = deque()  # (name, data)
        self._progress: dict[int, protocol.Progress] = {}
        self._seq = 0
        self._dropped = 0
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._closed = False
        self.task = asyncio.create_task(self._drain())

    def reply(self, message: protocol.Message) -> None:
        self._replies.append(message)
        self._wake.set()

    async def room(self) -> None:
        """Wait while this connection has too many replies it has not taken: a client that
        sends requests and never reads the answers stalls itself, not the daemon."""
        while len(self._replies) >= MAX_PENDING_REPLIES:
            if self.task.done():
                raise ConnectionError("the connection's writer has stopped")
            self._flushed.clear()
            await self._flushed.wait()

    def event(self, event: protocol.Event[Any]) -> None:
        if len(self._events) >= MAX_QUEUED_EVENTS:
            self._dropped += 1
            return
        self._events.append((event.kind.name, event.data))
        self._wake.set()

    def progress(self, job_id: int, data: protocol.Progress) -> None:
        self._progress[job_id] = data
        self._wake.set()

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self.task
        with contextlib.suppress(Exception):
            self.writer.close()

    async def _drain(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch: list[protocol.Message] = []
                while self._replies:
                    batch.append(self._replies.popleft())
                while self._events:
                    name, data = self._events.popleft()
                    self._seq += 1 + self._dropped
                    self._dropped = 0
                    batch.append(protocol.event(name, data, self._seq))
                progress, self._progress = self._progress, {}
                batch.extend(
                    protocol.event(protocol.JOB_PROGRESS.name, p) for p in progress.values()
                )
                if batch:
                    await self._send(batch)
                self._flushed.set()
                if self._closed and not (self._replies or self._events or self._progress):
                    return
        except (ConnectionError, RuntimeError):
            self._flushed.set()  # wake a reader waiting for room: it finds the task done
            return  # the client went away; the reader side cleans up

    async def _send(self, batch: list[protocol.Message]) -> None:
        """Write one batch and wait until the connection took it (the HTTP event streams
        hand theirs on as messages instead: web/events.py)."""
        self.writer.write(b"".join(protocol.encode(m) for m in batch))
        await self.writer.drain()


class Bus:
    """Publish job, queue and log events to every connection subscribed to their topic."""

    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()
        self.progress: dict[int, protocol.Progress] = {}  # latest progress per running job
        self.live: dict[int, list[protocol.SegmentView]] = {}  # a running job's lines so far
        self._listeners: list[Callable[[protocol.Event[Any]], None]] = []
        # how many events have been published: a snapshot made at one version holds
        # everything up to it (web/events.py shares one among subscribers while it stands)
        self.version = 0

    def attach(self, box: Outbox) -> None:
        """Start sending events to this connection (its topics are set)."""
        self.outboxes.add(box)

    def detach(self, box: Outbox) -> None:
        self.outboxes.discard(box)

    def listen(self, listener: Callable[[protocol.Event[Any]], None]) -> Callable[[], None]:
        """Call `listener` with every event, in process and synchronously (the API jobs'
        service waiting for its jobs): it must not block. Returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, event: protocol.Event[Any]) -> None:
        """Send one event (`protocol.JOB_ADDED(view)`) to its topic's subscribers."""
        self.version += 1
        for listener in list(self._listeners):
            listener(event)
        for box in self.outboxes:
            if event.kind.topic in box.topics:
                box.event(event)

    def publish_progress(self, job_id: int, data: protocol.Progress) -> None:
        self.version += 1
        self.progress[job_id] = data
        for box in self.outboxes:
            if "jobs" in box.topics:
                box.progress(job_id, data)

    def publish_segments(self, job_id: int, segments: list[protocol.SegmentView]) -> None:
        """A running job's new lines: kept (a client opening the job later gets them from
        job.get) and sent as one job.segments event."""
        self.live.setdefault(job_id, []).extend(segments)
        self.publish(protocol.JOB_SEGMENTS({"id": job_id, "segments": segments}))

    def clear_progress(self, job_id: int) -> None:
        self.progress.pop(job_id, None)
        self.live.pop(job_id, None)
