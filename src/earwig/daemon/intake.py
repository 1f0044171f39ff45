"""Intake: how files, folders and URLs become queued jobs, and which ones do not.

One module decides for every way in (a watched folder, `earwig add`, the dashboard): the
same content is queued once (sha256), a folder is read by the watched folders' rules, a name
that does not say it is media is probed, and what is skipped is logged once and remembered so
that a restart neither hashes nor logs it again. The inbox and subscriptions queue URLs
through `jobs.new` and the store's own transactions; they do not need this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earwig import jobs, media, reach, subtitles
from earwig.config import DEFAULT_IGNORE, WatchConfig
from earwig.daemon.delivery import UPLOAD_SOURCE
from earwig.daemon.queue import Events, JobQueue
from earwig.jobs import Action
from earwig.model import Job, JobState
from earwig.protocol import AddOutcome
from earwig.urls import is_url, meant_as_url

Result = AddOutcome
RESOLVE_WAIT = 10.0  # seconds a network client's URL may take to resolve at submission


class Intake:
    def __init__(
        self,
        queue: JobQueue,
        events: Events,
        output_dir_for: Callable[[WatchConfig | None], Path],
        language: Callable[[], str | None] = lambda: None,
        watches: Callable[[], tuple[WatchConfig, ...]] = tuple,
    ) -> None:
        self.queue = queue
        self.store = queue.store
        self.events = events
        self.output_dir_for = output_dir_for  # read per job: [output] dir may be reloaded
        self.language = language  # [transcribe] language: what "subtitled" is checked for
        self.watches = watches  # a file added by hand inside a watched folder follows its rules

    def already_known(self, path: Path, st: os.stat_result) -> bool:
        """A file the start-up scan need not hash again: queued before, or skipped before
        (same content as a job, not media) and unchanged since."""
        return self.store.knows_file(str(path), st.st_size, st.st_mtime)

    def empty_file(self, path: Path, st: os.stat_result) -> None:
        """An empty file in a watched folder, remembered as skipped until it changes: the
        start-up scan then passes it by (no "skipped ... it is empty" at every start)."""
        self.store.remember_skipped(str(path), st.st_size, st.st_mtime, "empty")

    def empty_files(self) -> list[str]:
        """The watched files skipped as empty that still are (one that filled is a job now,
        one removed is gone): `earwig status` lists them, so they are not only in the log."""
        still = []
        for path in self.store.skipped_as("empty"):
            try:
                if os.stat(path).st_size == 0:
                    still.append(path)
            except OSError:
                continue
        return still

    async def watched_file_ready(self, path: Path, watch: WatchConfig) -> str | None:
        """A watched file has settled: queue it. Returns why it could not be looked at now
        (the daemon out of file descriptors, a read error, the database halted), for the
        watcher to try again later; None when it is dealt with (queued, or skipped for
        good). At the descriptor limit such a file used to be dropped, never queued."""
        result = await self.add_file(path, "watch", watch=watch, must_be_media=True)
        error = result.get("error")
        if error is None or not path.is_file():
            return None
        return error

    async def add_paths(self, items: list[str], source: str, force: bool) -> list[Result]:
        """`earwig add`: files, folders (their media, recursively) and URLs. For a network
        client (reach.current()), only what earwig/reach.py lets it have fetched or read,
        and the jobs' source is `http` (an upload's stays `upload`), so their downloads are
        held to the same rules."""
        if self.queue.halted:
            return [{"input": item, "error": self.queue.halted} for item in items]
        client = reach.current()
        if client is not None and source != UPLOAD_SOURCE:  # an upload keeps its own
            source = reach.NETWORK_SOURCE
        results: list[Result] = []
        for item in items:
            await asyncio.sleep(0)  # one item at a time: 100 URLs never stall the loop
            if client is not None and (refused := await self._refused(client, item)):
                results.append({"input": item, **refused})
                continue
            if meant_as_url(item):
                results.append({"input": item, **self.add_url(item, source, force=force)})
                continue
            path = Path(item)
            if not path.is_absolute():
                results.append({"input": item, "error": "the path must be absolute"})
            elif path.is_dir():
                results += await self.add_folder(path, source, force=force)
            else:
                watch = self._watch_of(path)
                added = await self.add_file(path, source, watch=watch, force=force)
                results.append({"input": item, **added})
        return results

    @staticmethod
    async def _refused(client: reach.Reach, item: str) -> Result | None:
        """Why a network client may not add `item` (a URL to an internal address, a path
        outside [http] folders), or None. A name that takes longer than RESOLVE_WAIT to
        resolve is let through: every connection for the job is checked again."""
        try:
            if not meant_as_url(item):
                client.check_path(item)
            elif is_url(item):
                await asyncio.wait_for(asyncio.to_thread(client.check_url, item), RESOLVE_WAIT)
        except reach.Refused as exc:
            return {"error": exc.message, "hint": exc.hint}
        except TimeoutError:
            pass
        return None

    def _watch_of(self, path: Path) -> WatchConfig | None:
        """The watched folder a file lies in (the deepest), whose output rules it follows."""
        inside = [w for w in self.watches() if path.is_relative_to(w.path)]
        return max(inside, key=lambda w: len(w.path.parts), default=None)

    async def add_folder(self, folder: Path, source: str, *, force: bool = False) -> list[Result]:
        """A folder's media, recursively, by the watched folders' rules."""
        from earwig.daemon.watch import candidates

        found = await asyncio.to_thread(lambda: list(candidates(folder, DEFAULT_IGNORE)))
        results: list[Result] = []
        for path in found:
            watch = self._watch_of(path)
            result = await self.add_file(path, source, watch=watch, force=force, must_be_media=True)
            if result.get("skipped") != "not media":
                results.append({"input": str(path), **result})
        if not results:
            results.append(
                {
                    "input": str(folder),
                    "error": f"{folder} holds no audio or video files",
                    "hint": "hidden files, *.part and other temporary names are left out",
                }
            )
        return results

    async def add_file(
        self,
        path: Path,
        source: str,
        *,
        watch: WatchConfig | None = None,
        force: bool = False,
        must_be_media: bool = False,
        fields: dict[str, Any] | None = None,
    ) -> Result:
        """Queue a local file unless the same content is already queued or transcribed.

        `must_be_media` (files found in folders, not named by the user): a name that does not
        say it is media is probed, and a file without sound is skipped, logged once.
        `fields`: more of the new job's fields (a media server's event: its `options`)."""
        if self.queue.halted:
            return {"error": self.queue.halted}
        try:
            st = path.stat()
            if not path.is_file():
                return {"error": f"{path} is not a file"}
            if (
                must_be_media
                and not media.is_media_name(path)
                and not await asyncio.to_thread(media.has_sound, path)
            ):
                self.store.remember_skipped(str(path), st.st_size, st.st_mtime, "not media")
                self.events.log("info", f"skipped {media.shown(path)}: no sound PyAV can find")
                return {"skipped": "not media"}
            beside = watch is not None and watch.output == "beside"
            if beside and watch is not None and watch.skip_if_subtitled and not force:
                why = await asyncio.to_thread(subtitles.already_subtitled, path, self.language())
                if why is not None:  # before hashing: a library's start-up scan stays cheap
                    return self._subtitled(path, st, watch, why, source)
            sha = await asyncio.to_thread(media.sha256_file, path)
        except FileNotFoundError:
            return {"error": f"{path} does not exist", "hint": "check the path"}
        except OSError as exc:
            return {"error": f"cannot read {path}: {exc.strerror}"}
        if not force and (why := self.store.deleted_file(str(path), st.st_size, st.st_mtime)):
            hint = f"`earwig add --force {path}` queues it again"
            return {"skipped": "deleted", "reason": f"its {why}", "hint": hint}
        if force:
            self.store.forget_skipped(str(path))
        if not force:
            existing = self.store.find_by_sha(sha)
            if existing is not None:
                note = f"same content as job {existing.id} ({existing.state}), not queued again"
                self.events.log("info", f"skipped {path.name}: {note}", existing.id)
                if source == "watch":  # the start-up scan need not hash it again
                    self.store.remember_skipped(str(path), st.st_size, st.st_mtime, note)
                return {
                    "duplicate_of": self.queue.view(existing),
                    "hint": f"`earwig retry {existing.id}` transcribes it again",
                }
        out_dir = self.output_dir_for(watch)
        if watch is not None:
            with contextlib.suppress(ValueError):  # a file outside the folder: at the top
                out_dir = out_dir / path.parent.relative_to(watch.path)
        job = self._add(
            path,
            st,
            source,
            sha256=sha,
            force=force,
            output_dir=str(out_dir),
            beside=watch.subtitles if watch is not None and watch.output == "beside" else (),
            **(fields or {}),
        )
        self.events.log("info", f"queued {path} (from {source})", job.id)
        return {"job": self.queue.view(job)}

    def _subtitled(
        self, path: Path, st: os.stat_result, watch: WatchConfig, why: str, source: str
    ) -> Result:
        """A file in a `beside` folder that has subtitles: a job that is left cancelled, with
        the reason, so the user sees it and `earwig retry` can still make subtitles. Its
        path, size and time are kept, so a restart does not look at it again."""
        known = self.store.job_for_file(str(path), st.st_size, st.st_mtime)
        if known is not None and known.state is JobState.CANCELLED:  # added again: the same
            return {"skipped": "subtitled", "reason": why, "hint": known.hint or ""}
        job = self._add(path, st, source, output_dir=str(path.parent), beside=watch.subtitles)
        assert job.id is not None
        hint = f"{why}; `earwig retry {job.id}` makes earwig's subtitles anyway"
        self.queue.transition(job.id, Action.CANCEL, changes={"hint": hint})
        self.events.log("info", f"skipped {media.shown(path)}: {why}", job.id)
        return {"skipped": "subtitled", "reason": why, "hint": hint}

    def _add(self, path: Path, st: os.stat_result, source: str, **fields: Any) -> Job:
        """A new job for a local file, known by its path, size and time from now on."""
        job = jobs.new(
            source, path.name, time.time(), path=str(path), size=st.st_size, mtime=st.st_mtime
        )
        return self.queue.add(job.replace(**fields))

    def add_url(self, url: str, source: str, *, force: bool = False) -> Result:
        """Queue a URL for download and transcription, unless it is already queued or done."""
        if not is_url(url):
            return {"error": f"not a URL: {url!r}", "hint": "give an http:// or https:// URL"}
        if not force and (existing := self.store.find_by_url(url)) is not None:
            return {
                "duplicate_of": self.queue.view(existing),
                "hint": f"`earwig retry {existing.id}` transcribes it again",
            }
        job = self.queue.add(
            jobs.new(
                source,
                url,
                time.time(),
                url=url,
                force=force,
                output_dir=str(self.output_dir_for(None)),
            )
        )
        self.events.log("info", f"queued {url} (from {source})", job.id)
        return {"job": self.queue.view(job)}
