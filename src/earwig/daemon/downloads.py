"""Download workers: fetch the media of queued URL jobs while the runner transcribes others.

A job's media goes to <downloads dir>/job-<id>/, so a restart finds its partial download and
yt-dlp resumes it. A URL job goes queued -> downloading -> queued (with its path set:
"downloaded"), and the runner picks it up like a dropped file. The manager is handed the
queue, the log, the host policy and the [downloads] settings, never the daemon.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from earwig import media, outputs
from earwig.config import DownloadsConfig, OutputConfig
from earwig.daemon import delivery
from earwig.daemon.aborts import Aborts
from earwig.daemon.disk import full_reason
from earwig.daemon.hosts import HostPolicy
from earwig.daemon.queue import Events, JobQueue
from earwig.errors import Aborted, EarwigError
from earwig.jobs import Action
from earwig.model import Job
from earwig.reach import Reach, within
from earwig.sources import published, ytdlp
from earwig.sources.errors import host_of

log = logging.getLogger("earwig.downloads")
IDLE = 5.0  # seconds between looks at the queue when nothing wakes the workers


class DownloadManager:
    def __init__(
        self,
        queue: JobQueue,
        events: Events,
        aborts: Aborts,
        hosts: HostPolicy,
        network: Executor,
        settings: Callable[[], DownloadsConfig],
        output: Callable[[], OutputConfig],
        disk_full: Callable[[int, Any, str], None] | None = None,
        reach_for: Callable[[Job], Reach | None] = lambda job: None,
    ) -> None:
        self.queue = queue
        self.events = events
        self.aborts = aborts
        self.hosts = hosts
        self.network = network  # threads for network work, apart from local file work
        self.settings = settings  # read per download: a reload applies to the next one
        self.output = output  # for a publisher's transcript, written without a download
        self.concurrency = settings().concurrency  # workers are started once
        self.active: dict[int, str] = {}  # job id -> host
        self.disk_full = disk_full  # media that cannot be written for want of space waits
        # what a job's fetches may reach: None for local work; a network client's job is
        # held to [http]'s rules (earwig/reach.py) at every connection
        self.reach_for = reach_for

    async def run(self, stop: asyncio.Event) -> None:
        workers = [asyncio.create_task(self._worker(stop)) for _ in range(self.concurrency)]
        await asyncio.gather(*workers)

    async def _worker(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            signal = self.queue.signal()
            job = None if self.queue.paused or self.queue.halted else self._pick()
            if job is None:
                await self.queue.wait(signal, self.queue.next_wakeup(IDLE))
                continue
            await self._download(job)

    def _pick(self) -> Job | None:
        for job in self.queue.store.queued_downloads(time.time()):
            if job.id not in self.active and self.hosts.available(host_of(job.url or "")):
                return job
        return None

    def _progress(self, job_id: int, p: dict[str, Any]) -> None:
        total, done = p.get("total"), p.get("downloaded")
        self.events.progress(
            job_id,
            {
                "id": job_id,
                "phase": "downloading",
                "fraction": round(done / total, 4) if total and done is not None else None,
                "bytes": done,
                "total": total,
                "speed": p.get("speed"),
                "eta": p.get("eta"),
            },
        )

    async def _download(self, job: Job) -> None:
        q, say, cfg = self.queue, self.events.log, self.settings()
        assert job.id is not None and job.url is not None
        job_id, host = job.id, host_of(job.url)
        self.active[job_id] = host
        self.hosts.acquire(host)
        handle = self.aborts.register(job_id)
        try:
            q.transition(job_id, Action.DOWNLOAD)
            loop = asyncio.get_running_loop()
            fence = self.reach_for(job)
            found: dict[str, Any] = {}
            if job.publisher.get("chapters") and not job.chapters:
                found["chapters"] = await self._chapters(job, fence)
            taken = job.publisher.get("transcripts") and await self._publisher_text(
                job.replace(**found), found, handle.is_set, fence
            )
            if taken:
                return

            def on_progress(p: dict[str, Any]) -> None:
                loop.call_soon_threadsafe(self._progress, job_id, p)

            got = await loop.run_in_executor(
                self.network,
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
                    reach=fence,
                ),
            )
            sha = await asyncio.to_thread(media.sha256_file, got.path)
            same = None if job.force else q.store.find_by_sha(sha, exclude=job_id)
            if same is not None:  # the same media behind another URL: transcribed once
                q.transition(
                    job_id,
                    Action.CANCEL,
                    changes={
                        "sha256": sha,
                        "hint": f"same media as job {same.id} ({same.state}); "
                        f"`earwig retry {job_id}` transcribes it anyway",
                    },
                )
                say("info", f"{job.title}: same media as job {same.id}, not transcribed again")
                shutil.rmtree(got.path.parent, ignore_errors=True)
                return
            # A feed's title is better than what yt-dlp guesses from a bare media URL.
            title = got.title if job.title == job.url else job.title
            st = got.path.stat()
            q.transition(
                job_id,
                Action.DOWNLOADED,
                changes={
                    "path": str(got.path),
                    "size": got.size,
                    "sha256": sha,
                    "mtime": st.st_mtime,
                    "title": title,
                    **found,
                },
            )
            say("info", f"downloaded {title} ({got.size / 1e6:.1f} MB)", job_id)
        except Aborted:
            now = q.transition(job_id, handle.action)
            say("info", f"{now.state}: {job.title} (stopped while downloading)", job_id)
        except Exception as exc:
            if handle.is_set():  # asked to stop, and it failed first: the request wins
                now = q.transition(job_id, handle.action)
                say("info", f"{now.state}: {job.title} (stopped while downloading)", job_id)
                return
            reason = full_reason(exc)
            if reason and self.disk_full is not None:
                self.disk_full(job_id, cfg.dir, reason)  # the .part stays: it resumes
            elif isinstance(exc, EarwigError):
                q.fail(job_id, exc, host=host)
            else:
                log.exception("download of job %s crashed", job_id)
                q.fail(job_id, EarwigError(f"unexpected error: {exc}"))
        finally:
            self.aborts.unregister(job_id)
            self.active.pop(job_id, None)
            await self.hosts.release(host)
            self.events.clear_progress(job_id)
            q.wake()  # a host slot is free: another worker may take its next job

    async def _chapters(self, job: Job, fence: Reach | None) -> tuple[dict[str, Any], ...]:
        """The publisher's chapters, for the .json; a broken chapters file is only logged."""
        loop = asyncio.get_running_loop()
        url = job.publisher["chapters"]
        try:
            got = await loop.run_in_executor(
                self.network,
                functools.partial(
                    within, fence, published.fetch_chapters, url, self.settings().timeout
                ),
            )
        except EarwigError as exc:
            self.events.log("warning", f"{job.title}: no chapters ({exc.message})", job.id)
            return ()
        return tuple(got)

    async def _publisher_text(
        self,
        job: Job,
        found: dict[str, Any],
        stopped: Callable[[], bool],
        fence: Reach | None = None,
    ) -> bool:
        """Take the publisher's transcript instead of transcribing (`publisher-first`), or
        beside earwig's own (`both`: saved as NAME.publisher.*). True when the job is done.

        A retried job (`force`) is transcribed: the user asked for earwig's own text. Each
        transcript that does not work is logged and the next is tried; with none left the
        media is downloaded and transcribed as for any item."""
        mode = job.publisher.get("mode", "publisher-first")
        if mode == "always-transcribe" or (job.force and mode == "publisher-first"):
            return False
        assert job.id is not None
        q, job_id, loop = self.queue, job.id, asyncio.get_running_loop()

        def say(problem: str) -> None:
            message = f"{job.title}: publisher's transcript: {problem}"
            loop.call_soon_threadsafe(self.events.log, "warning", message, job_id)

        got = await loop.run_in_executor(
            self.network,
            functools.partial(
                within,
                fence,
                published.fetch_transcript,
                list(job.publisher["transcripts"]),
                self.settings().timeout,
                say,
            ),
        )
        if stopped():  # cancelled or paused while the transcript was fetched
            raise Aborted("stopped while fetching the publisher's transcript")
        if got is None:
            if mode == "publisher-first":
                self.events.log("info", f"{job.title}: transcribing the audio instead", job_id)
            return False
        transcript, kind = got
        text_from = f"publisher ({kind})"
        target = delivery.plan(job.replace(text_from=text_from), q.store, self.output())
        for folder in target.folders():  # before the work, not after
            await asyncio.to_thread(outputs.check_writable, folder)
        if mode == "both":
            written = await asyncio.to_thread(delivery.write, target, transcript, ".publisher")
            found["publisher"] = {**job.publisher, "files": [str(p) for p in written]}
            self.events.log("info", f"{job.title}: saved the publisher's transcript too", job_id)
            return False
        written = await asyncio.to_thread(delivery.write, target, transcript)
        delivery.finish(
            q,
            job_id,
            target,
            transcript,
            written,
            text_from=text_from,
            hint=f"`earwig retry {job_id}` transcribes the audio instead",
            **found,
        )
        self.events.log(
            "info",
            f"done: {job.title}: the publisher's transcript ({kind}), no audio downloaded",
            job_id,
        )
        return True
