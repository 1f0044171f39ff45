"""A full disk is a waiting condition, not a job failure.

ENOSPC, EDQUOT and a read-only mount say nothing about the file being transcribed: the same
job works once space is back. So a job that hits one goes back to the queue without losing
an attempt, its row says what it waits for, `earwig status` says which folder is full, and a
small probe (a temporary file written, synced and removed every few seconds) notices when the
folder takes writes again and lets the waiting jobs go at once. Transcripts are written
atomically (outputs.write_atomic) and a failed set is removed, so nothing half-written is left
looking whole; downloads keep their `.part` files and resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tempfile
import time
from pathlib import Path

from earwig.daemon.queue import Events, JobQueue
from earwig.errors import OutputError
from earwig.jobs import Action
from earwig.model import JobState

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
_FULL_WORDS = (
    "no space left on device",
    "disk quota exceeded",
    "read-only file system",
)
PROBE_EVERY = 2.0  # seconds between probes of a full folder
RETRY_ANYWAY = 300.0  # a waiting job is tried again after this even if no probe succeeded
PROBE_BYTES = 64 * 1024


class DiskFull(OutputError):
    """Where a write failed for want of space (or of a writable mount), and why."""

    code = "disk_full"
    permanent = False

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(
            f"the disk is full: cannot write to {folder} ({reason})",
            f"free some space on the disk that holds {folder} (`df -h {folder}`); "
            "earwig carries on by itself as soon as it can write there again",
        )
        self.folder = folder
        self.reason = reason


def full_reason(exc: BaseException | None) -> str | None:
    """The disk-full reason inside `exc` (its causes too), or None if it is not one."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, DiskFull):
            return exc.reason
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return exc.strerror or os.strerror(exc.errno or 0)
        text = str(exc).lower()
        for words in _FULL_WORDS:
            if words in text:
                return words.capitalize()
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def probe(folder: Path) -> str | None:
    """Write, sync and remove a small file in `folder` (or its nearest existing parent):
    None when that works, else why not."""
    where = folder
    while not where.exists() and where.parent != where:
        where = where.parent
    try:
        fd, name = tempfile.mkstemp(dir=where, prefix=".earwig-space-")
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        os.write(fd, b"\0" * PROBE_BYTES)
        os.fsync(fd)
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)


class DiskWaits:
    """The jobs waiting for space, per folder, and the probe that lets them go."""

    def __init__(self, queue: JobQueue, events: Events) -> None:
        self.queue = queue
        self.events = events
        self.folders: dict[Path, str] = {}  # full folder -> reason
        self.jobs: dict[int, Path] = {}  # waiting job -> its folder
        self._changed = asyncio.Event()

    def wait(self, job_id: int, folder: Path, reason: str) -> None:
        """Put a job whose write failed for want of space back in the queue (no attempt
        counted) until `folder` takes writes again."""
        exc = DiskFull(folder, reason)
        self.queue.transition(
            job_id,
            Action.REQUEUE,
            not_before=time.time() + RETRY_ANYWAY,
            error=exc.message,
            hint=exc.hint,
        )
        new = folder not in self.folders
        self.folders[folder] = reason
        self.jobs[job_id] = folder
        if new:
            self.events.log("error", f"{exc.message}: jobs wait until there is space again")
        self._changed.set()

    def note(self, job_id: int | None) -> str | None:
        """Why a queued job waits, for its row."""
        folder = self.jobs.get(job_id) if job_id is not None else None
        if folder is None:
            return None
        return f"waiting for disk space: {folder} is full ({self.folders.get(folder, '')})"

    def problems(self) -> list[str]:
        return [
            f"the disk is full: cannot write to {folder} ({reason}); "
            f"{sum(1 for f in self.jobs.values() if f == folder)} job(s) wait for space"
            for folder, reason in self.folders.items()
        ]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self.folders:
                self._changed.clear()
                waiter = asyncio.ensure_future(self._changed.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_EVERY)
            for folder in list(self.folders):
                if await asyncio.to_thread(probe, folder) is None:
                    self._release(folder)

    def _release(self, folder: Path) -> None:
        self.folders.pop(folder, None)
        ids = [job_id for job_id, f in self.jobs.items() if f == folder]
        store = self.queue.store
        for job_id in ids:
            self.jobs.pop(job_id, None)
            with contextlib.suppress(Exception):
                job = store.get_job(job_id)
                if job.not_before is not None and job.state is JobState.QUEUED:
                    self.queue.save(job.replace(not_before=None, updated_at=time.time()))
        self.events.log("info", f"{folder} takes writes again: {len(ids)} job(s) carry on")
        self.queue.wake()
