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
from earwig.media import shown, utf8_name, worth_a_look
from earwig.paths import default_watch_dir

log = logging.getLogger("earwig.watch")

# a settled file is handed over; the answer is why it could not be taken now (tried again
# after RETRY_AFTER), or None
OnStable = Callable[[Path, WatchConfig], Awaitable[str | None]]
AlreadyKnown = Callable[[Path, os.stat_result], bool]
Report = Callable[[str, str], None]  # (level, message): the daemon's log
ROOT_CHECK = 2.0  # seconds between checks that each watched folder is still the same folder
RETRY_AFTER = (5.0, 15.0, 60.0)  # seconds before a file that could not be taken is tried again
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if path.is_dir() else None


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
    failures: int = 0  # tries the intake could not take it (out of descriptors, say)


class FolderWatcher:
    def __init__(
        self,
        watches: tuple[WatchConfig, ...],
        stable_after: float,
        on_stable: OnStable,
        already_known: AlreadyKnown,
        report: Report | None = None,
        own: Callable[[Path], bool] = lambda path: False,
        empty: Callable[[Path, os.stat_result], None] = lambda path, st: None,
    ) -> None:
        self.watches = watches
        self.own = own  # earwig's own files in a watched folder (the inbox's): never media
        self.empty = empty  # remembers an empty file, so no later start says it again
        self.stable_after = stable_after
        self.on_stable = on_stable
        self.already_known = already_known
        self.report = report or (lambda level, message: log.log(_LEVELS[level], message))
        self.pending: dict[Path, _Pending] = {}
        self.ready = asyncio.Event()  # set once every folder is being watched
        self._refused: set[Path] = set()
        self._roots: dict[Path, tuple[int, int] | None] = {}
        # one watch per folder, each with its own stop event: watchfiles sets the event it
        # was given when its task is cancelled, so a shared one would stop every folder
        self._tasks: dict[Path, tuple[asyncio.Task[None], asyncio.Event]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        for w in self.watches:
            if not w.path.exists() and w.path == default_watch_dir():
                self.report("info", f"created the watch folder {w.path}")
            elif not w.path.exists():
                self.report(
                    "warning",
                    f"watch folder {w.path} did not exist: created it (if that is a typo, "
                    "fix [[watch]] path in the config and reload)",
                )
            w.path.mkdir(parents=True, exist_ok=True)
            self._roots[w.path] = _identity(w.path)
            self._start_watch(w)
        settle = asyncio.create_task(self._settle(stop))
        try:
            # Scan after the watchers start, so a file arriving in between is not missed.
            await asyncio.sleep(0)
            for w in self.watches:
                self._scan(w, initial=True)
            self.ready.set()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ROOT_CHECK)
                if settle.done():
                    settle.result()  # raise what killed it: the supervisor restarts us
                self._check_roots()
        finally:
            settle.cancel()
            for _, own_stop in self._tasks.values():
                own_stop.set()
            for t in (*(t for t, _ in self._tasks.values()), settle):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(t, 5)
            self._tasks.clear()

    def _start_watch(self, w: WatchConfig) -> None:
        old = self._tasks.pop(w.path, None)
        if old is not None:
            old[1].set()  # the old watch ends by itself
        own_stop = asyncio.Event()
        self._tasks[w.path] = (asyncio.create_task(self._watch(w, own_stop)), own_stop)

    def _scan(self, w: WatchConfig, initial: bool = False, start: Path | None = None) -> None:
        for path in _walk(w, start):
            self._note(path, w, initial=initial)

    def _check_roots(self) -> None:
        """A watched folder that was removed is reported; once it is back (a new folder under
        the same name, which inotify does not follow), it is watched and scanned again."""
        for w in self.watches:
            now, before = _identity(w.path), self._roots.get(w.path)
            if now == before:
                continue
            self._roots[w.path] = now
            if now is None:
                self.report(
                    "warning",
                    f"watch folder {w.path} is gone; it is watched again as soon as it is back",
                )
                continue
            self.report("info", f"watch folder {w.path} is back: watching it again")
            self._start_watch(w)
            self._scan(w, initial=True)
            # the new inotify watch takes a moment to start: look again once it surely has
            asyncio.get_running_loop().call_later(ROOT_CHECK / 2, self._scan, w, True)

    async def _watch(self, w: WatchConfig, stop: asyncio.Event) -> None:
        flt = IgnoreFilter(w.path, w.ignore)
        while not stop.is_set():
            try:
                async for changes in watchfiles.awatch(
                    w.path,
                    watch_filter=flt,
                    stop_event=stop,
                    recursive=w.recursive,
                    debounce=400,
                ):
                    for change, raw in changes:
                        self._changed(w, change, Path(raw))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # watchfiles gives up on a name it cannot decode (not UTF-8), a folder it
                # lost, an inotify limit: watch again, and scan for what was missed meanwhile.
                if not w.path.is_dir():
                    return  # gone: _check_roots starts a new watch when it is back
                self.report("warning", f"watching {w.path} failed ({exc}); watching it again")
                await asyncio.sleep(0.5)
                self._scan(w)

    def _changed(self, w: WatchConfig, change: watchfiles.Change, path: Path) -> None:
        if change == watchfiles.Change.deleted:
            self.pending.pop(path, None)
            return
        if path.is_symlink():  # one rule for the scan and the watch: links are not followed
            return
        if path.is_dir():
            if w.recursive:  # a folder moved in: its files raise no events of their own
                self._scan(w, start=path)
            return
        self._note(path, w)

    def _note(self, path: Path, w: WatchConfig, initial: bool = False) -> None:
        if not worth_a_look(path) or IgnoreFilter(w.path, w.ignore).ignored(path):
            return
        if self.own(path):
            return
        if path.is_symlink():
            return  # not followed, in the scan or the watch: it may point anywhere
        if not utf8_name(path):
            if path not in self._refused:
                self._refused.add(path)
                self.report(
                    "warning",
                    f"skipped {shown(path)}: its name is not valid UTF-8, which earwig cannot "
                    "store; rename the file (e.g. with `convmv` or your file manager)",
                )
            return
        try:
            st = path.stat()
            if initial and self.already_known(path, st):
                return
        except OSError:
            return
        except Exception:  # one odd file must not stop the scan or the watch
            log.exception("cannot look at %s", shown(path))
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
                if now - p.changed_at < self.stable_after:
                    continue
                if st.st_size == 0:  # said once, and remembered: a restart's scan is quiet
                    del self.pending[path]  # it is taken once it fills (a change: an event)
                    self.report("warning", f"skipped {shown(path)} for now: it is empty")
                    self.empty(path, st)
                    continue
                del self.pending[path]
                try:
                    problem = await self.on_stable(path, p.watch)
                except Exception as exc:
                    log.exception("could not queue %s", shown(path))
                    problem = f"{exc}"
                if problem is not None:
                    self._again(path, p, problem)
                elif p.failures:
                    self.report("info", f"{shown(path)} could be read after all: handed over")

    def _again(self, path: Path, p: _Pending, problem: str) -> None:
        """Keep a file that could not be taken, to try again: said once, when it first
        fails (and again once it is taken)."""
        wait = RETRY_AFTER[min(p.failures, len(RETRY_AFTER) - 1)]
        if p.failures == 0:
            self.report("warning", f"could not queue {shown(path)} yet: {problem}; trying again")
        p.failures += 1
        p.changed_at = time.monotonic() + wait - self.stable_after  # settled again then
        self.pending.setdefault(path, p)


def _walk(w: WatchConfig, start: Path | None = None) -> Iterator[Path]:
    yield from candidates(w.path, w.ignore, w.recursive, start)


def candidates(
    root: Path, ignore: tuple[str, ...], recursive: bool = True, start: Path | None = None
) -> Iterator[Path]:
    """The files below `root` that may be media (by name; unknown names are probed later),
    skipping ignored names, in a stable order; symbolic links are not followed. Used by the
    watcher's scans and by `earwig add FOLDER`: one rule for both."""
    flt = IgnoreFilter(root, ignore)
    for dirpath, dirnames, filenames in os.walk(start or root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not flt.ignored(here / d)) if recursive else []
        for name in sorted(filenames):
            path = here / name
            if worth_a_look(path) and not flt.ignored(path) and not path.is_symlink():
                yield path
