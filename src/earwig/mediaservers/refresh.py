"""Refreshes gathered per server, so that a season's 20 new subtitles are one request, not 20
scans: the rules of when, with no I/O (service.py makes the calls).

A server's batch is sent once no new subtitle has joined it for `delay` seconds, or `4 x
delay` after its first one, whichever comes first, and never sooner than `delay` after the
server's previous batch (a rate limit). While more files of the same folders are still in
earwig's queue (a season imported at once is transcribed one episode after another, minutes
apart), the batch is held for them, up to `HOLD` seconds after its first subtitle; a file
someone is playing is never held. A batch that fails for a reason that may pass (the
server is down, busy, slow) is tried again after 2, 4 and 8 times `delay` (at most ten
minutes), taking in what arrived meanwhile; then it is given up, and each of its jobs gets a
warning. Failures never fail a job: its subtitles are written, only the server was not told.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earwig.mediaservers.clients import Target

ATTEMPTS = 4  # the first try and three more
MAX_BACKOFF = 600.0
GATHER = 4  # a batch waits at most this many delays after its first subtitle
HOLD = 900.0  # ... or this long, while files of its folders still wait to be transcribed


@dataclass
class Batch:
    """What one server is to be asked to look at: each target and the jobs it is for."""

    targets: dict[Target, set[int]] = field(default_factory=dict)
    first: float = 0.0
    last: float = 0.0
    attempts: int = 0  # tries already made
    retry_at: float | None = None
    urgent: bool = False  # someone plays one of its files: never held for the others

    def add(self, target: Target, job_id: int, now: float, urgent: bool = False) -> None:
        if not self.targets:
            self.first = now
        self.targets.setdefault(target, set()).add(job_id)
        self.last = now
        self.urgent |= urgent

    def merge(self, other: Batch) -> None:
        for target, jobs in other.targets.items():
            self.targets.setdefault(target, set()).update(jobs)
        self.last = max(self.last, other.last)
        self.urgent |= other.urgent

    @property
    def jobs(self) -> set[int]:
        return set().union(*self.targets.values()) if self.targets else set()


class Refresher:
    """The pending batches of every server, by the server's label."""

    def __init__(self) -> None:
        self.pending: dict[str, Batch] = {}
        self.last_sent: dict[str, float] = {}
        self.sending: set[str] = set()  # one batch in flight per server

    def add(
        self, server: str, target: Target, job_id: int, now: float, urgent: bool = False
    ) -> None:
        self.pending.setdefault(server, Batch()).add(target, job_id, now, urgent)

    def when(self, server: str, delay: float, hold: bool = False) -> float | None:
        """When the server's pending batch may be sent (None: nothing pending). `hold`: more
        files of its folders still wait in the queue."""
        batch = self.pending.get(server)
        if batch is None or not batch.targets or server in self.sending:
            return None
        if batch.retry_at is not None:
            ready = batch.retry_at
        elif hold and not batch.urgent:
            ready = batch.first + HOLD
        else:
            ready = min(batch.last + delay, batch.first + GATHER * delay)
        return max(ready, self.last_sent.get(server, float("-inf")) + delay)

    def take(self, server: str, now: float) -> Batch:
        """The batch to send now; the server counts as busy until `done` or `again`."""
        batch = self.pending.pop(server)
        self.sending.add(server)
        self.last_sent[server] = now
        batch.attempts += 1
        return batch

    def done(self, server: str) -> None:
        self.sending.discard(server)

    def again(self, server: str, batch: Batch, delay: float, now: float) -> bool:
        """A try that may work later: schedule the next with back-off, merged with whatever
        arrived meanwhile. False when the batch is out of tries (the caller warns)."""
        self.sending.discard(server)
        if batch.attempts >= ATTEMPTS:
            return False
        newer = self.pending.pop(server, None)
        if newer is not None:
            batch.merge(newer)
        batch.retry_at = now + min(MAX_BACKOFF, delay * 2**batch.attempts)
        self.pending[server] = batch
        return True

    def forget(self, server: str) -> Batch | None:
        """A server no longer configured: its pending batch, for the caller to report."""
        self.last_sent.pop(server, None)
        return self.pending.pop(server, None)
