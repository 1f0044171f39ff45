"""The job queue: the one way a job changes, and the one way workers learn that it did.

Every change goes advance (pure, jobs.py) -> store (saved) -> publish (event) -> wake, so no
client ever sees a state that a crash could take back, and no worker sleeps through work.
Workers (the runner, the download workers) take `signal()` before they look for work and
`wait()` on it when they found none: a change in between is never missed.

`Events` is what the daemon says: its log (file, database, subscribers) and job progress.
Both take only the store and the bus, so they can be built in a test without a daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from earwig import jobs, redact
from earwig.daemon.bus import Bus
from earwig.errors import EarwigError
from earwig.jobs import Action
from earwig.model import Job, JobState, Segment
from earwig.protocol import (
    JOB_ADDED,
    JOB_DELETED,
    JOB_UPDATED,
    LOG,
    JobView,
    Progress,
    SegmentView,
)
from earwig.sources.errors import RateLimited
from earwig.store import Store

log = logging.getLogger("earwig")
_LEVELS = logging.getLevelNamesMapping()


class Events:
    """The daemon's voice: log lines (to the log file, the database and subscribers, with
    secrets scrubbed) and progress (coalesced per job by the bus)."""

    def __init__(self, store: Store, bus: Bus, secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.bus = bus
        self.secrets = list(secrets)

    def scrub(self, text: str) -> str:
        return redact.scrub(text, self.secrets)

    def log(self, level: str, message: str, job_id: int | None = None) -> None:
        message = self.scrub(message)
        log.log(_LEVELS[level.upper()], message)
        entry = self.store.log(level, message, job_id)
        self.bus.publish(LOG(entry))

    def progress(self, job_id: int, data: Progress) -> None:
        self.bus.publish_progress(job_id, data)

    def clear_progress(self, job_id: int) -> None:
        self.bus.clear_progress(job_id)

    def segments(self, job_id: int, segments: list[Segment]) -> None:
        """Lines of a running job's transcript, as the engine finishes them."""
        self.bus.publish_segments(job_id, [segment_view(s) for s in segments])


def segment_view(s: Segment) -> SegmentView:
    """A segment as clients see it (job.get's transcript, job.segments events)."""
    return {
        "start": s.start,
        "end": s.end,
        "text": s.text,
        "speaker": s.speaker,
        "language": s.language,
    }


@dataclass(frozen=True)
class RetryPolicy:
    """How a job that hit a temporary error is retried: read from [daemon] at each failure,
    so a reload applies at once."""

    max_attempts: int
    backoff: float  # seconds before the first retry; doubles with each attempt


