"""Politeness per host: at most `per_host` checks and downloads at once, and a pause after a
429, shared by the subscription checks and the download workers."""

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
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a free slot for `host` (a check), respecting any back-off."""
        async with self._changed:
            while self.active[host] >= self.per_host:
                await self._changed.wait()
            self.acquire(host)
        try:
            yield
        finally:
            await self.release(host)
