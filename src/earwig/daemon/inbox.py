"""The inbox file: one URL per line, appended by people and scripts, queued exactly once.

To read without racing a writer, the file is first renamed to `inbox.txt.claimed-<ns>` (an
`echo URL >> inbox.txt` after that simply creates a new inbox). The claimed file is read from
an offset kept in the database, and the jobs a read produces are committed in the same
transaction as the new offset: a kill at any moment either loses both (the lines are read
again) or keeps both (they are not). Processed lines are appended to `inbox.done` with a
timestamp: they are committed with the jobs, then written, so a kill in between leaves them
for the next start to write (inbox.done is complete after any number of kills). The
claimed file is removed once it has been quiet for `stable_after`.

A read-only inbox is never modified: it is read in place from its recorded offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from earwig.daemon.queue import Events, JobQueue
from earwig.jobs import new as new_job
from earwig.model import Job, JobState
from earwig.urls import is_url

log = logging.getLogger("earwig.inbox")
CLAIMED = ".claimed-"


def inbox_files(inbox: Path | None) -> Callable[[Path], bool]:
    """Whether a path is the inbox's own: the inbox, a claimed copy of it, inbox.done. The
    inbox usually lies in the first watched folder; the watcher leaves these alone (a
    claimed copy is not a recording to probe and skip, twice, at every use)."""

    def own(path: Path) -> bool:
        if inbox is None or path.parent != inbox.parent:
            return False
        name = path.name
        return name in (inbox.name, inbox.stem + ".done") or name.startswith(inbox.name + CLAIMED)

    return own


def _writable(path: Path) -> bool:
    """Whether we may rename the inbox. The mode bits count even for root: a user who made
    the file read-only meant earwig to leave it alone."""
    try:
        return os.access(path, os.W_OK) and bool(path.stat().st_mode & stat.S_IWUSR)
    except OSError:
        return False


class Inbox:
    def __init__(
        self,
        queue: JobQueue,
        events: Events,
        path: Path,
        *,
        stable_after: Callable[[], float],
        output_dir: Callable[[], Path],
    ) -> None:
        self.queue = queue
        self.events = events
        self.stable_after = stable_after
        self.output_dir = output_dir
        self.path = path
        self.done_path = path.with_name(path.stem + ".done")
        self._lock = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write_done()  # what a kill left committed but not written
        await self.process()
        ticker = asyncio.create_task(self._tick(stop))
        name = self.path.name
        try:
            while not stop.is_set():
                try:
                    async for _ in watchfiles.awatch(
                        self.path.parent,
                        watch_filter=lambda change, p: Path(p).name.startswith(name),
                        stop_event=stop,
                        recursive=False,
                        debounce=300,
                    ):
                        await self.process()
                except Exception as exc:  # a name watchfiles cannot decode, a lost folder:
                    log.info("watching %s again after: %s", self.path.parent, exc)
                    await asyncio.sleep(0.5)  # the ticker reads the inbox meanwhile
                    await self.process()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def _tick(self, stop: asyncio.Event) -> None:
        """Finish claimed files whose last line had no newline, and remove quiet ones."""
        while not stop.is_set():
            await asyncio.sleep(max(0.2, self.stable_after()))
            # also an inbox the watch missed (its folder was removed and made again)
            if self._claimed() or (self.path.exists() and self.path.stat().st_size > 0):
                await self.process()

    def _claimed(self) -> list[Path]:
        return sorted(self.path.parent.glob(self.path.name + CLAIMED + "*"))

    async def process(self) -> None:
        if self.queue.halted:  # the database is gone: a line read now would be lost
            return
        async with self._lock:
            try:
                for claimed in self._claimed():
                    self._consume(claimed, claimed.name, removable=True)
                if self.path.exists() and self.path.stat().st_size > 0:
                    claimed = self.path.with_name(f"{self.path.name}{CLAIMED}{time.time_ns()}")
                    try:
                        if not _writable(self.path):
                            raise PermissionError("read-only")
                        self.path.rename(claimed)
                    except PermissionError:
                        st = self.path.stat()
                        self._consume(self.path, f"{self.path}:{st.st_ino}", removable=False)
                    else:
                        self._consume(claimed, claimed.name, removable=True)
            except OSError as exc:
                self.events.log("error", f"inbox {self.path}: {exc}")

    def _consume(self, path: Path, key: str, removable: bool) -> None:
        store = self.queue.store
        offset = store.inbox_offset(key)
        data = path.read_bytes()
        quiet = time.time() - path.stat().st_mtime >= self.stable_after()
        end = len(data) if quiet else data.rfind(b"\n", offset) + 1
        if end > offset:
            lines = data[offset:end].decode("utf-8", errors="replace").splitlines()
            jobs, notes = self._jobs_for(lines)
            added = store.commit_inbox(
                key, end, jobs, lambda added: self._done_lines(added, notes), str(self.done_path)
            )
            self._record(added)
        if removable and quiet and end >= len(data):
            path.unlink(missing_ok=True)
            store.forget_inbox(key)

    def _jobs_for(self, lines: list[str]) -> tuple[list[Job], list[str]]:
        now = time.time()
        jobs: list[Job] = []
        notes: list[str] = []
        batch: set[str] = set()
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not is_url(line):
                jobs.append(  # a failed job, so the line is seen where the jobs are
                    new_job("inbox", line[:200], now).replace(
                        state=JobState.FAILED,
                        error=f"not a URL: {line[:200]!r}",
                        hint=f"lines of {self.path.name} must be http(s) URLs",
                        times={"failed": now},
                    )
                )
                continue
            existing = self.queue.store.find_by_url(line)
            if existing is not None or line in batch:
                where = f"#{existing.id}" if existing else "this batch"
                notes.append(f"{line}\talready queued as {where}")
                continue
            batch.add(line)
            jobs.append(new_job("inbox", line, now, url=line, output_dir=str(self.output_dir())))
        return jobs, notes

    def _done_lines(self, added: list[Job], notes: list[str]) -> list[str]:
        stamp = dt.datetime.now().isoformat(timespec="seconds")
        lines = [
            f"{stamp}\tfailed #{job.id}\t{job.title}"
            if job.state is JobState.FAILED
            else f"{stamp}\tqueued #{job.id}\t{job.url}"
            for job in added
        ]
        return lines + [f"{stamp}\tskipped\t{note}" for note in notes]

    def _record(self, added: list[Job]) -> None:
        for job in added:
            self.queue.announce(job)
            if job.state is JobState.FAILED:
                self.events.log("warning", f"inbox: {job.error}", job.id)
            else:
                self.events.log("info", f"queued {job.url} (from inbox)", job.id)
        self.write_done()

    def write_done(self) -> None:
        """Append the committed, not yet written lines to inbox.done, then forget them. A
        kill in between writes them again at the next start: lines already at the end of the
        file are not written twice."""
        store = self.queue.store
        pending = store.pending_done(str(self.done_path))
        if not pending:
            return
        try:
            there = set(_tail(self.done_path).splitlines())
            fresh = [line for _, line in pending if line not in there]
            if fresh:
                with open(self.done_path, "a", encoding="utf-8") as fh:
                    fh.write("\n".join(fresh) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError as exc:  # a read-only folder: the database still has everything
            log.warning("cannot write %s: %s", self.done_path, exc)
        store.forget_done([row_id for row_id, _ in pending])


def _tail(path: Path, size: int = 1 << 20) -> str:
    """The end of a file (what a kill may have left written), or "" if there is none."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