class JobQueue:
    def __init__(
        self,
        store: Store,
        events: Events,
        policy: Callable[[], RetryPolicy],
        *,
        waiting: Callable[[Job], str | None] = lambda job: None,
        on_finished: Callable[[JobView], None] = lambda view: None,
        back_off: Callable[[str, float], object] = lambda host, seconds: None,
    ) -> None:
        self.store = store
        self.events = events
        self.policy = policy
        self.waiting = waiting  # why a queued job cannot start yet (the model downloads)
        self.on_finished = on_finished  # hooks: a job reached done or failed
        self.back_off = back_off  # a host answered 429: leave it alone for a while
        self.paused = False
        self.halted: str | None = None  # why no work may be taken at all (the database)
        self._signal = asyncio.Event()

    # ------------------------------------------------------------ waking workers

    def signal(self) -> asyncio.Event:
        """Take this before looking for work; `wait` on it if there was none."""
        return self._signal

    def wake(self) -> None:
        """Something changed that a worker may act on: wake every waiting worker."""
        current, self._signal = self._signal, asyncio.Event()
        current.set()

    async def wait(self, signal: asyncio.Event, timeout: float) -> bool:
        """Sleep until woken or `timeout`; True when woken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout)
        return signal.is_set()

    def next_wakeup(self, default: float) -> float:
        """Seconds until the earliest backoff ends, at most `default`."""
        when = self.store.next_wakeup()
        return default if when is None else min(default, max(0.05, when - time.time()))

    # ------------------------------------------------------------ changing jobs

    def transition(
        self, job_id: int, action: Action, *, changes: dict[str, Any] | None = None, **kw: Any
    ) -> Job:
        job = jobs.advance(self.store.get_job(job_id), action, time.time(), **kw)
        if changes:
            job = job.replace(**changes)
        if action is Action.CANCEL and job.state is JobState.DONE:  # a retry called off
            job = job.replace(**self._as_it_was(job_id))
        self.store.save_job(job)
        view = self.view(job)
        self.events.bus.publish(JOB_UPDATED(view))
        if job.state in (JobState.DONE, JobState.FAILED):
            self.on_finished(view)
        if job.state is JobState.FAILED:
            self._successor(job)
        if job.state is JobState.QUEUED:
            self.wake()
        return job

    def _as_it_was(self, job_id: int) -> dict[str, Any]:
        """A done job's record as its kept transcript says (a retry may have named another
        model, backend or length before it was called off)."""
        kept = self.store.get_transcript(job_id)
        if kept is None:
            return {"model_request": None}
        return {
            "backend": kept.backend,
            "model": kept.model,
            "duration": kept.duration,
            "language": kept.language,
            "languages": kept.languages,
            "model_request": None,
        }

    def _successor(self, failed: Job) -> None:
        """A job cancelled as "same media as job N" takes N's place when N fails: the media
        still has no transcript, and that job is the one left to make it."""
        waiting = self.store.same_media_cancelled(failed)
        if waiting is None or waiting.id is None:
            return
        self.transition(waiting.id, Action.RETRY)
        self.events.log(
            "info",
            f"{waiting.title}: job {failed.id} (the same media) failed; this one is "
            "transcribed in its place",
            waiting.id,
        )

    def save(self, job: Job) -> Job:
        """Save a change that is not a state transition (priority), then publish it."""
        self.store.save_job(job)
        self.events.bus.publish(JOB_UPDATED(self.view(job)))
        return job

    def add(self, job: Job) -> Job:
        """Insert a new job (from jobs.new) and tell subscribers and workers."""
        return self.announce(self.store.add_job(job))

    def announce(self, job: Job) -> Job:
        """Publish a job that was just inserted (by the inbox, a check, an add)."""
        self.events.bus.publish(JOB_ADDED(self.view(job)))
        self.wake()
        return job

    def delete(self, job_id: int) -> None:
        self.store.delete_job(job_id)
        self.events.bus.publish(JOB_DELETED({"id": job_id}))

    def fail(self, job_id: int, exc: EarwigError, host: str | None = None) -> None:
        """Fail a job, or requeue it with backoff when the error may go away by itself."""
        exc.message = self.events.scrub(exc.message)  # never a secret in the record
        exc.hint = self.events.scrub(exc.hint)
        current = self.store.get_job(job_id)
        policy = self.policy()
        if not exc.permanent and current.attempts + 1 < policy.max_attempts:
            delay = policy.backoff * 2**current.attempts
            if isinstance(exc, RateLimited) and host:
                delay = max(delay, exc.retry_after or 0)
                self.back_off(host, delay)
            self.transition(
                job_id,
                Action.REQUEUE,
                count_attempt=True,
                not_before=time.time() + delay,
                error=exc.message,
                hint=exc.hint,
            )
            self.events.log(
                "warning", f"will retry in {delay:.0f}s: {current.title}: {exc.message}", job_id
            )
            return
        hint = exc.hint
        if not exc.permanent:  # its hint promised another try: this was the last one
            tries = current.attempts + 1
            hint = (
                f"tried {tries} time{'s' if tries > 1 else ''}, the last one just now; "
                f"`earwig retry {job_id}` tries again"
            )
        self.transition(job_id, Action.FAIL, error=exc.message, hint=hint, count_attempt=True)
        self.events.log("error", f"failed: {current.title}: {exc.message}", job_id)

    def hand_back(self, job_id: int, exc: EarwigError) -> bool:
        """A slot failed the job, not the file (its server went down): back to the queue at
        once for another slot, the attempt counted, unless its attempts are spent (then it
        fails). True when it went back."""
        exc.message = self.events.scrub(exc.message)
        exc.hint = self.events.scrub(exc.hint)
        current = self.store.get_job(job_id)
        if current.attempts + 1 >= self.policy().max_attempts:
            self.fail(job_id, exc)
            return False
        self.transition(
            job_id, Action.REQUEUE, count_attempt=True, error=exc.message, hint=exc.hint
        )
        self.events.log("info", f"{current.title}: back in the queue for another slot", job_id)
        return True

    # ------------------------------------------------------------ views

    def view(self, job: Job) -> JobView:
        """A job as clients see it: its record, its live progress, why it waits."""
        view = cast(JobView, job.to_dict())  # the fields of model.Job: test_protocol.py
        for key in ("title", "url", "error", "hint"):  # a URL's user:password, a signed query
            if text := view.get(key):
                view[key] = self.events.scrub(str(text))
        if job.id in self.events.bus.progress:
            view["progress"] = self.events.bus.progress[job.id]
        if job.state is JobState.QUEUED and (note := self.waiting(job)):
            view["waiting"] = note
        return view
