"""The short lane: this machine's short jobs transcribed together, in shared engine batches.

A local worker runs one job at a time, so twenty short clips arriving together (a burst of
API calls, a folder of voice memos) would each get the engine's batch-of-one path, one after
another. Instead, a job of the local slot that turns out short (probed under BATCHED_FROM
seconds, the length from which one recording fills the engine's batches by itself) and whose
backend can share batches (faster-whisper with `batched` not off) *boards* the lane: it gets
a seat at its model's shared batches (transcribe/batches.py), its transcription runs in the
lane's own threads (they wait on batches and must not fill the loop's default pool, which
answers clients), and the worker that claimed it is free to claim the next job at once.

Each rider is still a whole job of its own: its own pipeline (transcribe/pipeline.py: its
windows, language, options, quality review, progress, live segments, outputs), its own abort
handle (cancel, pause and shutdown withdraw its pieces from the next batch), its own errors.
Only the engine's work is shared.

Bounded: at most `capacity` seconds of audio and `max_riders` jobs ride at once (two full
batches' worth: one being decoded, one gathering); a short job that finds the lane full waits
for room in its worker. Long jobs never board: they run on their worker as before and never
wait for a gathering. Server slots and other backends keep their own path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from earwig.errors import Aborted
from earwig.transcribe.batches import Seat, SharedBatches

if TYPE_CHECKING:
    from earwig.daemon.aborts import AbortHandle
    from earwig.daemon.pool import Slot
    from earwig.model import Job

T = TypeVar("T")

SHORT = 60.0  # seconds: transcribe/faster_whisper.py BATCHED_FROM (not imported: it is heavy)
WINDOW = 30.0  # seconds of audio in one engine piece at most
ROOM_POLL = 0.2  # seconds between a waiting job's checks of its abort handle


class Lane:
    def __init__(self, *, gather: float = 0.3, batch_size: int = 8) -> None:
        self.gather = gather
        self.batch_size = batch_size
        self.capacity = 2 * batch_size * WINDOW  # seconds of audio riding at once
        self.max_riders = 4 * batch_size
        self.riders: dict[int, float] = {}  # job id -> its seconds of audio
        self._claims: set[int] = set()  # claimed by a worker, not seated or turned away yet
        self._looking = 0  # workers freed by a rider that have not looked for the next job
        self._boarded: dict[int, asyncio.Event] = {}
        self._seats: dict[int, Seat] = {}
        self._room = asyncio.Event()
        self._shared: dict[int, SharedBatches] = {}  # id(backend) -> its batches
        self._keep: list[Any] = []  # the backends those ids are of, alive
        self._pool: ThreadPoolExecutor | None = None

    # --- the runner's hooks ---

    def looked(self, job: Job | None) -> asyncio.Event | None:
        """A local worker looked for its next job and found `job` (or none). A claimed job
        may board, so a batch may wait a little for it; the event is set once it rides,
        freeing the worker. A worker freed by a rider counts as coming until it has looked,
        so a burst's batches fill as fast as its jobs are claimed."""
        self._looking = max(0, self._looking - 1)
        if job is None or job.id is None:
            return None
        self._claims.add(job.id)
        event = self._boarded[job.id] = asyncio.Event()
        return event

    async def board(
        self, job: Job, transcriber: Any, seconds: float | None, handle: AbortHandle, slot: Slot
    ) -> Any:
        """The transcriber `job` is to use: its own (long, or a backend that cannot share), or
        its chain sharing batches once there is room (waiting for it, or for an abort)."""
        assert job.id is not None
        job_id = job.id
        try:
            if seconds is None or not self.takes(transcriber, seconds):
                return transcriber
            while self.riders and (
                len(self.riders) >= self.max_riders
                or sum(self.riders.values()) + seconds > self.capacity
            ):
                if handle.is_set():
                    raise Aborted("stopped while waiting for room among the short jobs")
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), ROOM_POLL)
            self.riders[job_id] = seconds
            slot.riding.add(job_id)
            seat = self._seats[job_id] = self._batches(transcriber.primary).seat(job.priority)
            if job_id in self._boarded:
                self._looking += 1  # its worker comes back for the next job at once
                self._boarded[job_id].set()
            return transcriber.sharing(seat)
        finally:
            self._claims.discard(job_id)

    def takes(self, transcriber: Any, seconds: float) -> bool:
        """Short, and on a backend that decodes in shared batches (faster-whisper)."""
        primary = getattr(transcriber, "primary", None)
        return (
            seconds < SHORT
            and hasattr(transcriber, "sharing")
            and getattr(primary, "name", None) == "faster-whisper"
            and getattr(primary, "batched", False) is not False
        )

    def rides(self, job_id: int) -> bool:
        return job_id in self.riders

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """`fn` in one of the lane's threads (a rider's transcription)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_riders, thread_name_prefix="earwig-lane")
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def leave(self, job_id: int) -> None:
        """`job_id` ended (done, failed, stopped), riding or not."""
        self._claims.discard(job_id)
        self._boarded.pop(job_id, None)
        seat = self._seats.pop(job_id, None)
        if seat is not None:
            seat.settle()
        if self.riders.pop(job_id, None) is not None:
            self._room.set()

    def close(self) -> None:
        for batches in self._shared.values():
            batches.close()
        self._shared.clear()
        self._keep.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    # --- the batches, one per model ---

    def _batches(self, backend: Any) -> SharedBatches:
        if id(backend) not in self._shared:
            from earwig.transcribe import fw_shared

            batches = SharedBatches(
                fw_shared.engine(backend), batch_size=self.batch_size, gather=self.gather
            )
            batches.coming = lambda: len(self._claims) + self._looking
            self._shared[id(backend)] = batches
            self._keep.append(backend)
        return self._shared[id(backend)]

    def view(self) -> dict[str, Any]:
        """What rides now, and the last batches' sizes (for status and tests)."""
        return {
            "riders": sorted(self.riders),
            "batches": [n for b in self._shared.values() for _, n in b.batches[-20:]],
        }
