"""The runner drains the queue: one job at a time, start to finish, heavy work off the loop.

Decoding and transcription run in a worker thread; the event loop stays free to answer the
socket. Every state change goes through the JobQueue (advance -> store -> publish -> wake).
Cancel, pause and shutdown reach a running job through an AbortHandle the backend polls; the
job changes state the moment one is asked, without waiting for the backend (aborts.py). Each
window of a long file is saved as it is finished, so a paused or interrupted job goes on from
the last one (transcribe/pipeline.py: resume).
It is handed what it uses (the queue, the log, the transcribers, the output settings), never
the daemon, so a test can build one with a stand-in transcriber and run it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from earwig import languages, outputs
from earwig.config import OutputConfig
from earwig.daemon import delivery
from earwig.daemon.aborts import AbortHandle, Aborts, leftover
from earwig.daemon.backends import Transcribers
from earwig.daemon.disk import full_reason
from earwig.daemon.pool import PROBE_MAX, Slot, answers
from earwig.daemon.progress import FIRST_RATE, TICK, ProgressClock, rate_from_history
from earwig.daemon.queue import Events, JobQueue
from earwig.errors import Aborted, EarwigError, MediaError, ServerUnavailable
from earwig.formatting import clock
from earwig.jobs import Action
from earwig.model import Job, Segment
from earwig.transcribe import audio, pipeline
from earwig.transcribe.base import TranscribeOptions, Transcriber

if TYPE_CHECKING:
    from earwig.daemon.lane import Lane

log = logging.getLogger("earwig.runner")
T = TypeVar("T")


def job_options(configured: TranscribeOptions, job: Job) -> TranscribeOptions:
    """The configured options, with what this job's request asked for in their place (an
    HTTP API job's language, task, prompt, word timestamps)."""
    names = {f.name for f in dataclasses.fields(TranscribeOptions)}
    asked = {k: v for k, v in job.options.items() if k in names}
    return dataclasses.replace(configured, **asked) if asked else configured


def work_key(transcriber: Transcriber, options: TranscribeOptions) -> str:
    """What made a window's transcript: windows saved under another key (a new model, other
    options since the pause) are not mixed into this run's transcript."""
    return f"{transcriber.name} | {transcriber.model_name} | {options!r}"


