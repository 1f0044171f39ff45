"""The daemon's media-server part: events in become jobs, finished subtitles go out as
refreshes, and `earwig status` learns how each server is doing.

An event is answered at once (the webhook route only parses it) and handled here: the path
is asked of the server when the event carries only an id, mapped to earwig's side, checked
against the folders a webhook may name (paths.py), and queued through Intake exactly as a
file in a watched folder with `output = "beside"` is: the same sha256 rule, the same
skip-if-subtitled rule, subtitles named for media servers beside the file. A "play" event of
a file that still waits moves it to the front (someone is watching now), behind only the
HTTP API's own requests.

When a job with subtitles beside its media is done, every configured server whose library
holds the file (by its path_map or the library folders it reports) is asked to look at it
again, through the batching of refresh.py. Whatever goes wrong there is a warning on the job
and in status; the job stays done.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig.config import Config, WatchConfig
from earwig.jobs import Action
from earwig.mediaservers import paths
from earwig.mediaservers.clients import Client, Library, ServerProblem, Target, inside, shown
from earwig.mediaservers.config import EVENTS, MediaServerConfig
from earwig.mediaservers.payloads import MediaEvent
from earwig.mediaservers.refresh import Batch, Refresher
from earwig.model import Job, JobState
from earwig.protocol import JOB_UPDATED, Event

if TYPE_CHECKING:
    import httpx

    from earwig.daemon.intake import Intake
    from earwig.daemon.queue import Events, JobQueue

logger = logging.getLogger("earwig.mediaservers")
WATCHING = 999_999  # a played file's priority: above all background work, below the HTTP API
CHECK_EVERY = 300.0  # seconds between checks of each server (reachable, key, libraries)
RECHECK_LIBRARIES = 60.0  # a refused path asks for the libraries again once this old
SENDER_NAMES = {
    "jellyfin": "Jellyfin",
    "plex": "Plex",
    "emby": "Emby",
    "tautulli": "Tautulli",
    "sonarr": "Sonarr",
    "radarr": "Radarr",
    "bazarr": "Bazarr",
}


@dataclass
class ServerState:
    """What status shows of one server or sender."""

    reachable: bool | None = None  # None: not asked yet
    server: str | None = None  # "Jellyfin 10.11.0 (living-room)"
    checked_at: float | None = None
    error: str | None = None  # the last problem talking to it, until it answers again
    last_event: dict[str, Any] | None = None  # {"at", "what", "outcome"}
    last_refresh: dict[str, Any] | None = None  # {"at", "ok", "what"}
    libraries: list[Library] = field(default_factory=list)
    libraries_at: float | None = None  # time.monotonic() of the last answer


class MediaServers:
    def __init__(
        self,
        config: Callable[[], Config],
        intake: Intake,
        queue: JobQueue,
        events: Events,
    ) -> None:
        self.config = config  # read each time: a reload of [[media_server]] applies at once
        self.intake = intake
        self.queue = queue
        self.store = queue.store
        self.events = events
        self.refresher = Refresher()
        self.states: dict[str, ServerState] = {}
        self.http: httpx.AsyncClient | None = None
        self.clients: dict[str, Client] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Jobs events made that are not finished yet (id -> their folder), and those someone
        # is playing: a refresh waits for a folder's other files, but never for a played one
        self.unfinished: dict[int, Path] = {}
        self.playing: set[int] = set()

    # ------------------------------------------------------------ configuration

    @property
    def entries(self) -> tuple[MediaServerConfig, ...]:
        return self.config().media_servers

    def entry(self, sender: str, name: str | None = None) -> MediaServerConfig | None:
        """The table an event belongs to: the one named, or the first of the sender's kind."""
        for e in self.entries:
            if (name is None and e.kind == sender) or (name is not None and e.label == name):
                return e
        return None

    def state(self, label: str) -> ServerState:
        return self.states.setdefault(label, ServerState())

    def client(self, entry: MediaServerConfig) -> Client:
        client = self.clients.get(entry.label)
        if client is None or client.config != entry:
            if self.http is None:
                import httpx

                self.http = httpx.AsyncClient(follow_redirects=False, trust_env=True)
            client = self.clients[entry.label] = Client(entry, self.http)
        return client

    # ------------------------------------------------------------ events in

    def accept(self, event: MediaEvent, name: str | None = None) -> str:
        """Take an event for handling after the answer; one sentence for the answer."""
        entry = self.entry(event.sender, name)
        label = entry.label if entry else (name or event.sender)
        if name is not None and entry is None:
            return f"no [[media_server]] is named {name!r}; the event was left alone"
        who = SENDER_NAMES.get(event.sender, event.sender)
        if event.action == "test":
            self._record(label, event, "test received")
            self.events.log("info", f"{who}: its test event reached earwig ({label})")
            return f"earwig received {who}'s test"
        wanted = entry.events if entry is not None else EVENTS
        if event.action not in wanted:
            self._record(label, event, "left alone")
            return f"{event.name}: not an event earwig acts on"
        task = asyncio.create_task(self._handle(event, entry, label))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return f"{event.name}: accepted"

    def _record(self, label: str, event: MediaEvent, outcome: str) -> None:
        self.state(label).last_event = {
            "at": time.time(),
            "what": event.describe(),
            "outcome": outcome,
        }

    async def _handle(self, event: MediaEvent, entry: MediaServerConfig | None, label: str) -> None:
        who = SENDER_NAMES.get(event.sender, event.sender)
        try:
            theirs = list(event.paths)
            server = entry if entry is not None and entry.talks_back else None
            if not theirs and event.item is not None:
                if server is None:
                    raise ServerProblem(
                        f'a {who} webhook arrived, but no [[media_server]] kind = "{event.sender}" '
                        "with a url says where to ask for its file",
                        permanent=True,
                    )
                theirs = [await self.client(server).item_path(event.item)]
            outcomes = [await self._place_and_queue(p, event, entry, label) for p in theirs]
            self._record(label, event, "; ".join(outcomes) or "no file named")
        except ServerProblem as problem:
            self.state(label).error = problem.message
            self._record(label, event, problem.message)
            self.events.log("warning", f"{who} {event.describe()}: {problem.message}")
        except Exception as exc:  # a bug must not go unseen, nor take the daemon down
            self._record(label, event, f"failed: {exc}")
            self.events.log("error", f"{who} {event.describe()}: {type(exc).__name__}: {exc}")
            logger.exception("handling %s %s failed", who, event.describe())  # the traceback

    async def _place_and_queue(
        self, theirs: str, event: MediaEvent, entry: MediaServerConfig | None, label: str
    ) -> str:
        who = SENDER_NAMES.get(event.sender, event.sender)
        placed = await self._place(theirs, event.sender, entry)
        if placed.local is None:
            tried = ", ".join(placed.tried) or "no path_map matches it"
            message = (
                f"{who} named {theirs}, which lies in no library earwig knows (tried: {tried}); "
                f"add a path_map to its [[media_server]] table (docs/media-servers.md)"
            )
            self.events.log("warning", message)
            return "refused: in no library earwig knows"
        local = placed.local
        if not local.is_file() or not os.access(local, os.R_OK):
            return self._unreadable(local, theirs, event, label)
        known = self._known(await asyncio.to_thread(_stat, local), local)
        if known is not None:
            return self._again(known, event)
        beside = WatchConfig(
            path=local.parent,
            output="beside",
            subtitles=entry.subtitles if entry else ("srt",),
            skip_if_subtitled=True,
        )
        details = {"sender": event.sender, "server": label, "item": event.item, "path": theirs}
        result = await self.intake.add_file(
            local,
            event.sender,
            watch=beside,
            must_be_media=True,
            fields={"options": {"media_server": details}},
        )
        if "job" in result:
            job_id = result["job"]["id"]
            if result["job"]["state"] not in ("done", "failed", "cancelled"):
                self.unfinished[job_id] = local.parent
            if event.action == "play":
                self._front(job_id)
            return f"queued as job {job_id}"
        if "duplicate_of" in result:
            return self._again(self.store.get_job(result["duplicate_of"]["id"]), event)
        if "skipped" in result:
            return f"skipped: {result.get('reason') or result['skipped']}"
        return f"not queued: {result.get('error', 'unknown')}"

    def _known(self, st: os.stat_result | None, local: Path) -> Job | None:
        """The job made from this very file before (same size and time), if any: a second
        event for it neither hashes it again nor queues it twice."""
        if st is None:
            return None
        return self.store.job_for_file(str(local), st.st_size, st.st_mtime)

    def _again(self, job: Job, event: MediaEvent) -> str:
        """An event for a file earwig already has a job for: a play moves it up."""
        if event.action == "play" and job.state in (JobState.QUEUED, JobState.PAUSED):
            assert job.id is not None
            self._front(job.id)
            return f"job {job.id} moved to the front"
        return f"already job {job.id} ({job.state})"

    def _front(self, job_id: int) -> None:
        self.playing.add(job_id)
        job = self.store.get_job(job_id)
        if job.state in (JobState.QUEUED, JobState.PAUSED) and job.priority < WATCHING:
            self.queue.save(job.replace(priority=WATCHING, updated_at=time.time()))
            self.events.log("info", f"{job.title}: playing now, moved to the front", job_id)

    def _unreadable(self, local: Path, theirs: str, event: MediaEvent, label: str) -> str:
        """A path inside a library that earwig cannot read: a failed job that says so, so
        the user sees it where they look, and `earwig retry` works once the mount is right."""
        from earwig import jobs

        who = SENDER_NAMES.get(event.sender, event.sender)
        missing = not local.exists()
        why = "does not exist here" if missing else "is not a file earwig may read"
        error = f"{who} named {theirs}, which maps to {local}; that {why}"
        hint = (
            "check the path_map of its [[media_server]] table and that earwig's container "
            "mounts the library (docs/media-servers.md); then `earwig retry`"
        )
        job = jobs.new(event.sender, event.title or local.name, time.time(), path=str(local))
        job = self.queue.add(job.replace(beside=("srt",)))
        assert job.id is not None
        self.queue.transition(job.id, Action.FAIL, error=error, hint=hint)
        self.events.log("warning", error, job.id)
        return f"failed: {why}"

    async def _place(
        self, theirs: str, sender: str, entry: MediaServerConfig | None
    ) -> paths.Placed:
        maps = [paths.PathMap(e.path_map) for e in self._ordered(sender, entry)]
        placed = await asyncio.to_thread(paths.place, theirs, maps, self._roots())
        if placed.refused and await self._stale_libraries():
            placed = await asyncio.to_thread(paths.place, theirs, maps, self._roots())
        return placed

    def _ordered(self, sender: str, entry: MediaServerConfig | None) -> list[MediaServerConfig]:
        """The tables whose path_map may hold a sender's path: its own first, then the
        servers' (Tautulli names Plex's paths), then the rest."""
        first = [entry] if entry is not None else []
        related = [e for e in self.entries if sender == "tautulli" and e.kind == "plex"]
        rest = [e for e in self.entries if e not in first and e not in related]
        return first + [e for e in related if e not in first] + rest

    def _roots(self) -> list[Path]:
        """The folders a webhook's path may lie in (paths.py says why)."""
        found = [w.path for w in self.config().watch]
        for e in self.entries:
            m = paths.PathMap(e.path_map)
            found += m.local_roots
            for library in self.state(e.label).libraries:
                for location in library.locations:
                    local = m.to_local(location)
                    if local is None and not paths.windowsy(location):
                        local = Path(location)
                    if local is not None:
                        found.append(local)
        return found

    async def _stale_libraries(self) -> bool:
        """Ask the servers for their libraries again when the answer is old; True if any
        changed (a refused path is then placed once more)."""
        changed = False
        for e in self.entries:
            if not e.talks_back:
                continue
            st = self.state(e.label)
            if (
                st.libraries_at is not None
                and time.monotonic() - st.libraries_at < RECHECK_LIBRARIES
            ):
                continue
            before = st.libraries
            await self._check(e)
            changed |= st.libraries != before
        return changed

    async def video_offset(self, theirs: str) -> float:
        """Bazarr's `video_file`: where its audio starts on its clock (mediaservers/bazarr.py),
        when the path lies in a library earwig knows; 0 and a log line when it does not."""
        from earwig.mediaservers import bazarr

        placed = await self._place(theirs, "bazarr", self.entry("bazarr"))
        if placed.local is None or not await asyncio.to_thread(placed.local.is_file):
            why = "lies in no library earwig knows" if placed.local is None else "is not here"
            self.events.log(
                "info",
                f"Bazarr's video_file {theirs} {why}: its subtitles keep the audio's clock "
                '(a [[media_server]] kind = "bazarr" path_map places it)',
            )
            return 0.0
        offset = await asyncio.to_thread(bazarr.offset_of, placed.local)
        if offset:
            self.events.log("info", f"{placed.local.name}: its audio starts {offset:.3f}s in")
        return offset

    # ------------------------------------------------------------ refresh out

    def on_event(self, event: Event[Any]) -> None:
        """A bus listener: a job with subtitles beside its media is done."""
        data = event.data
        if event.kind is not JOB_UPDATED or data.get("state") not in (
            "done",
            "failed",
            "cancelled",
        ):
            return
        self.unfinished.pop(data["id"], None)
        self._wake.set()  # a batch held for this folder may go now
        if data.get("state") != "done" or not data.get("beside"):
            self.playing.discard(data["id"])
            return
        if not any(e.talks_back and e.refresh for e in self.entries):
            return
        with contextlib.suppress(Exception):  # a vanished job is no refresh
            self.subtitles_written(self.store.get_job(data["id"]))

    def subtitles_written(self, job: Job) -> None:
        if job.id is None or not job.path or not job.outputs:
            return
        local = Path(job.path)
        came = job.options.get("media_server") or {}
        now = time.monotonic()
        for e in self.entries:
            if not (e.talks_back and e.refresh):
                continue
            theirs = self._server_path(e, local)
            if theirs is None:
                continue
            item = came.get("item") if came.get("server") == e.label else None
            urgent = job.id in self.playing
            self.refresher.add(e.label, Target(theirs, item), job.id, now, urgent)
        self.playing.discard(job.id)
        self._wake.set()

    def _held(self, label: str) -> bool:
        """More files of the pending batch's folders still wait in the queue."""
        batch = self.refresher.pending.get(label)
        if batch is None or not self.unfinished:
            return False
        folders = set()
        for job_id in batch.jobs:
            with contextlib.suppress(Exception):
                folders.add(Path(self.store.get_job(job_id).path or "").parent)
        return any(folder in folders for folder in self.unfinished.values())

    def _server_path(self, e: MediaServerConfig, local: Path) -> str | None:
        """The server's name for earwig's file, when the server's library holds it."""
        m = paths.PathMap(e.path_map)
        theirs = m.to_server(local)
        libraries = self.state(e.label).libraries
        if theirs is None:
            if not libraries:  # the server's folders unknown and no map: not its file
                return None
            theirs = str(local)
        if not libraries:
            return theirs  # its path_map covers the file: the best we know
        if any(inside(theirs, loc) for lib in libraries for loc in lib.locations):
            return theirs
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """The part the supervisor keeps alive: checks each server now and then, and sends
        the refresh batches when they are due."""
        if self.entries:  # httpx is imported off the loop: the socket answers meanwhile
            await asyncio.to_thread(importlib.import_module, "httpx")
        checker = asyncio.create_task(self._check_periodically(stop))
        sending: set[asyncio.Task[Any]] = set()
        try:
            while not stop.is_set():
                now = time.monotonic()
                wake = now + 60.0
                configured = {e.label: e for e in self.entries}
                for label in [s for s in self.refresher.pending if s not in configured]:
                    self._gone(label)
                for e in configured.values():
                    when = self.refresher.when(e.label, e.refresh_delay, self._held(e.label))
                    if when is None:
                        continue
                    if when <= now:
                        batch = self.refresher.take(e.label, now)
                        task = asyncio.create_task(self._send(e, batch))
                        sending.add(task)
                        task.add_done_callback(sending.discard)
                    else:
                        wake = min(wake, when)
                self._wake.clear()
                waits = [
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                await asyncio.wait(
                    waits, timeout=max(0.01, wake - now), return_when="FIRST_COMPLETED"
                )
                for w in waits:
                    w.cancel()
        finally:
            checker.cancel()
            busy = [*sending, *self._tasks]
            if busy:  # an event being queued, a refresh in flight: a few seconds to finish
                await asyncio.wait(busy, timeout=5.0)
            for task in busy:
                task.cancel()
            if self.http is not None:
                await self.http.aclose()
                self.http, self.clients = None, {}

    async def _send(self, e: MediaServerConfig, batch: Batch) -> None:
        client = self.client(e)
        label = e.label
        try:
            calls = await client.plan(list(batch.targets))
            planned = {p for call in calls for p in call.covers}
            for target in [t for t in batch.targets if t.path not in planned]:
                self._warn(
                    batch.targets.pop(target),
                    f"{client.name} was not asked to look at the new subtitles: no library "
                    f"there holds {target.path}",
                )
            made = []
            for call in calls:
                await client.run(call)
                made.append(call.describe())
                for target in [t for t in batch.targets if t.path in call.covers]:
                    del batch.targets[target]
            self.refresher.done(label)
            st = self.state(label)
            st.error, st.reachable = None, True
            st.last_refresh = {"at": time.time(), "ok": True, "what": ", ".join(made)}
            if made:
                count = len(planned)
                self.events.log(
                    "info",
                    f"{label}: asked {client.name} to look at {count} file"
                    f"{'s' if count != 1 else ''} with new subtitles ({', '.join(made)})",
                )
        except ServerProblem as problem:
            st = self.state(label)
            st.error = problem.message
            st.last_refresh = {"at": time.time(), "ok": False, "what": problem.message}
            if not problem.permanent and self.refresher.again(
                label, batch, e.refresh_delay, time.monotonic()
            ):
                self.events.log("warning", f"{label}: {problem.message}; earwig tries again")
                self._wake.set()
                return
            self.refresher.done(label)
            for jobs in batch.targets.values():
                self._warn(
                    jobs, f"{client.name} was not told of the new subtitles: {problem.message}"
                )

    def _gone(self, label: str) -> None:
        batch = self.refresher.forget(label)
        for jobs in batch.targets.values() if batch else []:
            self._warn(jobs, f"{label} was not told of the new subtitles: it left the config")

    def _warn(self, job_ids: set[int], message: str) -> None:
        """A warning on each job (it stays done) and in the log."""
        for job_id in sorted(job_ids):
            with contextlib.suppress(Exception):
                job = self.store.get_job(job_id)
                if message not in job.warnings:
                    self.queue.save(job.replace(warnings=(*job.warnings, message)))
                self.events.log("warning", f"{job.title}: {message}", job_id)

    # ------------------------------------------------------------ checks and status

    async def _check_periodically(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for e in self.entries:
                if e.talks_back:
                    await self._check(e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CHECK_EVERY)

    async def _check(self, e: MediaServerConfig) -> dict[str, Any]:
        """Ask a server who it is and which folders its libraries hold; record it."""
        st = self.state(e.label)
        client = self.client(e)
        st.checked_at = time.time()
        try:
            st.server = await client.check()
            st.libraries = await client.libraries()
            st.libraries_at = time.monotonic()
            st.reachable, st.error = True, None
        except ServerProblem as problem:
            st.reachable = problem.status is not None  # it answered, but said no
            st.error = problem.message
        return self._view(e, st)

    async def test(self) -> list[dict[str, Any]]:
        """`earwig media-servers test`: every table checked now, with its libraries and
        where each lies here."""
        results = []
        for e in self.entries:
            if e.talks_back:
                view = await self._check(e)
            else:
                view = self._view(e, self.state(e.label))
            m = paths.PathMap(e.path_map)
            places: list[dict[str, Any]] = []
            for library in self.state(e.label).libraries:
                for location in library.locations:
                    local = m.to_local(location)
                    if local is None and not paths.windowsy(location):
                        local = Path(location)
                    places.append(
                        {
                            "library": library.name,
                            "theirs": location,
                            "ours": str(local) if local else None,
                            "readable": bool(local and os.access(local, os.R_OK | os.X_OK)),
                        }
                    )
            for theirs, ours in e.path_map:
                if not any(p["ours"] and Path(p["ours"]).is_relative_to(ours) for p in places):
                    places.append(
                        {
                            "library": None,
                            "theirs": theirs,
                            "ours": ours,
                            "readable": os.access(ours, os.R_OK | os.X_OK),
                        }
                    )
            results.append({**view, "folders": places})
        return results

    def view(self) -> list[dict[str, Any]]:
        """For `earwig status` and the web page: each table, and any sender that posted
        without one."""
        shown_views = [self._view(e, self.state(e.label)) for e in self.entries]
        labels = {e.label for e in self.entries}
        for label, st in self.states.items():
            if label not in labels and st.last_event is not None:
                shown_views.append({"name": label, "kind": label, "last_event": st.last_event})
        return shown_views

    def _view(self, e: MediaServerConfig, st: ServerState) -> dict[str, Any]:
        view: dict[str, Any] = {
            "name": e.label,
            "kind": e.kind,
            "events": list(e.events),
            "last_event": st.last_event,
        }
        if e.talks_back:
            pending = self.refresher.pending.get(e.label)
            view |= {
                "url": shown(e.url or ""),
                "refresh": e.refresh,
                "reachable": st.reachable,
                "server": st.server,
                "checked_at": st.checked_at,
                "error": st.error,
                "last_refresh": st.last_refresh,
                "pending": len(pending.targets) if pending else 0,
            }
        return view


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None
