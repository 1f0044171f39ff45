"""The media cache policy: downloaded media stays `keep_media` after its transcript exists.

Only files inside the cache are ever deleted (a job's path is checked against it), and
transcripts are never deleted. Local files that were dropped or added are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from earwig.config import DownloadsConfig
from earwig.daemon.queue import Events
from earwig.model import Job
from earwig.store import Store


class MediaCache:
    def __init__(
        self, store: Store, events: Events, settings: Callable[[], DownloadsConfig]
    ) -> None:
        self.store = store
        self.events = events
        self.settings = settings  # read each time: a reload of keep_media applies at once

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
        while not stop.is_set():
            keep = self.settings().keep_media
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(3600.0, max(1.0, (keep or 3600.0) / 2)))
            if keep is None or stop.is_set():
                continue
            cache = str(self.settings().dir.resolve())
            for job in self.store.media_to_clean(time.time() - keep, cache):
                if Path(job.path or "").exists():
                    self.remove(job)
