"""The earwig dashboard: attach to the daemon, keep a live copy of its queue, steer it.

All data comes from one AsyncDaemonClient: a snapshot on (re)connect, then the event stream.
When the daemon goes away the app says so and reconnects by itself with backoff; when it is
not running at all, `S` starts it in the background.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from earwig import formatting, protocol
from earwig.client import AsyncDaemonClient
from earwig.errors import DaemonNotRunning, EarwigError, ProtocolError
from earwig.launch import daemon_command

PAGE = 500
BACKOFF = (0.5, 1, 2, 4, 8)


class EarwigApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "earwig"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("slash", "search", "Search"),
        Binding("2", "subscriptions", "Subscriptions"),
        Binding("3", "sources", "Sources"),
        Binding("4", "log", "Log"),
        Binding("S", "start_daemon", "Start daemon", show=False),
    ]

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
        self.jobs: dict[int, dict[str, Any]] = {}
        self.status: dict[str, Any] = {}
        self.subscriptions: list[dict[str, Any]] = []
        self.log_lines: deque[dict[str, Any]] = deque(maxlen=2000)
        self.problem = ""  # why we are not connected, for the status bar and the queue
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._quitting = False

    # ------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        from earwig.tui.queue import QueueScreen

        self.push_screen(QueueScreen())
        self.run_worker(self._connect_forever(), exclusive=True, group="connection")

    async def on_unmount(self) -> None:
        self._quitting = True
        if self.client is not None:
            await self.client.close()

    def listen(self, callback: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """Screens register here for ("snapshot" | event name, data); returns an unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, what: str, data: dict[str, Any]) -> None:
        for callback in list(self._listeners):
            callback(what, data)

    async def _connect_forever(self) -> None:
        attempt = 0
        while not self._quitting:
            try:
                await self._connect()
                attempt = 0
                await self._lost.wait()
                self.connection = "disconnected"
                self.problem = "the daemon went away; reconnecting"
            except DaemonNotRunning:
                self.connection = "not running" if attempt == 0 or not self.jobs else "disconnected"
                self.problem = (
                    "the daemon is not running: press S to start it, "
                    "or `earwig service install` to have it start with your session"
                )
            except ProtocolError as exc:
                self.connection = "incompatible"
                self.problem = f"{exc.message}. {exc.hint}"
            self._emit("connection", {})
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1

    async def _connect(self) -> None:
        self._lost = asyncio.Event()
        client = AsyncDaemonClient(self.socket_path, self._on_event, self._lost.set)
        await client.connect()
        snapshot = await client.call("subscribe", topics=["jobs", "log"], limit=PAGE, log_limit=200)
        self.client = client
        self.jobs = {j["id"]: j for j in snapshot["jobs"]}
        self.status = snapshot["status"]
        self.subscriptions = self.status.get("subscriptions", [])
        self.log_lines.clear()
        self.log_lines.extend(snapshot.get("log", []))
        self.connection = "connected"
        self.problem = ""
        self._emit("snapshot", {})
        offset = PAGE
        while len(snapshot["jobs"]) == PAGE:  # the rest of the history, a page at a time
            snapshot = await client.call("jobs.list", limit=PAGE, offset=offset)
            for job in snapshot["jobs"]:
                self.jobs.setdefault(job["id"], job)
            offset += PAGE
            self._emit("page", {"jobs": snapshot["jobs"]})

    def _on_event(self, message: dict[str, Any]) -> None:
        name, data = message.get("event", ""), message.get("data") or {}
        if name in (protocol.EVENT_JOB_ADDED, protocol.EVENT_JOB_UPDATED):
            old = self.jobs.get(data["id"], {})
            if data.get("state") in formatting.RUNNING and "progress" in old:
                data.setdefault("progress", old["progress"])
            self.jobs[data["id"]] = data
        elif name == protocol.EVENT_JOB_PROGRESS:
            job = self.jobs.get(data["id"])
            if job is None:
                return
            job["progress"] = data
        elif name == protocol.EVENT_JOB_DELETED:
            self.jobs.pop(data["id"], None)
        elif name == protocol.EVENT_QUEUE:
            self.status["queue_paused"] = data["paused"]
        elif name == protocol.EVENT_SUBSCRIPTIONS:
            self.subscriptions = data["subscriptions"]
        elif name == protocol.EVENT_LOG:
            self.log_lines.append(data)
        self._emit(name, data)

    # ------------------------------------------------------------ talking to the daemon

    async def call(self, kind: str, /, **params: Any) -> Any:
        """A request whose outcome the user sees: errors become a toast, not a traceback."""
        if self.client is None or not self.client.connected:
            self.notify("not connected to the daemon", severity="error")
            return None
        try:
            return await self.client.call(kind, **params)
        except EarwigError as exc:
            self.notify(
                f"{exc.message}\n{exc.hint}".strip(), severity="error", timeout=6, markup=False
            )
            return None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job["state"]] = counts.get(job["state"], 0) + 1
        return counts

    # ------------------------------------------------------------ actions

    def action_search(self) -> None:
        from earwig.tui.screens import SearchScreen

        self.push_screen(SearchScreen())

    def action_subscriptions(self) -> None:
        from earwig.tui.screens import SubscriptionsScreen

        self.push_screen(SubscriptionsScreen())

    def action_sources(self) -> None:
        from earwig.tui.screens import SourcesScreen

        self.push_screen(SourcesScreen())

    def action_log(self) -> None:
        from earwig.tui.screens import LogScreen

        self.push_screen(LogScreen())

    def action_start_daemon(self) -> None:
        if self.connection == "connected":
            self.notify("the daemon is already running")
            return
        subprocess.Popen(
            daemon_command(self.config_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.notify("starting the daemon in the background…")


def make_app(config_path: Path | None = None, now: Callable[[], float] = time.time) -> EarwigApp:
    """The one way to build the app, for `earwig tui`, the tests and the benchmark."""
    from earwig import config

    cfg = config.load(config_path)
    return EarwigApp(cfg.socket_path, config_path, now=now)
