"""The configured model, on disk before the runner needs it: downloaded on first need.

While a model downloads the daemon keeps answering, queued jobs wait (they do not fail), and
`earwig status` shows the download's progress. A download that fails is shown with its reason
and tried again with backoff; one that can never work (no such repository, offline mode,
`download = false`) waits for a config reload instead. Collaborators come in as callables: what
is missing, how to log, what to do once the model is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from earwig.errors import EarwigError
from earwig.transcribe.catalog import Entry

if TYPE_CHECKING:
    from earwig.protocol import ModelState

FIRST_RETRY = 30.0
MAX_RETRY = 900.0
LOOK_AGAIN = 30.0  # offline: how often to look for a model pulled by hand


class ModelFetcher:
    def __init__(
        self,
        missing: Callable[[], Entry | None],
        download: Callable[[], bool],
        log: Callable[[str, str], None],
        on_ready: Callable[[], None],
    ) -> None:
        self._missing = missing
        self._download = download
        self._log = log
        self._on_ready = on_ready
        self.state = "checking"
        self.entry: Entry | None = None
        self.error: str | None = None
        self.hint: str | None = None
        self.retry_at: float | None = None
        self.done = 0
        self.total = 0
        self.failures = 0
        self.last_error: str | None = None  # why the last download failed, while it is retried

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def view(self) -> ModelState:
        view: ModelState = {"state": self.state}
        if self.entry is not None:
            view["name"] = self.entry.name
            view["repo"] = self.entry.repo
        if self.state == "downloading":
            view.update({"bytes": self.done, "total": self.total})
            view["fraction"] = round(self.done / self.total, 4) if self.total else None
        if self.error:
            view.update({"error": self.error, "hint": self.hint, "retry_at": self.retry_at})
        return view

    def waiting_note(self) -> str | None:
        """Why queued jobs are not starting, for their rows; None when nothing blocks them.
        A download that failed says why, and when it is tried again: "0%" alone would hide
        that the hub cannot be reached."""
        if self.ready or self.entry is None:
            return None
        if self.state == "downloading":
            pct = f" {100 * self.done / self.total:.0f}%" if self.total else ""
            last = f" (the last try failed: {self.last_error})" if self.last_error else ""
            return f"waiting for model {self.entry.name} to download{pct}{last}"
        if self.state == "checking":
            return f"waiting for model {self.entry.name}"
        from earwig.formatting import until

        again = f"; tried again {until(self.retry_at)}" if self.retry_at else ""
        return f"waiting for model {self.entry.name}: {self.error}{again}"

    def blocking(self) -> str | None:
        """Why this machine can transcribe nothing now, if it cannot: its model is missing and
        its download failed (or is not allowed). None while it is there or on its way."""
        if self.state != "failed" or self.entry is None:
            return None
        return f"nothing can be transcribed until model {self.entry.name} is here: {self.error}"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            entry = await asyncio.to_thread(self._missing)
            if entry is None:
                self._set_ready()
                await self._wait(stop, None)
                continue
            self.entry = entry
            if not self._download():
                self._fail(
                    f"model {entry.name!r} is not downloaded and [transcribe] download = false",
                    f"run `earwig models pull {entry.name}`: the daemon looks for it every "
                    f"{LOOK_AGAIN:.0f}s",
                    retry=False,
                )
                await self._wait(stop, time.time() + LOOK_AGAIN)  # pulled by hand meanwhile?
                continue
            await self._fetch(entry, stop)

    async def _fetch(self, entry: Entry, stop: asyncio.Event) -> None:
        from earwig.transcribe import hub

        self.state, self.error, self.hint, self.retry_at = "downloading", None, None, None
        self.done, self.total = 0, entry.size
        self._log("info", f"downloading model {entry.name} ({entry.repo})")
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            self.done, self.total = done, total

        try:
            await asyncio.to_thread(hub.pull, entry, progress)
        except EarwigError as exc:
            self._fail(exc.message, exc.hint, retry=not exc.permanent)
            await self._wait(stop, self.retry_at)
            return
        except Exception as exc:  # an unexpected failure must not end the fetcher
            self._fail(f"unexpected error: {type(exc).__name__}: {exc}", "see `earwig logs`")
            await self._wait(stop, self.retry_at)
            return
        self.failures = 0
        self._log(
            "info",
            f"model {entry.name} downloaded ({self.total / 1e6:.0f} MB in "
            f"{time.monotonic() - started:.0f}s)",
        )

    def _set_ready(self) -> None:
        was = self.state
        self.state, self.error, self.hint, self.retry_at = "ready", None, None, None
        self.last_error = None
        if was != "ready":
            self._on_ready()

    def _fail(self, message: str, hint: str, retry: bool = True) -> None:
        repeated = self.state == "failed" and self.error == message and not retry
        self.failures += 1
        self.state, self.error, self.hint = "failed", message, hint
        self.last_error = message
        self.retry_at = (
            time.time() + min(MAX_RETRY, FIRST_RETRY * 2 ** (self.failures - 1)) if retry else None
        )
        when = f"; trying again in {self.retry_at - time.time():.0f}s" if self.retry_at else ""
        if not repeated:
            self._log("error", f"model not available: {message}{when}")

    async def _wait(self, stop: asyncio.Event, until: float | None) -> None:
        timeout = None if until is None else max(0.0, until - time.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
