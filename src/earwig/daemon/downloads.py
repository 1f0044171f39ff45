"""Download workers: fetch the media of queued URL jobs while the runner transcribes others.

A job's media goes to <downloads dir>/job-<id>/, so a restart finds its partial download and
yt-dlp resumes it. When the file is complete the job goes back to `queued` with its path set,
and the runner picks it up like a dropped file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import time
from typing import TYPE_CHECKING

from earwig import media
from earwig.errors import Aborted, EarwigError
from earwig.jobs import Action
from earwig.model import Job
from earwig.sources import ytdlp
from earwig.sources.errors import host_of

if TYPE_CHECKING:
    from earwig.daemon.app import Daemon

log = logging.getLogger("earwig.downloads")


class DownloadManager:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.wake = asyncio.Event()
        self.active: dict[int, str] = {}  # job id -> host

    def poke(self) -> None:
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        workers = [
            asyncio.create_task(self._worker(stop))
            for _ in range(self.daemon.config.downloads.concurrency)
        ]
        await asyncio.gather(*workers)

    async def _worker(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            job = None if self.daemon.queue_paused else self._pick()
            if job is None:
                await self._idle()
                continue
            await self._download(job)

    def _pick(self) -> Job | None:
        hosts = self.daemon.hosts
        for job in self.daemon.store.queued_downloads(time.time()):
            if job.id not in self.active and hosts.available(host_of(job.url or "")):
                return job
        return None

    async def _idle(self) -> None:
        timeout = 5.0
        wakeup = self.daemon.store.next_wakeup()
        if wakeup is not None:
            timeout = min(timeout, max(0.05, wakeup - time.time()))
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)

    async def _download(self, job: Job) -> None:
        d = self.daemon
        cfg = d.config.downloads
        assert job.id is not None and job.url is not None
        job_id, host = job.id, host_of(job.url)
        self.active[job_id] = host
        d.hosts.acquire(host)
        handle = d.aborts.register(job_id)
        try:
            d.transition(job_id, Action.FETCH)
            loop = asyncio.get_running_loop()

            def on_progress(p: dict) -> None:
                loop.call_soon_threadsafe(d.download_progress, job_id, p)

            got = await loop.run_in_executor(
                d.network,
                functools.partial(
                    ytdlp.download,
                    job.url,
                    cfg.dir / f"job-{job_id}",
                    on_progress,
                    handle.is_set,
                    fmt=cfg.format,
                    timeout=cfg.timeout,
                    retries=cfg.retries,
                    sleep_interval=cfg.sleep_interval,
                ),
            )
            sha = await asyncio.to_thread(media.sha256_file, got.path)
            same = None if job.force else d.store.find_by_sha(sha, exclude=job_id)
            if same is not None:  # the same media behind another URL: transcribed once
                d.transition(
                    job_id,
                    Action.CANCEL,
                    changes={
                        "sha256": sha,
                        "hint": f"same media as job {same.id} ({same.state}); "
                        f"`earwig retry {job_id}` transcribes it anyway",
                    },
                )
                d.log("info", f"{job.title}: same media as job {same.id}, not transcribed again")
                shutil.rmtree(got.path.parent, ignore_errors=True)
                return
            # A feed's title is better than what yt-dlp guesses from a bare media URL.
            title = got.title if job.title == job.url else job.title
            st = got.path.stat()
            d.transition(
                job_id,
                Action.REQUEUE,
                changes={
                    "path": str(got.path),
                    "size": got.size,
                    "sha256": sha,
                    "mtime": st.st_mtime,
                    "title": title,
                },
            )
            d.log("info", f"downloaded {title} ({got.size / 1e6:.1f} MB)", job_id)
            d.runner.poke()
        except Aborted:
            d.transition(job_id, handle.action)
            d.log("info", f"{handle.action}: {job.title} (stopped while downloading)", job_id)
        except EarwigError as exc:
            d.job_failed(job_id, job.title, exc, host=host)
        except Exception as exc:
            log.exception("download of job %s crashed", job_id)
            d.job_failed(job_id, job.title, EarwigError(f"unexpected error: {exc}"))
        finally:
            d.aborts.unregister(job_id)
            self.active.pop(job_id, None)
            await d.hosts.release(host)
            d.bus.clear_progress(job_id)
            self.poke()
