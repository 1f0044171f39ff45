"""How steering reaches a job that is running in a worker thread.

The worker polls `is_set` (the backend between segments, yt-dlp in its progress hook); the
request says what the job becomes once it has stopped: paused, cancelled or back in the queue.

A backend can only look between pieces of its own work, and one piece can take seconds on a
busy machine (CTranslate2 decodes a batch of eight 30 s chunks in one call that nothing can
interrupt). So the runner does not wait for that: `unless_stopped` gives up on the work the
moment a stop is asked, the job changes state at once, and the worker thread finishes its
piece, sees the request and ends (its slot stays busy until then).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TypeVar

from earwig.errors import Aborted
from earwig.jobs import Action

T = TypeVar("T")


class AbortHandle:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._asked = asyncio.Event()  # the same, for the event loop to wait on
        self.action = Action.REQUEUE
        # the job has stopped and let go of its slot while its engine finishes: a later
        # run of the same job (resumed at once) has a handle of its own
        self.released = False

    def request(self, action: Action) -> None:
        """Ask the job to stop and become `action`'s state (called on the event loop)."""
        self.action = action
        self._event.set()
        self._asked.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def unless_stopped(self, work: Awaitable[T]) -> T:
        """`work`'s result, or Aborted as soon as a stop is asked, without waiting for the
        work to notice (it goes on until its next check; the caller waits for it later, with
        `leftover`, before its worker takes another job)."""
        task = asyncio.ensure_future(work)
        asked = asyncio.ensure_future(self._asked.wait())
        try:
            await asyncio.wait({task, asked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            asked.cancel()
        if task.done() or not self.is_set():
            return task.result()
        stopped = Aborted("asked to stop")
        stopped.leftover = task
        raise stopped


async def leftover(exc: Aborted) -> None:
    """Wait until the work a stop gave up on (`Aborted.leftover`) has ended, its outcome
    dropped: the job has changed state already; this frees the engine for the next one."""
    task = exc.leftover
    if task is None:
        return
    try:
        await task
    except BaseException:  # Aborted, mostly: what it says no longer matters
        return


class Aborts:
    """The running jobs that can be asked to stop, by job id."""

    def __init__(self) -> None:
        self._handles: dict[int, AbortHandle] = {}

    def register(self, job_id: int) -> AbortHandle:
        handle = self._handles[job_id] = AbortHandle()
        return handle

    def unregister(self, job_id: int, handle: AbortHandle | None = None) -> None:
        """Forget a job's handle (with `handle`: only if it is still that one, not the handle
        of a later run of the same job)."""
        if handle is None or self._handles.get(job_id) is handle:
            self._handles.pop(job_id, None)

    def request(self, job_id: int, action: Action) -> bool:
        """Ask a running job to stop; False if it is not running."""
        handle = self._handles.get(job_id)
        if handle is None:
            return False
        handle.request(action)
        return True

    def request_all(self, action: Action) -> None:
        for handle in self._handles.values():
            handle.request(action)
