"""Keeps the daemon's long-running parts alive, and makes a part that died impossible to miss.

Every long-lived task (the runner, the downloads, the folder watcher, the inbox, the model
fetcher, the media clean-up) runs under the supervisor. A task that raises, or returns while
the daemon is not stopping, is logged with its traceback, restarted after a backoff (1 s,
doubling to a minute), and shown in `earwig status` with its restarts and last error, so
"status looks fine while the watcher is dead" cannot happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from earwig.protocol import PartView

log = logging.getLogger("earwig.supervisor")

Run = Callable[[asyncio.Event], Awaitable[None]]
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
HEALTHY_AFTER = 60.0  # a task that ran this long before dying starts its backoff afresh


@dataclass
class Part:
    name: str
    run: Run
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None
    state: str = "starting"  # running, restarting, stopped
    restarts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    started_at: float = field(default_factory=time.time)

    def view(self) -> PartView:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


class Supervisor:
    def __init__(self, report: Callable[[str, str], None]) -> None:
        self._report = report  # (level, message): the daemon's log, kept in the database
        self.parts: dict[str, Part] = {}

    def start(self, name: str, run: Run, stop: asyncio.Event | None = None) -> Part:
        """Run `run(stop)` until `stop` is set, restarting it whenever it dies."""
        part = Part(name, run, stop or asyncio.Event())
        self.parts[name] = part
        part.task = asyncio.create_task(self._keep(part), name=f"earwig:{name}")
        return part

    async def stop(self, name: str, timeout: float = 10.0) -> None:
        part = self.parts.pop(name, None)
        if part is None or part.task is None:
            return
        part.stop.set()
        try:
            await asyncio.wait_for(part.task, timeout)
        except (TimeoutError, asyncio.CancelledError):
            part.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await part.task
        part.state = "stopped"

    async def wait(self, name: str) -> None:
        """Wait for a part to end by itself (after its stop event is set)."""
        part = self.parts.get(name)
        if part is not None and part.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await part.task

    def view(self) -> dict[str, PartView]:
        return {name: part.view() for name, part in self.parts.items()}

    @property
    def unhealthy(self) -> list[str]:
        return [name for name, p in self.parts.items() if p.state == "restarting"]

    async def _keep(self, part: Part) -> None:
        backoff = FIRST_BACKOFF
        while True:
            part.state, started = "running", time.monotonic()
            try:
                await part.run(part.stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if part.stop.is_set():
                    return
                detail = "".join(traceback.format_exception(exc)).rstrip()
                log.error("%s died:\n%s", part.name, detail)
                part.last_error = f"{type(exc).__name__}: {exc}"
            else:
                if part.stop.is_set():
                    part.state = "stopped"
                    return
                part.last_error = "it stopped by itself"
            part.restarts += 1
            part.last_error_at = time.time()
            part.state = "restarting"
            if time.monotonic() - started > HEALTHY_AFTER:
                backoff = FIRST_BACKOFF
            self._safe_report(
                "error",
                f"{part.name} stopped working ({part.last_error}); restarting it in "
                f"{backoff:.0f}s (restart {part.restarts})",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(part.stop.wait(), backoff)
            if part.stop.is_set():
                part.state = "stopped"
                return
            backoff = min(MAX_BACKOFF, backoff * 2)

    def _safe_report(self, level: str, message: str) -> None:
        try:
            self._report(level, message)
        except Exception:  # the database may be what is failing: the log file still says it
            log.exception("could not record: %s", message)
