"""Pieces of speech from many jobs, decoded together in shared engine batches.

A short recording fills one or two of Whisper's 30 s windows: alone, it gets a batch of one,
and on a CPU the engine decodes a batch of eight windows in far less than eight times the
time of one (the decoder's work becomes matrix-matrix). So the short jobs that run at the same
time hand their pieces to one `SharedBatches`, whose own thread gathers them and calls the
engine on up to `batch_size` pieces at once; each job waits for its own pieces and gets back
exactly what the engine made of them, in its own order, so no text or time can cross between
jobs (each piece is decoded on its own, as in faster-whisper's batched pipeline; a batch
only shares the work).

Only pieces of one `Kind` share a call: the options that change decoding (language, task,
prompt, word timings, beam size) are one per engine call. The best waiting piece (highest
priority, then oldest) goes first and picks the kind; the batch is filled with that kind,
the most urgent first and then the nearest in length (a batch costs what its longest piece
costs), up to `batch_size` pieces and `max_seconds` of audio (memory stays bounded). The
oldest piece always goes in the next batch, so none waits for ever.

Gathering: a batch goes as soon as it is full, or once the oldest waiting piece has waited
`gather` seconds, or at once when no more pieces are on their way (`expect`): a lone job on
an idle daemon is never held back, and a burst of jobs arriving together fills its batches.

A caller that stops (cancel, pause, shutdown) withdraws its pieces: those not yet in a batch
leave the queue; one already being decoded finishes and is dropped. An engine error in a
shared batch is not blamed on everyone: the batch is decoded again piece by piece, so only the
piece that fails fails, and only its job sees the error.

Nothing here knows faster-whisper: the engine is a function (transcribe/fw_shared.py makes
one), so the gathering can be tested with a stand-in.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, BackendError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("earwig.batches")

RATE = 16000
POLL = 0.1  # seconds between a waiting caller's checks of its abort flag


@dataclass(frozen=True)
class Kind:
    """The options one engine call takes for all its pieces."""

    language: str
    task: str = "transcribe"
    prompt: str | None = None
    word_timestamps: bool = False
    beam_size: int = 5

    def describe(self) -> str:
        prompt = ", a prompt" if self.prompt else ""
        words = ", word times" if self.word_timestamps else ""
        return f"{self.language}, {self.task}{prompt}{words}, beam {self.beam_size}"


# One engine call: pieces of one kind (float32 16 kHz samples, each at most 30 s) in, each
# piece's segments out (on the piece's own clock), in the same order.
Engine = Callable[[Kind, Sequence["np.ndarray"]], list[list[Any]]]


class Ticket:
    """One caller's pieces: their results as they come, or the error that stopped them."""

    def __init__(self, count: int) -> None:
        self.results: list[list[Any] | None] = [None] * count
        self.error: BaseException | None = None
        self.withdrawn = False

    @property
    def count(self) -> int:
        return len(self.results)


class Seat:
    """One job at the shared batches: what it submits goes with its priority. It was
    announced when it sat down, until its first pieces arrive or it settles without any
    (nothing to decode, a failure, the job's end): a batch waits only for announced seats."""

    def __init__(self, batches: SharedBatches, priority: int) -> None:
        self.batches = batches
        self.priority = priority
        self.expected = True

    def submit(self, pieces: Sequence[np.ndarray], kind: Kind) -> Ticket:
        ticket = self.batches.submit(pieces, kind, self.priority)
        self.settle()
        return ticket

    def results(self, ticket: Ticket, should_abort: Callable[[], bool]) -> Iterator[list[Any]]:
        return self.batches.results(ticket, should_abort)

    def settle(self) -> None:
        self.batches._settle(self)


@dataclass(order=True)
class _Piece:
    rank: tuple[int, int]  # (-priority, arrival): smaller goes first
    kind: Kind = field(compare=False)
    samples: Any = field(compare=False, repr=False)
    ticket: Ticket = field(compare=False, repr=False)
    index: int = field(compare=False)
    arrived: float = field(compare=False)

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


