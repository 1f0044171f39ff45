"""Watch folders: notice new media, wait until it is complete, then hand it over once.

watchfiles reports changes; a file is handed over only after its size and mtime have stayed
the same for `stable_after` seconds, so a slow copy or a download in progress is picked up
once, complete. Temporary names (rsync's hidden `.name.XXXX`, `*.part`, ...) are ignored by
glob, and the rename to the final name is seen as a new file. A start-up scan finds what
arrived while the daemon was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from earwig.config import WatchConfig
from earwig.media import is_media_name

log = logging.getLogger("earwig.watch")

OnStable = Callable[[Path, WatchConfig], Awaitable[None]]
AlreadyKnown = Callable[[Path, os.stat_result], bool]


class IgnoreFilter:
    """watchfiles filter: drop paths where any part below the root matches an ignore glob."""

    def __init__(self, root: Path, globs: tuple[str, ...]) -> None:
        self.root = root
        self.globs = globs

    def ignored(self, path: Path) -> bool:
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            parts = (path.name,)
        return any(fnmatch.fnmatchcase(part, g) for part in parts for g in self.globs)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        return not self.ignored(Path(path))


@dataclass
class _Pending:
    watch: WatchConfig
    size: int
    mtime_ns: int
    changed_at: float


class FolderWatcher:
    def __init__(
        self,
        watches: tuple[WatchConfig, ...],
        stable_after: float,
        on_stable: OnStable,
        already_known: AlreadyKnown,
    ) -> None:
        self.watches = watches
        self.stable_after = stable_after
        self.on_stable = on_stable
        self.already_known = already_known
        self.pending: dict[Path, _Pending] = {}
        self.ready = asyncio.Event()  # set once every folder is being watched

    async def run(self, stop: asyncio.Event) -> None:
        for w in self.watches:
            w.path.mkdir(parents=True, exist_ok=True)
        tasks = [asyncio.create_task(self._watch(w, stop)) for w in self.watches]
        tasks.append(asyncio.create_task(self._settle(stop)))
        # Scan after the watchers start, so a file arriving in between is not missed.
        await asyncio.sleep(0)
        for w in self.watches:
            for path in _walk(w):
                self._note(path, w, initial=True)
        self.ready.set()
        await stop.wait()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _watch(self, w: WatchConfig, stop: asyncio.Event) -> None:
        flt = IgnoreFilter(w.path, w.ignore)
        async for changes in watchfiles.awatch(
            w.path, watch_filter=flt, stop_event=stop, recursive=w.recursive, debounce=400
        ):
            for change, raw in changes:
                if change == watchfiles.Change.deleted:
                    self.pending.pop(Path(raw), None)
                    continue
                path = Path(raw)
                if path.is_dir():
                    if w.recursive:  # a folder moved in: its files raise no events of their own
                        for inner in _walk(w, path):
                            self._note(inner, w)
                    continue
                self._note(path, w)

    def _note(self, path: Path, w: WatchConfig, initial: bool = False) -> None:
        if not is_media_name(path) or IgnoreFilter(w.path, w.ignore).ignored(path):
            return
        try:
            st = path.stat()
        except OSError:
            return
        if initial and self.already_known(path, st):
            return
        current = self.pending.get(path)
        if current is None or (current.size, current.mtime_ns) != (st.st_size, st.st_mtime_ns):
            self.pending[path] = _Pending(w, st.st_size, st.st_mtime_ns, time.monotonic())

    async def _settle(self, stop: asyncio.Event) -> None:
        tick = max(0.05, min(0.5, self.stable_after / 4))
        while not stop.is_set():
            await asyncio.sleep(tick)
            now = time.monotonic()
            for path, p in list(self.pending.items()):
                try:
                    st = path.stat()
                except OSError:
                    self.pending.pop(path, None)  # gone (renamed away or deleted)
                    continue
                if (st.st_size, st.st_mtime_ns) != (p.size, p.mtime_ns):
                    p.size, p.mtime_ns, p.changed_at = st.st_size, st.st_mtime_ns, now
                    continue
                if now - p.changed_at < self.stable_after or st.st_size == 0:
                    continue
                del self.pending[path]
                try:
                    await self.on_stable(path, p.watch)
                except Exception:
                    log.exception("could not queue %s", path)


def _walk(w: WatchConfig, start: Path | None = None) -> Iterator[Path]:
    flt = IgnoreFilter(w.path, w.ignore)
    top = start or w.path
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        dirnames[:] = (
            sorted(d for d in dirnames if not flt.ignored(here / d)) if w.recursive else []
        )
        for name in sorted(filenames):
            path = here / name
            if is_media_name(path) and not flt.ignored(path):
                yield path
