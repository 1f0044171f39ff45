"""The runner drains the queue: one job at a time, start to finish, heavy work off the loop.

Decoding and transcription run in a worker thread; the event loop stays free to answer the
socket. Every state change goes through Daemon.transition (advance -> store -> publish).
Cancel, pause and shutdown reach a running job through an AbortHandle the backend polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from earwig import languages, outputs
from earwig.errors import Aborted, EarwigError, MediaError
from earwig.jobs import Action
from earwig.model import Job
from earwig.outputs import transcript_meta
from earwig.transcribe import audio, pipeline

if TYPE_CHECKING:
    from earwig.daemon.aborts import AbortHandle
    from earwig.daemon.app import Daemon

log = logging.getLogger("earwig.runner")


class Runner:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.wake = asyncio.Event()
        self.current: int | None = None
        self._last_active = time.monotonic()

    def poke(self) -> None:
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        if self.current is not None:  # the last run died mid-job: the database failed
            await self._put_back(self.current, stop)
        while not stop.is_set():
            d = self.daemon
            ready = not d.queue_paused and d.models.ready
            job = d.store.next_queued(time.time()) if ready else None
            if job is None:
                await self._idle()
                continue
            assert job.id is not None
            self.current = job.id
            handle = d.aborts.register(job.id)
            try:
                await self._process(job, handle)
            finally:
                d.aborts.unregister(job.id)
                self._last_active = time.monotonic()
                d.bus.clear_progress(job.id)
            self.current = None  # not reached when saving failed: run() puts it back

    async def _put_back(self, job_id: int, stop: asyncio.Event) -> None:
        """Return a job whose result could not be saved (disk full, I/O error) to the queue,
        once the database takes writes again; the attempt is not the file's fault."""
        d = self.daemon
        while not stop.is_set():
            try:
                job = d.store.get_job(job_id)
                if job.state.running:
                    d.transition(job_id, Action.REQUEUE, not_before=time.time() + 5)
                    d.log("warning", f"{job.title}: back in the queue after a database error")
                self.current = None
                return
            except Exception:
                log.exception("cannot put job %s back in the queue yet", job_id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)

    async def _idle(self) -> None:
        """Sleep until poked, a backoff expires, or it is time to free the model."""
        d = self.daemon
        timeout = d.config.transcribe.unload_after
        wakeup = d.store.next_wakeup()
        if wakeup is not None:
            timeout = min(timeout, max(0.05, wakeup - time.time()))
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            idle = time.monotonic() - self._last_active
            if d.models_loaded and idle >= d.config.transcribe.unload_after:
                await asyncio.to_thread(d.unload_models)
                d.log("info", f"model unloaded after {idle:.0f}s idle")

    async def _process(self, job: Job, handle: AbortHandle) -> None:
        d = self.daemon
        assert job.id is not None
        job_id = job.id
        started = time.monotonic()
        job = d.transition(job_id, Action.FETCH)
        try:
            if not job.path:
                raise MediaError("the job has no media file", "add it again with `earwig add`")
            path = Path(job.path)
            transcriber = d.transcriber_for(job.model_request)
            out_dir, base = d.output_target(job)
            await asyncio.to_thread(outputs.check_writable, out_dir)  # before, not after
            probed = await asyncio.to_thread(audio.probe, path)  # has audio? how long?
            if handle.is_set():
                raise Aborted("stopped before transcription")
            job = d.transition(
                job_id,
                Action.TRANSCRIBE,
                changes={
                    "duration": probed,
                    "backend": transcriber.name,
                    "model": transcriber.model_name,
                },
            )
            loop = asyncio.get_running_loop()
            t0 = time.monotonic()
            duration = probed or 0.0

            def on_progress(fraction: float) -> None:
                loop.call_soon_threadsafe(d.progress, job_id, fraction, duration, t0)

            def on_fallback(failed: str, nxt: str, reason: str) -> None:
                message = f"{failed} failed on {job.title} ({reason}); trying {nxt}"
                loop.call_soon_threadsafe(d.log, "warning", message, job_id)

            transcriber.on_fallback = on_fallback

            transcript = await asyncio.to_thread(
                pipeline.transcribe_file,
                transcriber,
                path,
                d.options,
                on_progress,
                handle.is_set,
                duration=probed,
                model=job.model_request or d.backend_config.model,
            )
            duration = transcript.duration
            meta = transcript_meta(job)
            written = await asyncio.to_thread(
                outputs.write_all, transcript, out_dir, base, d.config.output.formats, meta
            )
            d.store.save_transcript(job_id, transcript)
            d.transition(
                job_id,
                Action.FINISH,
                changes={
                    "outputs": tuple(str(p) for p in written),
                    "output_base": base,
                    "backend": transcript.backend,
                    "model": transcript.model,
                    "duration": transcript.duration,
                    "language": transcript.language,
                    "warnings": transcript.warnings,
                },
            )
            d.log(
                "info",
                f"done: {job.title} -> {out_dir / base}.* ({duration:.0f}s of audio in "
                f"{time.monotonic() - started:.1f}s, {languages.name(transcript.language)})",
                job_id,
            )
            for warning in transcript.warnings:
                d.log("warning", f"{job.title}: {warning}", job_id)
            d.media_done(d.store.get_job(job_id))
        except Aborted:
            d.transition(job_id, handle.action)
            d.log("info", f"{handle.action}: {job.title} (stopped while running)", job_id)
        except EarwigError as exc:
            d.job_failed(job_id, job.title, exc)
        except Exception as exc:
            log.exception("job %s crashed", job_id)
            d.job_failed(
                job_id,
                job.title,
                EarwigError(
                    f"unexpected error: {type(exc).__name__}: {exc}",
                    "see `earwig logs`; `earwig retry` to try again",
                ),
            )