class SharedBatches:
    """The gatherer and its engine thread (started on the first piece)."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 8,
        max_seconds: float | None = None,
        gather: float = 0.3,
        name: str = "earwig-batches",
    ) -> None:
        self.engine = engine
        self.batch_size = max(1, batch_size)
        self.max_seconds = max_seconds if max_seconds is not None else 30.0 * self.batch_size
        self.gather = gather
        self.name = name
        self._cond = threading.Condition()
        self._waiting: list[_Piece] = []
        self._arrivals = itertools.count()
        self._expected = 0  # seats announced whose pieces have not arrived yet
        self.coming: Callable[[], int] = lambda: 0  # more on their way (jobs not seated yet)
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches: list[tuple[Kind, int]] = []  # (kind, size) of every batch run, recent
        self.busy = False  # a batch is in the engine
        self.gathering = False  # waiting for announced callers' pieces

    # --- the callers' side (a job's thread) ---

    def seat(self, priority: int = 0) -> Seat:
        """A place for one job: announced now, so that a batch may wait (up to `gather`)
        for its first pieces."""
        with self._cond:
            self._expected += 1
            self._cond.notify_all()
        return Seat(self, priority)

    def _settle(self, seat: Seat) -> None:
        with self._cond:
            if seat.expected:
                seat.expected = False
                self._expected -= 1
                self._cond.notify_all()

    def submit(self, pieces: Sequence[np.ndarray], kind: Kind, priority: int = 0) -> Ticket:
        """Queue `pieces` (one caller's, in its order) for decoding as `kind`."""
        ticket = Ticket(len(pieces))
        now = time.monotonic()
        with self._cond:
            if self._closed:
                raise BackendError("the shared engine has stopped", "try the job again")
            for i, samples in enumerate(pieces):
                self._waiting.append(
                    _Piece((-priority, next(self._arrivals)), kind, samples, ticket, i, now)
                )
            self._start()
            self._cond.notify_all()
        return ticket

    def results(self, ticket: Ticket, should_abort: Callable[[], bool]) -> Iterator[list[Any]]:
        """Each piece's segments, in the caller's order, as soon as each is decoded. Stops
        with Aborted (the pieces withdrawn) once `should_abort` says so; raises the error
        that failed one of its pieces."""
        try:
            for i in range(ticket.count):
                with self._cond:
                    while ticket.results[i] is None and ticket.error is None:
                        if should_abort():
                            raise Aborted("stopped while waiting for a shared batch")
                        self._cond.wait(POLL)
                    if ticket.error is not None:
                        raise ticket.error
                    found = ticket.results[i]
                assert found is not None
                yield found
        finally:
            self.withdraw(ticket)

    def withdraw(self, ticket: Ticket) -> None:
        """The caller is gone: its pieces leave the queue (one in the engine is dropped)."""
        with self._cond:
            ticket.withdrawn = True
            self._waiting = [p for p in self._waiting if p.ticket is not ticket]
            self._cond.notify_all()

    def close(self, wait: bool = False) -> None:
        """Stop the engine thread once its batch is done (`wait`: until then); waiting
        callers get an error."""
        with self._cond:
            self._closed = True
            for piece in self._waiting:
                piece.ticket.error = BackendError("the shared engine has stopped", "try again")
            self._waiting.clear()
            self._cond.notify_all()
        if wait and self._thread is not None:
            self._thread.join(timeout=60)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    # --- the engine's side (its own thread) ---

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = self._gather()
                if batch is None:
                    return
                self.busy = True
            try:
                self._decode(batch)
            finally:
                with self._cond:
                    self.busy = False
                    self._cond.notify_all()

    def _pick(self) -> list[_Piece]:
        """The next batch from the waiting pieces: the best one (it always goes, whatever
        its length), then others of its kind, the most urgent first and, among equals, the
        nearest to it in length (the engine reads a batch as long as its longest piece:
        transcribe/fw_shared.py), up to the size and seconds caps."""
        ordered = sorted(self._waiting)
        first = ordered[0]
        others = sorted(
            (p for p in ordered[1:] if p.kind == first.kind),
            key=lambda p: (p.rank[0], abs(p.seconds - first.seconds), p.rank[1]),
        )
        batch, seconds = [first], first.seconds
        for piece in others:
            if len(batch) >= self.batch_size:
                break
            if seconds + piece.seconds <= self.max_seconds:
                batch.append(piece)
                seconds += piece.seconds
        return batch

    def _full(self, batch: list[_Piece]) -> bool:
        seconds = sum(p.seconds for p in batch)
        return len(batch) >= self.batch_size or seconds + 1.0 > self.max_seconds

    def _gather(self) -> list[_Piece] | None:
        """Wait for pieces, then for the batch to fill while more are on their way, at most
        `gather` seconds after the oldest waiting piece arrived. Called holding the lock."""
        while True:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            deadline = min(p.arrived for p in self._waiting) + self.gather
            batch = self._pick()
            while not self._full(batch) and (self._expected > 0 or self.coming() > 0):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.gathering = True
                self._cond.wait(left)
                self.gathering = False
                if not self._waiting or self._closed:
                    break
                batch = self._pick()
            if self._closed:
                return None
            if not self._waiting:
                continue  # all withdrawn while waiting
            batch = self._pick()
            taken = {id(p) for p in batch}
            self._waiting = [p for p in self._waiting if id(p) not in taken]
            return batch

    def _decode(self, batch: list[_Piece]) -> None:
        kind = batch[0].kind
        self.batches.append((kind, len(batch)))
        del self.batches[:-200]
        started = time.monotonic()
        try:
            found = self.engine(kind, [p.samples for p in batch])
            if len(found) != len(batch):
                raise RuntimeError(f"the engine gave {len(found)} results for {len(batch)}")
            log.debug(
                "shared batch of %d pieces from %d jobs (%s), %.1f s of audio in %.2f s",
                len(batch),
                len({id(p.ticket) for p in batch}),
                kind.describe(),
                sum(p.seconds for p in batch),
                time.monotonic() - started,
            )
        except Exception as exc:
            if len(batch) > 1:  # whose piece was it? each alone, so only that job fails
                log.warning("a shared batch failed (%s); decoding its pieces one by one", exc)
                for piece in batch:
                    if not piece.ticket.withdrawn:
                        self._decode([piece])
                return
            with self._cond:
                batch[0].ticket.error = (
                    exc
                    if isinstance(exc, BackendError)
                    else BackendError(f"faster-whisper failed: {exc}")
                )
                self._cond.notify_all()
            return
        with self._cond:
            for piece, segments in zip(batch, found, strict=True):
                if not piece.ticket.withdrawn:
                    piece.ticket.results[piece.index] = list(segments)
            self._cond.notify_all()
