"""Politeness per host: at most `per_host` downloads, and `per_host` feed checks, at once
against one host, and a pause after a 429 that both respect.

Checks and downloads are counted apart: a feed check is one small request, and it must not
wait behind hundreds of queued media downloads to the same host (a podcast's CDN)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator


class HostPolicy:
    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self.active: Counter[str] = Counter()
        self.not_before: dict[str, float] = {}
        self._changed = asyncio.Condition()

    def available(self, host: str) -> bool:
        return self.active[host] < self.per_host and self.wait_time(host) == 0

    def wait_time(self, host: str) -> float:
        return max(0.0, self.not_before.get(host, 0.0) - time.time())

    def back_off(self, host: str, seconds: float) -> float:
        """Stay away from `host` for `seconds` (at least); returns when it may be tried again."""
        until = max(self.not_before.get(host, 0.0), time.time() + seconds)
        self.not_before[host] = until
        return until

    def acquire(self, host: str) -> None:
        self.active[host] += 1

    async def release(self, host: str) -> None:
        self.active[host] -= 1
        async with self._changed:
            self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def slot(self, host: str, kind: str = "check") -> AsyncIterator[None]:
        """Wait for a free `kind` slot for `host` (checks have their own, apart from the
        downloads' count)."""
        key = f"{kind} {host}"
        async with self._changed:
            while self.active[key] >= self.per_host:
                await self._changed.wait()
            self.acquire(key)
        try:
            yield
        finally:
            await self.release(key)
