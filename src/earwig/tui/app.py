"""The earwig dashboard: attach to the daemon, keep a live copy of its queue, steer it.

All data comes from one AsyncDaemonClient: a snapshot on (re)connect, then the event stream.
When the daemon goes away the app says so and reconnects by itself with backoff; when it is
not running at all, `S` starts it in the background.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from earwig import formatting, protocol
from earwig.client import AsyncDaemonClient
from earwig.errors import (
    DaemonNotAllowed,
    DaemonNotAnswering,
    DaemonNotRunning,
    EarwigError,
    ProtocolError,
    RemoteError,
)
from earwig.launch import daemon_command
from earwig.tui import messages, steering
from earwig.tui.base import EarwigScreen
from earwig.tui.detail import JobDetailScreen
from earwig.tui.dialogs import AddDialog, ConfirmDialog, HelpScreen, SubscribeDialog
from earwig.tui.log import LogScreen
from earwig.tui.queue import QueueScreen
from earwig.tui.search import SearchScreen
from earwig.tui.sources import SourcesScreen
from earwig.tui.subscriptions import SubscriptionsScreen
from earwig.tui.widgets import TABS, keys_of

R = TypeVar("R")

PAGE = 500
BACKOFF = (0.5, 1, 2, 4, 8)

STARTING = 20.0  # seconds `S` watches a daemon it started before calling it a failure


class EarwigApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "earwig"
    # Tabs, not a stack: each is a mode with its own screens (a job opened from the queue
    # stays under the Queue tab); pressing a tab's number again goes back to its top.
    MODES = {
        "queue": QueueScreen,
        "subscriptions": SubscriptionsScreen,
        "sources": SourcesScreen,
        "log": LogScreen,
        "search": SearchScreen,
    }
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
        Binding("1", "switch_tab('queue')", "Queue", show=False),
        Binding("2", "switch_tab('subscriptions')", "Subscriptions", show=False),
        Binding("3", "switch_tab('sources')", "Sources", show=False),
        Binding("4", "switch_tab('log')", "Log", show=False),
        Binding("5,slash", "switch_tab('search')", "Search", show=False),
        Binding("S", "start_daemon", "Start the daemon", show=False),
    ]

    _TAB_SCREENS = (SubscriptionsScreen, SourcesScreen, LogScreen, SearchScreen)

    connection: reactive[str] = reactive("connecting")

    def __init__(
        self,
        socket_path: Path,
        config_path: Path | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.config_path = config_path
        self.now = now  # injectable so snapshots of ages are deterministic
        self.client: AsyncDaemonClient | None = None
        self.jobs: dict[int, protocol.JobView] = {}
        self.status: protocol.Status | dict[str, Any] = {}  # {} until the first snapshot
        self.subscriptions: list[protocol.SubscriptionView] = []
        self.log_lines: deque[protocol.LogEntry] = deque(maxlen=2000)
        self.problem = ""  # why we are not connected, for the status bar and the queue
        self.audience: set[Screen] = set()  # the mounted screens (base.EarwigScreen)
        self.pending: dict[int, str] = {}  # job id -> "cancelling…" until it has stopped
        # Progress is coalesced as the daemon's bus does it: while a job's JobProgress waits
        # in the screens' queues, newer progress only updates self.jobs (the handlers read
        # it from there), so a burst of events costs one repaint, not one each.
        self.progress_queued: set[int] = set()
        self._quitting = False
        self.start_failure = ""  # why the daemon `S` started did not come up

    # ------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        self.switch_mode("queue")
        self.run_worker(self._connect_forever(), exclusive=True, group="connection")

    async def on_unmount(self) -> None:
        self._quitting = True
        if self.client is not None:
            await self.client.close()

    def broadcast(self, make: Callable[[], Message]) -> None:
        """Tell every mounted screen, each with its own message (none of them bubbles)."""
        for screen in list(self.audience):
            screen.post_message(make())

    async def _connect_forever(self) -> None:
        attempt = 0
        while not self._quitting:
            try:
                await self._connect()
                attempt = 0
                await self._lost.wait()
                self.connection = "disconnected"
                self.problem = "the daemon went away; reconnecting"
            except DaemonNotAllowed as exc:
                self.connection = "not allowed"
                self.problem = f"{exc.message}: {exc.hint}"
            except DaemonNotRunning:
                self.connection = "not running" if attempt == 0 or not self.jobs else "disconnected"
                self.problem = (
                    "the daemon is not running: press S to start it, "
                    "or `earwig service install` to have it start with your session"
                )
            except DaemonNotAnswering as exc:  # stuck, or at its fd limit: keep trying
                self.connection = "not answering"
                self.problem = f"{exc.message}; {exc.hint}"
            except ProtocolError as exc:
                self.connection = "incompatible"
                self.problem = f"{exc.message}. {exc.hint}"
            except RemoteError as exc:  # refused: another user's daemon
                self.connection = "refused"
                self.problem = f"{exc.message}. {exc.hint}".rstrip(". ")
            self.broadcast(messages.ConnectionChanged)
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1

    async def _connect(self) -> None:
        self._lost = asyncio.Event()
        client = AsyncDaemonClient(self.socket_path, self._on_event, self._lost.set)
        await client.connect()
        snapshot = await client.call(
            protocol.Subscribe(topics=["jobs", "log"], limit=PAGE, log_limit=200)
        )
        self.client = client
        first = snapshot.get("jobs", [])
        self.jobs = {j["id"]: j for j in first}
        self.status = snapshot["status"]
        self.subscriptions = self.status.get("subscriptions", [])
        self.log_lines.clear()
        self.log_lines.extend(snapshot.get("log", []))
        self.connection = "connected"
        self.problem = ""
        self.broadcast(messages.Snapshot)
        offset = PAGE
        page = first
        while len(page) == PAGE:  # the rest of the history, a page at a time
            page = (await client.call(protocol.ListJobs(limit=PAGE, offset=offset)))["jobs"]
            for job in page:
                self.jobs.setdefault(job["id"], job)
            offset += PAGE
            self.broadcast(functools.partial(messages.HistoryPage, page))

    def _on_event(self, message: protocol.Message) -> None:
        """Apply one daemon event to the app's copy, then tell the screens what changed."""
        make: Callable[[], Message]
        if job := protocol.JOB_ADDED.data_of(message) or protocol.JOB_UPDATED.data_of(message):
            old = self.jobs.get(job["id"])
            if job["state"] in formatting.RUNNING and old is not None and "progress" in old:
                job.setdefault("progress", old["progress"])
            self.jobs[job["id"]] = job
            if job["id"] in self.pending and job["state"] not in formatting.RUNNING:
                del self.pending[job["id"]]  # "cancelling…" is over: say what happened
                self.notify(f"#{job['id']} {job['title']}: {job['state']}", timeout=3)
            added = message["event"] == protocol.JOB_ADDED.name
            make = lambda: messages.JobChanged(job, added=added)  # noqa: E731
        elif (progress := protocol.JOB_PROGRESS.data_of(message)) is not None:
            running = self.jobs.get(progress["id"])
            if running is None:
                return
            running["progress"] = progress
            if progress["id"] in self.progress_queued:
                return  # the screens have not taken the last one yet: they read this one
            self.progress_queued.add(progress["id"])
            make = lambda: messages.JobProgress(progress["id"], progress)  # noqa: E731
        elif (lines := protocol.JOB_SEGMENTS.data_of(message)) is not None:
            make = lambda: messages.JobSegments(lines["id"], list(lines["segments"]))  # noqa: E731
        elif (deleted := protocol.JOB_DELETED.data_of(message)) is not None:
            self.jobs.pop(deleted["id"], None)
            make = lambda: messages.JobDeleted(deleted["id"])  # noqa: E731
        elif (queue := protocol.QUEUE.data_of(message)) is not None:
            self.status["queue_paused"] = queue["paused"]
            make = lambda: messages.QueueChanged(bool(queue["paused"]))  # noqa: E731
        elif (subs := protocol.SUBSCRIPTIONS.data_of(message)) is not None:
            self.subscriptions = subs["subscriptions"]
            make = messages.SubscriptionsChanged
        elif (entry := protocol.LOG.data_of(message)) is not None:
            self.log_lines.append(entry)
            make = lambda: messages.LogLine(entry)  # noqa: E731
        else:
            return
        self.broadcast(make)

    # ------------------------------------------------------------ talking to the daemon

    async def call(self, request: protocol.Request[R]) -> R | None:
        """A request whose outcome the user sees: errors become a toast, not a traceback."""
        if self.client is None or not self.client.connected:
            self.notify("not connected to the daemon", severity="error")
            return None
        try:
            return await self.client.call(request)
        except EarwigError as exc:
            self.notify(
                f"{exc.message}\n{exc.hint}".strip(), severity="error", timeout=6, markup=False
            )
            return None

    async def act(self, kind: str, jobs: list[protocol.JobView]) -> None:
        """Steer `jobs` (the one under the cursor, or all marked ones) from any screen: ask
        once when work would be lost (steering.py), then send. A running job that is
        cancelled or paused says "cancelling…" until the daemon says it has stopped.
        Call it from a worker: the question waits for an answer."""
        jobs = [j for j in jobs if steering.applies(kind, j)]
        if kind in ("job.cancel", "job.pause") and (
            stopping := [j for j in jobs if j["id"] in self.pending]
        ):
            # already asked and sent: a second question would outlive the state it is about
            job = stopping[0]
            self.notify(f"#{job['id']} {job['title']}: {self.pending[job['id']]}", timeout=3)
            jobs = [j for j in jobs if j["id"] not in self.pending]
        if not jobs:
            return
        asked = steering.question(kind, jobs, list(self.status.get("watch", [])))
        if asked:

            def stale() -> str:  # the jobs may pause or end while the question is open
                return steering.gone_by(kind, jobs, self.jobs)

            if not await self.push_screen_wait(ConfirmDialog(*asked, stale=stale)):
                return
        done = 0
        for job in jobs:
            done += await self._steer_one(kind, job, quiet=len(jobs) > 1)
        if len(jobs) > 1 and done:
            self.notify(f"{done} jobs: {steering.VERBS[kind][2]}", timeout=3)

    async def toggle_pause(self, job: protocol.JobView) -> None:
        await self.act("job.resume" if job["state"] == "paused" else "job.pause", [job])

    async def _steer_one(self, kind: str, job: protocol.JobView, quiet: bool) -> bool:
        job_id, title = job["id"], job["title"]
        if kind == "job.delete" and job["state"] not in steering.FINISHED:
            # asked once already: cancel it, wait until it has stopped, then delete
            if await self.call(protocol.CancelJob(id=job_id)) is None:
                return False
            deadline = time.monotonic() + 60
            while (now := self.jobs.get(job_id)) is not None and now[
                "state"
            ] not in steering.FINISHED:
                if time.monotonic() > deadline:
                    self.notify(f"#{job_id} {title} did not stop; not deleted", severity="error")
                    return False
                await asyncio.sleep(0.1)
        result = await self.call(steering.request(kind, job_id))
        if result is None:
            return False
        pending = steering.VERBS[kind][1]
        now = result.get("job", {}).get("state") if isinstance(result, dict) else None
        if pending and now in formatting.RUNNING:  # it stops at the backend's next check
            self.pending[job_id] = pending
            self.broadcast(functools.partial(messages.JobChanged, self.jobs.get(job_id, job)))
            self.notify(f"#{job_id} {title}: {pending}", timeout=3, markup=False)
        elif not quiet:
            self.notify(f"#{job_id} {title}: {steering.VERBS[kind][2]}", timeout=3, markup=False)
        return True

    async def steer(self, request: protocol.Request[Any], job: protocol.JobView, done: str) -> None:
        """One request about `job` that loses nothing (retry, prioritize): no question."""
        if await self.call(request) is not None:
            self.notify(f"#{job['id']} {job['title']}: {done}", timeout=3, markup=False)

    async def refresh_status(self) -> None:
        """Ask the daemon's status again (the pool's slots change without events)."""
        if self.client is None or not self.client.connected:
            return
        try:
            status = await self.client.call(protocol.GetStatus())
        except EarwigError:
            return
        self.status = {**self.status, **status}
        self.broadcast(messages.StatusChanged)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job["state"]] = counts.get(job["state"], 0) + 1
        return counts

    # ------------------------------------------------------------ actions

    async def action_switch_tab(self, mode: str) -> None:
        """A tab's key. Pressed on its own tab, it goes back to the tab's top screen; from
        another tab, it shows what was left open there (a job opened from the queue stays
        under the Queue tab) unless the tab keeps nothing opened (Search: its key means "type
        a query", so it always lands in the box, never on a job screen whose keys would
        take the letters). Then the tab is told, to put the focus where its key promises."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
            top = self.screen_stack[0]
            if not (isinstance(top, EarwigScreen) and not top.KEEPS_OPENED):
                return
        while len(self.screen_stack) > 1:  # back to the tab's own top screen
            await self.pop_screen()
        top = self.screen_stack[0]
        if isinstance(top, EarwigScreen):
            top.tab_key()

    async def show_subscription(self, name: str) -> None:
        """The Queue tab with only `name`'s jobs."""
        await self.action_switch_tab("queue")
        queue = self.screen_stack[0]
        if isinstance(queue, QueueScreen):
            queue.show_subscription(name)

    def action_help(self) -> None:
        """`?`: the keys of this screen, of everywhere, then of each other screen."""
        screen = self.screen
        title = getattr(screen, "HELP_TITLE", None) or type(screen).__name__
        everywhere = [*keys_of(self), ("ctrl+p", "all commands")]
        sections = [(f"{title}: keys", keys_of(screen)), ("Everywhere", everywhere)]
        for other in (QueueScreen, JobDetailScreen, *self._TAB_SCREENS):
            if not isinstance(screen, other):
                sections.append((f"{other.HELP_TITLE}", keys_of(other)))
        self.push_screen(HelpScreen(sections))

    def get_system_commands(self, screen: Screen) -> Any:
        """Ctrl+P: the app's own commands beside Textual's (theme, quit...)."""
        yield from super().get_system_commands(screen)
        for mode, key, label in TABS:
            yield SystemCommand(
                f"Go to {label}", f"the {label} tab (key {key})", self._tab_callback(mode)
            )
        yield SystemCommand(
            "Pause or resume the queue", "stop or start taking new jobs", self._toggle_queue
        )
        yield SystemCommand("Add a file or URL", "queue media now", self._add)
        yield SystemCommand("Add a file or URL again (force)", "even if known", self._add_forced)
        yield SystemCommand("Subscribe", "follow a podcast feed or a channel", self._subscribe)
        yield SystemCommand("Check all subscriptions", "look for new items now", self.check_all)
        yield SystemCommand("Start the daemon", "in the background (S)", self.action_start_daemon)

    def _tab_callback(self, mode: str) -> Callable[[], Any]:
        return lambda: self.run_worker(self.action_switch_tab(mode))

    def _toggle_queue(self) -> None:
        paused = self.status.get("queue_paused")

        async def toggle() -> None:
            toggle = protocol.ResumeQueue() if paused else protocol.PauseQueue()
            if await self.call(toggle) is not None:
                self.notify("queue resumed" if paused else "queue paused")

        self.run_worker(toggle())

    def _add(self, force: bool = False) -> None:
        self.push_screen(AddDialog(force=force))

    def _add_forced(self) -> None:
        self._add(force=True)

    def _subscribe(self) -> None:
        self.push_screen(SubscribeDialog())

    def check_all(self) -> None:
        async def check() -> None:
            result = await self.call(protocol.CheckSubscription())
            if result is not None:
                new = sum(r.get("new", 0) for r in result["results"])
                errors = [r for r in result["results"] if r.get("error")]
                self.notify(f"checked {len(result['results'])}: {new} new, {len(errors)} errors")

        self.run_worker(check())

    def action_start_daemon(self) -> None:
        """Start `earwig run` in the background, and if it does not come up, say why: its
        own last words (a broken config, a socket in use), not a silent nothing."""
        if self.connection == "connected":
            self.notify("the daemon is already running")
            return
        try:
            process = subprocess.Popen(
                daemon_command(self.config_path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._start_failed(f"could not run earwig: {exc}")
            return
        self.start_failure = ""
        said: deque[str] = deque(maxlen=12)

        def drain() -> None:  # its stderr, read for as long as we live (a full pipe blocks it)
            assert process.stderr is not None
            for raw in process.stderr:
                said.append(raw.decode("utf-8", "replace").rstrip())

        import threading

        threading.Thread(target=drain, daemon=True).start()
        self.notify("starting the daemon in the background…")
        self.run_worker(self._watch_start(process, said), group="start")

    async def _watch_start(self, process: subprocess.Popen[bytes], said: deque[str]) -> None:
        deadline = time.monotonic() + STARTING
        while time.monotonic() < deadline and self.connection != "connected":
            code = process.poll()
            if code is not None:
                await asyncio.sleep(0.1)  # its last lines reach the reader
                lines = [line for line in said if line.strip()]
                why = "\n".join(lines[-6:]) or f"it exited with status {code}"
                self._start_failed(f"the daemon did not start (exit {code}):\n{why}")
                return
            await asyncio.sleep(0.1)

    def _start_failed(self, message: str) -> None:
        self.start_failure = message
        self.notify(message, severity="error", timeout=15, markup=False)
        self.broadcast(messages.ConnectionChanged)


def make_app(config_path: Path | None = None, now: Callable[[], float] = time.time) -> EarwigApp:
    """The one way to build the app, for `earwig tui`, the tests and the benchmark."""
    from earwig import config
    from earwig.errors import ConfigError

    try:
        socket_path = config.load(config_path).socket_path
    except ConfigError:  # the daemon may run on its last good config: reach it anyway
        socket_path = config.socket_path_despite_errors(config_path)
    return EarwigApp(socket_path, config_path, now=now)
