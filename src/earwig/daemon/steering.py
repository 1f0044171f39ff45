"""Steering: what a person asks of jobs and of the queue (pause, resume, cancel, retry,
to the top, delete; a slot drained; the whole queue paused), from the CLI, the dashboard or
the web page alike, through the socket's handlers (daemon/handlers.py). A running job is
stopped through its abort flag (the runner ends it as asked at once, aborts.py); a waiting
one moves at once through the queue (advance -> store -> publish -> wake).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earwig import protocol
from earwig.daemon.aborts import Aborts
from earwig.daemon.bus import Bus
from earwig.daemon.followups import Followups
from earwig.daemon.pool import Slot
from earwig.daemon.queue import JobQueue
from earwig.errors import InvalidTransition
from earwig.jobs import Action
from earwig.model import Job, JobState


class Steering:
    def __init__(
        self,
        queue: JobQueue,
        aborts: Aborts,
        bus: Bus,
        log: Callable[..., None],
        check_model: Callable[[str], object],
        slot: Callable[[str], Slot],
        followups: Followups,
    ) -> None:
        self.queue = queue
        self.aborts = aborts
        self.bus = bus
        self.log = log
        self.check_model = check_model  # refuses a model that is unknown or cannot run here
        self.slot = slot  # the pool's slot of that name
        self.followups = followups  # a done job's [llm] stage: its summary, translations

    def pause_job(self, job_id: int) -> Job:
        if self.aborts.request(job_id, Action.PAUSE):
            return self.queue.store.get_job(job_id)
        if (staged := self._stage(job_id, "pause")) is not None:
            return staged
        return self.queue.transition(job_id, Action.PAUSE)

    async def until_stopped(self, job: Job, within: float = 2.0) -> Job:
        """A running job asked to stop, once it has: the runner changes its state the moment
        it is asked (aborts.py), so the answer can say "paused" (and what is kept) rather
        than "stopping". A download stops at yt-dlp's next progress report: one that has not
        within `within` seconds is answered as it is then (its event follows)."""
        deadline = time.monotonic() + within
        while job.state.running and job.id is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            job = self.queue.store.get_job(job.id)
        return job

    def resume_job(self, job_id: int) -> Job:
        if (staged := self._stage(job_id, "resume")) is not None:
            return staged
        return self.queue.transition(job_id, Action.RESUME)

    def cancel_job(self, job_id: int) -> Job:
        if self.aborts.request(job_id, Action.CANCEL):
            return self.queue.store.get_job(job_id)
        if (staged := self._stage(job_id, "cancel")) is not None:
            return staged
        return self.queue.transition(job_id, Action.CANCEL)

    def _stage(self, job_id: int, action: str) -> Job | None:
        """A done job's pause, resume and cancel are about its [llm] stage, if it has one
        (its transcript is safe whatever happens to that)."""
        if self.queue.store.get_job(job_id).state is not JobState.DONE:
            return None
        return self.followups.steer(job_id, action)

    def translate_job(self, job_id: int, language: str) -> Job:
        """Subtitles of a done job in another language, by the [llm] model."""
        return self.followups.translate(job_id, language)

    def retry_job(self, job_id: int, model: str | None = None, only: str | None = None) -> Job:
        """Queue a finished job again; with `model`, transcribe it with that model (its
        transcript, outputs and search hits are replaced, and record the model); with
        `only` ("summary", "translation"), just ask the [llm] model again, keeping the
        transcript."""
        if only is not None:
            return self.followups.retry(job_id, only)
        job = self.queue.store.get_job(job_id)
        if model is not None:
            self.check_model(model)  # an unknown or unusable model is refused now
        changes: dict[str, Any] = {"model_request": model, "stage": None}
        if job.url and job.path and not Path(job.path).exists():
            changes["path"] = None  # its media was cleaned up: download it again
        retried = self.queue.transition(job_id, Action.RETRY, changes=changes)
        self.followups.forget(job_id)  # its new transcript gets its own
        return retried

    def prioritize_job(self, job_id: int) -> Job:
        job = self.queue.store.get_job(job_id)
        if job.state not in (JobState.QUEUED, JobState.PAUSED):
            raise InvalidTransition(f"job {job_id} is {job.state}; only waiting jobs can move up")
        top = self.queue.store.max_priority()
        return self.queue.save(job.replace(priority=top + 1, updated_at=time.time()))

    def delete_job(self, job_id: int) -> int:
        """Forget a finished job (its transcript files on disk stay where they are)."""
        job = self.queue.store.get_job(job_id)
        if not job.state.finished:
            raise InvalidTransition(
                f"job {job_id} is {job.state}; only finished jobs can be deleted",
                f"`earwig cancel {job_id}` first",
            )
        self.queue.store.remember_deleted(job)  # the next scan of its folder leaves it alone
        self.followups.forget(job_id)
        self.queue.delete(job_id)
        self.log("info", f"deleted job {job_id} ({job.title})")
        return job_id

    def drain_slot(self, name: str, drain: bool) -> protocol.SlotView:
        """Stop giving a slot new jobs (its running ones finish), or give them again."""
        slot = self.slot(name)
        slot.drained = drain
        self.log("info", f"{name}: {'drained: no new jobs' if drain else 'takes jobs again'}")
        self.queue.wake()
        return slot.view()

    def set_queue_paused(self, paused: bool) -> None:
        self.queue.paused = paused
        self.log(
            "info",
            "queue paused: running job finishes, no new ones start" if paused else "queue resumed",
        )
        self.bus.publish(protocol.QUEUE({"paused": paused}))
        self.queue.wake()
