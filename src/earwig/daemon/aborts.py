"""How steering reaches a job that is running in a worker thread.

The worker polls `is_set` (the backend between segments, yt-dlp in its progress hook); the
request says what the job becomes once it has stopped: paused, cancelled or back in the queue.
"""

from __future__ import annotations

import threading

from earwig.jobs import Action


class AbortHandle:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.action = Action.REQUEUE

    def request(self, action: Action) -> None:
        self.action = action
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


class Aborts:
    """The running jobs that can be asked to stop, by job id."""

    def __init__(self) -> None:
        self._handles: dict[int, AbortHandle] = {}

    def register(self, job_id: int) -> AbortHandle:
        handle = self._handles[job_id] = AbortHandle()
        return handle

    def unregister(self, job_id: int) -> None:
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
