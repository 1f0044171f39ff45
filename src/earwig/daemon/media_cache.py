"""The media cache policy: downloaded media stays `keep_media` after its transcript exists.

Only files inside the cache are ever deleted (a job's path is checked against it), and
transcripts are never deleted. Local files that were dropped or added are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from earwig.config import DownloadsConfig
from earwig.daemon.queue import Events
from earwig.model import Job
from earwig.store import Store

UPLOAD_FOLDERS = ("uploads", "api")  # where the HTTP server saves what clients send
SWEEP_EVERY = 900.0  # seconds between sweeps of upload folders no job owns
SWEEP_GRACE = 900.0  # a folder touched more recently may be an upload still arriving


def _last_touched(folder: Path) -> float:
    """The newest mtime of the folder and what is in it (0 when it is gone)."""
    try:
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])
    except OSError:
        return 0.0


def _remove(folder: Path) -> int:
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return size


class MediaCache:
    def __init__(
        self, store: Store, events: Events, settings: Callable[[], DownloadsConfig]
    ) -> None:
        self.store = store
        self.events = events
        self.settings = settings  # read each time: a reload of keep_media applies at once
        self.started = time.time()

    def transcribed(self, job: Job) -> None:
        """keep_media = "none": a downloaded file goes as soon as its transcript exists."""
        if self.settings().keep_media == 0:
            self.remove(job)

    def remove(self, job: Job) -> None:
        if not (job.url and job.path):
            return
        path = Path(job.path)
        cache = self.settings().dir.resolve()
        if not path.resolve().is_relative_to(cache):
            return  # never delete anything outside the media cache
        shutil.rmtree(path.parent if path.parent != cache else path, ignore_errors=True)
        self.events.log("info", f"removed downloaded media of {job.title}", job.id)

    async def clean_periodically(self, stop: asyncio.Event) -> None:
        await self.sweep_uploads()  # what a kill left behind: before the first upload
        cleaned = time.monotonic()
        while not stop.is_set():
            keep = self.settings().keep_media
            every = min(3600.0, max(1.0, (keep or 3600.0) / 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(every, SWEEP_EVERY))
            if stop.is_set():
                return
            await self.sweep_uploads()
            if keep is None or time.monotonic() - cleaned < every:
                continue
            cleaned = time.monotonic()
            cache = str(self.settings().dir.resolve())
            for job in self.store.media_to_clean(time.time() - keep, cache):
                if Path(job.path or "").exists():
                    self.remove(job)

    async def sweep_uploads(self) -> list[Path]:
        """Remove the folders the HTTP server made for clients' uploads and API jobs
        (`<cache>/uploads/upload-*`, `<cache>/api/upload-*`, `<cache>/api/job-*`) that no
        job owns: a kill -9 mid-upload, or a crash between a folder and its job, left them
        for good (26 of them, 13 MB, after four kills). A folder touched since the daemon
        started and within SWEEP_GRACE may be an upload in flight: it waits for the next
        sweep. Returns what was removed."""
        cache = self.settings().dir
        before = max(self.started, time.time() - SWEEP_GRACE)
        found = [
            folder
            for parent in UPLOAD_FOLDERS
            if (cache / parent).is_dir()
            for folder in (cache / parent).iterdir()
            if folder.name.startswith(("upload-", "job-")) and folder.is_dir()
        ]
        if not found:
            return []
        real = Path(os.path.realpath(cache))
        owned = set()  # (uploads or api, the folder's name) of every path a job has there
        for path in self.store.paths_under(str(cache)):
            with contextlib.suppress(ValueError):
                owned.add(Path(os.path.realpath(path)).relative_to(real).parts[:2])
        gone = [
            f for f in found if (f.parent.name, f.name) not in owned and _last_touched(f) < before
        ]
        size = 0
        for folder in gone:
            size += await asyncio.to_thread(_remove, folder)
        if gone:
            self.events.log(
                "info",
                f"removed {len(gone)} upload folder(s) no job owns ({size / 1e6:.1f} MB): "
                "left by a client that went away or a daemon that was killed",
            )
        return gone