class Runner:
    """The workers: one per unit of each slot's capacity (daemon/pool.py), all taking jobs
    from the one queue. A local slot's workers share this machine's transcribers; a server
    slot's send the audio to its server."""

    def __init__(
        self,
        queue: JobQueue,
        events: Events,
        aborts: Aborts,
        backends: Transcribers,
        *,
        output: Callable[[], OutputConfig],
        unload_after: Callable[[], float],
        model_ready: Callable[[], bool] = lambda: True,
        media_done: Callable[[Job], None] = lambda job: None,
        slots: list[Slot] | None = None,
        disk_full: Callable[[int, Path, str], None] | None = None,
        lane: Lane | None = None,
    ) -> None:
        self.queue = queue
        self.events = events
        self.aborts = aborts
        self.backends = backends
        self.output = output  # read per job: a reload of [output] applies to the next one
        self.unload_after = unload_after
        self.model_ready = model_ready
        self.media_done = media_done
        self.slots = slots if slots is not None else [Slot("local", "local", 1)]
        self.running: dict[int, Slot] = {}  # job id -> the slot it runs on
        self._last_active = time.monotonic()
        self.disk_full = disk_full  # a job that cannot write for want of space waits
        self.lane = lane  # short local jobs share engine batches (daemon/lane.py)
        self._jobs: set[asyncio.Task[None]] = set()  # every running job's task
        self._broken: asyncio.Future[None] | None = None

    @property
    def current(self) -> int | None:
        """A running job (the oldest), for `earwig status`."""
        return min(self.running) if self.running else None

    def slot(self, name: str) -> Slot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        from earwig.errors import NotFound

        names = ", ".join(s.name for s in self.slots)
        raise NotFound(f"no slot named {name!r}", f"the slots are: {names}")

    async def run(self, stop: asyncio.Event) -> None:
        for job_id in list(self.running):  # the last run died mid-job: the database failed
            await self._put_back(job_id, stop)
        tasks = [
            asyncio.create_task(self._worker(slot, index, stop))
            for slot in self.slots
            for index in range(slot.capacity)
        ]
        tasks += [asyncio.create_task(self._probe(slot, stop)) for slot in self.slots if slot.url]
        workers = asyncio.gather(*tasks)
        broken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._broken = broken  # a failure of a job riding the short lane
        try:
            either: set[asyncio.Future[Any]] = {workers, broken}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if broken.done():
                broken.result()
            workers.result()
            while self._jobs:  # short jobs still riding the lane after their workers stopped
                await asyncio.gather(*self._jobs)
        finally:
            # One worker died (the database failed): the others stop too, their backends
            # are told to stop at once, and their jobs are put back when the runner restarts.
            for job_id in list(self.running):
                self.aborts.request(job_id, Action.REQUEUE)
            workers.cancel()
            for task in [*tasks, *self._jobs]:
                task.cancel()
            if self.lane is not None:
                self.lane.close()

    def _next_for(self, slot: Slot) -> Job | None:
        q = self.queue
        if q.paused or q.halted or not slot.free:
            return None
        if slot.kind == "local":
            if not self.model_ready():
                return None
            return q.store.next_queued(time.time())
        return q.store.next_queued(time.time(), unpinned=True)  # pinned jobs run locally

    async def _worker(self, slot: Slot, index: int, stop: asyncio.Event) -> None:
        freed: float | None = None
        while not stop.is_set():
            signal = self.queue.signal()
            # better slots that are free too take the job first: this one lets them run
            ahead = sum(1 for s in self.slots if s.free and s.rank() < slot.rank())
            for _ in range(ahead):
                await asyncio.sleep(0)
            job = self._next_for(slot)
            lane = self.lane if slot.kind == "local" else None
            boarded = lane.looked(job) if lane is not None else None
            if job is None:
                await self._idle(signal, slot, index)
                freed = None
                continue
            assert job.id is not None
            if freed is not None:  # the scheduler's own time between two jobs on this slot
                slot.gaps.append(time.monotonic() - freed)
            self.running[job.id] = slot
            slot.busy.add(job.id)
            job = self.queue.transition(job.id, Action.FETCH)  # claimed: no other slot takes it
            task = asyncio.create_task(self._run_job(job, slot, index))
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
            if boarded is not None:
                waiter = asyncio.create_task(boarded.wait())
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if not task.done():  # it rides the short lane: this worker takes another
                    task.add_done_callback(self._rider_ended)
                    freed = time.monotonic()
                    continue
            await task  # its exception (the database failed) stops the runner
            freed = self._last_active

    async def _run_job(self, job: Job, slot: Slot, index: int) -> None:
        assert job.id is not None
        handle = self.aborts.register(job.id)
        try:
            await self._process(job, handle, slot, index)
            # Saved. A job whose saving failed (the database) stays in `running` for
            # run() to put back when the supervisor restarts the runner.
            if not handle.released:
                self.running.pop(job.id, None)
        finally:
            if not handle.released:  # else let go of already (_let_go)
                self._leave(job.id, handle, slot)
                self.events.clear_progress(job.id)  # (a stopped job's went with its state)
            self._last_active = time.monotonic()
            self.queue.wake()  # a slot is free

    def _leave(self, job_id: int, handle: AbortHandle, slot: Slot) -> None:
        """This run of the job no longer holds its handle, its slot or its seat in the lane."""
        self.aborts.unregister(job_id, handle)
        slot.busy.discard(job_id)
        slot.riding.discard(job_id)
        if self.lane is not None:
            self.lane.leave(job_id)

    def _rider_ended(self, task: asyncio.Task[None]) -> None:
        """A job of the short lane ended after its worker moved on: an exception (the
        database failed) must still stop the runner, as it would on the worker."""
        if task.cancelled() or self._broken is None or self._broken.done():
            return
        exc = task.exception()
        if exc is not None:
            self._broken.set_exception(exc)

    async def _probe(self, slot: Slot, stop: asyncio.Event) -> None:
        """A down server is asked again with backoff; once it answers it takes work again."""
        assert slot.url is not None
        while not stop.is_set():
            if slot.up:
                await self.queue.wait(self.queue.signal(), 1.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), slot.probe_in)
            if stop.is_set():
                return
            if await asyncio.to_thread(answers, slot.url):
                slot.up = True
                self.events.log("info", f"server {slot.name} answers again: it takes jobs")
                self.queue.wake()
            else:
                slot.probe_in = min(PROBE_MAX, slot.probe_in * 2)

    async def _put_back(self, job_id: int, stop: asyncio.Event) -> None:
        """Return a job whose result could not be saved (disk full, I/O error) to the queue,
        once the database takes writes again; the attempt is not the file's fault."""
        while not stop.is_set():
            try:
                job = self.queue.store.get_job(job_id)
                if job.state.running:
                    self.queue.transition(job_id, Action.REQUEUE, not_before=time.time() + 5)
                    self.events.log(
                        "warning", f"{job.title}: back in the queue after a database error"
                    )
                self.running.pop(job_id, None)
                return
            except Exception:
                log.exception("cannot put job %s back in the queue yet", job_id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)

    async def _idle(self, signal: asyncio.Event, slot: Slot, index: int) -> None:
        """Sleep until woken, a backoff expires, or it is time to free the model (one local
        worker watches for that)."""
        unload_after = self.unload_after()
        if await self.queue.wait(signal, self.queue.next_wakeup(unload_after)):
            return
        if slot.kind != "local" or index != 0 or self.running:
            return
        idle = time.monotonic() - self._last_active
        if self.backends.loaded and idle >= unload_after:
            await asyncio.to_thread(self.backends.unload)
            self.events.log("info", f"model unloaded after {idle:.0f}s idle")

    def _known_voices(self, job: Job) -> list[tuple[str, list[float]]]:
        """The voices people named, for a job whose speakers are labelled: its source's, or
        all of them (`[transcribe] voices = "everywhere"`)."""
        options = self.backends.options
        if not options.diarize:
            return []
        from earwig.speakers.names import scope_of

        scope = None if options.voices_everywhere else scope_of(job)
        return [(v["name"], v["embedding"]) for v in self.queue.store.known_voices(scope)]

    def _rate(self, slot: Slot, backend: str) -> float:
        """How fast a job is expected to go before it says: this slot's speed since the
        daemon started, else that of the backend's last finished jobs, else real time."""
        if slot.throughput:
            return slot.throughput
        done = self.queue.store.list_jobs(["done"], 20)
        return rate_from_history(done, backend) or FIRST_RATE

    async def _heartbeat(self, clock: ProgressClock) -> None:
        """A running job's progress, every TICK seconds whatever the engine says (progress.py):
        the stage, a bar that moves, a time left that counts down."""
        while True:
            self.events.progress(clock.job_id, clock.tick())
            await asyncio.sleep(TICK)

    async def _process(self, job: Job, handle: AbortHandle, slot: Slot, index: int) -> None:
        q, say = self.queue, self.events.log
        assert job.id is not None
        job_id = job.id
        started = time.monotonic()
        target: delivery.Plan | None = None
        try:
            if not job.path:
                raise MediaError("the job has no media file", "add it again with `earwig add`")
            path = Path(job.path)
            transcriber = (
                slot.backend
                if slot.kind == "server"
                else self.backends.transcriber_for(job.model_request, index)
            )
            target = delivery.plan(job, q.store, self.output())
            for folder in target.folders():  # before the work, not after
                await asyncio.to_thread(outputs.check_writable, folder)
            probed = await asyncio.to_thread(audio.probe, path)  # has audio? how long?
            if handle.is_set():
                raise Aborted("stopped before transcription")
            if self.lane is not None and slot.kind == "local":  # short: shares batches
                transcriber = await self.lane.board(job, transcriber, probed, handle, slot)
            job = q.transition(
                job_id,
                Action.TRANSCRIBE,
                changes={
                    "duration": probed,
                    "backend": transcriber.name,
                    "model": transcriber.model_name,
                    "slot": slot.name,
                },
            )
            loop = asyncio.get_running_loop()
            t0 = time.monotonic()
            progress = ProgressClock(job_id, probed, rate=self._rate(slot, transcriber.name))
            beating = asyncio.create_task(self._heartbeat(progress))
            options = job_options(self.backends.options, job)
            key = work_key(transcriber, options)
            resume = self._resumable(job, key)

            def on_progress(fraction: float) -> None:
                loop.call_soon_threadsafe(progress.report, fraction)

            def on_stage(stage: str) -> None:  # news at once, not at the next tick
                loop.call_soon_threadsafe(self._stage, progress, stage)

            def on_segments(segments: Sequence[Segment]) -> None:
                if not handle.is_set():  # a stopped job's lines end with its state
                    loop.call_soon_threadsafe(self.events.segments, job_id, list(segments))

            def on_part(part: pipeline.Part) -> None:
                loop.call_soon_threadsafe(self._keep, job_id, handle, key, part)

            def on_fallback(failed: str, nxt: str, reason: str) -> None:
                message = f"{failed} failed on {job.title} ({reason}); trying {nxt}"
                loop.call_soon_threadsafe(say, "warning", message, job_id)

            transcriber.on_fallback = on_fallback

            try:
                work = self._off_loop(
                    job_id,
                    pipeline.transcribe_file,
                    transcriber,
                    path,
                    options,
                    on_progress,
                    handle.is_set,
                    duration=probed,
                    model=job.model_request or self.backends.configured_model,
                    known_voices=self._known_voices(job),
                    on_stage=on_stage,
                    on_segments=on_segments,
                    job_id=job_id,
                    cue_words=bool({"srt", "vtt"} & set(target.formats)),
                    resume=resume,
                    on_part=on_part,
                )
                transcript = await handle.unless_stopped(work)
                duration = transcript.duration
                slot.finished(duration, time.monotonic() - t0)
                progress.stage("writing")
                self.events.progress(job_id, progress.tick())
                written = await asyncio.to_thread(delivery.write, target, transcript)
            finally:
                beating.cancel()
            kept = [Path(p) for p in job.publisher.get("files", ())]  # "both": theirs too
            delivery.finish(q, job_id, target, transcript, [*written, *kept])
            where = target.folder / f"{target.base}.*" if target.base else written[0]
            before = resume[-1].offset + resume[-1].length if resume else 0.0
            said = f"; the first {clock(before)} kept from before" if before else ""
            said += delivery.named_apart(target, job, q.store)
            say(
                "info",
                f"done: {job.title} -> {where} ({duration:.0f}s of audio in "
                f"{time.monotonic() - started:.1f}s, {languages.name(transcript.language)}"
                f"{said})",
                job_id,
            )
            for warning in transcript.warnings:
                say("warning", f"{job.title}: {warning}", job_id)
            self.media_done(q.store.get_job(job_id))
        except Aborted as stopped:
            self._stopped(job, handle)
            if stopped.leftover is not None:
                # The job is no longer this worker's (it may be resumed and run again at
                # once); the slot stays taken until the engine's piece in hand is done (not
                # for a rider of the short lane: its piece is in a shared batch, and its
                # worker took another job long ago).
                rider = job_id in slot.riding
                self._let_go(job_id, handle, slot)
                slot.finishing += 0 if rider else 1
                try:
                    await leftover(stopped)
                finally:
                    slot.finishing -= 0 if rider else 1
        except Exception as exc:
            if handle.is_set():  # asked to stop, and it failed first: the request wins
                self._stopped(job, handle)
            else:
                self._failed(job, slot, target, exc)

    def _off_loop(
        self, job_id: int, fn: Callable[..., T], /, *args: Any, **kw: Any
    ) -> Awaitable[T]:
        """`fn` in a thread: a short lane rider's in the lane's own threads (daemon/lane.py)."""
        if self.lane is not None and self.lane.rides(job_id):
            return self.lane.run(fn, *args, **kw)
        return asyncio.to_thread(fn, *args, **kw)

    def _let_go(self, job_id: int, handle: AbortHandle, slot: Slot) -> None:
        """A stopped job is free to be steered and run again: its handle, its place in
        `running` and in the slot go now, not when the engine has finished its piece."""
        handle.released = True
        self._leave(job_id, handle, slot)
        self.running.pop(job_id, None)

    def _stage(self, progress: ProgressClock, stage: str) -> None:
        progress.stage(stage)
        self.events.progress(progress.job_id, progress.tick())

    def _stopped(self, job: Job, handle: AbortHandle) -> None:
        """The job becomes what was asked (paused, cancelled, queued again), saying what of
        its work is kept."""
        assert job.id is not None
        self.events.clear_progress(job.id)
        now = self.queue.transition(job.id, handle.action)
        kept = f"; the first {clock(now.saved)} is kept" if now.saved else ""
        self.events.log("info", f"{now.state}: {job.title} (stopped while running{kept})", job.id)

    def _resumable(self, job: Job, key: str) -> list[pipeline.Part]:
        """The windows an earlier run of this job finished, to go on after them; none when
        they were made another way (the model or options changed since)."""
        assert job.id is not None
        saved = self.queue.store.saved_windows(job.id)
        if saved and any(k != key for _, _, k, _ in saved):
            self.queue.store.forget_windows(job.id)
            self.events.log(
                "info",
                f"{job.title}: transcribed from the start again (the model or options changed "
                "since it stopped)",
                job.id,
            )
            return []
        if saved:
            end = saved[-1][0] + saved[-1][1]
            self.events.log(
                "info", f"{job.title}: goes on at {clock(end)} (what came before is kept)", job.id
            )
        return [pipeline.Part(offset, length, t) for offset, length, _, t in saved]

    def _keep(self, job_id: int, handle: AbortHandle, key: str, part: pipeline.Part) -> None:
        """Save a finished window (on the loop, as the pipeline finishes it). Not once a stop
        was asked: the job may run again already, from what was kept before."""
        if handle.is_set() or not self.queue.store.get_job(job_id).state.running:
            return
        self.queue.store.save_window(job_id, part.offset, part.length, key, part.transcript)

    def _failed(self, job: Job, slot: Slot, target: delivery.Plan | None, exc: Exception) -> None:
        """A job whose work raised, unasked: the server's fault goes back to the queue, a full
        disk waits, an earwig error fails the job with its reason, anything else is a crash."""
        q, say = self.queue, self.events.log
        assert job.id is not None
        job_id = job.id
        if isinstance(exc, ServerUnavailable) and slot.kind == "server":
            # The server's fault, not the file's: it is marked down and probed; the job goes
            # back to the queue at once (the attempt counted) for another slot to take.
            slot.went_down(exc.message)
            say("warning", f"server {slot.name} is down ({exc.message}); it is probed again")
            q.hand_back(job_id, exc)
            return
        reason = full_reason(exc)
        if reason and self.disk_full is not None:
            folder = target.folder if target is not None else Path(job.path or ".").parent
            self.disk_full(job_id, folder, reason)
        elif isinstance(exc, EarwigError):
            q.fail(job_id, exc)
        else:
            self._crashed(job_id, exc)

    def _crashed(self, job_id: int, exc: Exception) -> None:
        log.exception("job %s crashed", job_id)
        self.queue.fail(
            job_id,
            EarwigError(
                f"unexpected error: {type(exc).__name__}: {exc}",
                "see `earwig logs`; `earwig retry` to try again",
            ),
        )
