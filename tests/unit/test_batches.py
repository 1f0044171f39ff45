"""The shared batches (transcribe/batches.py) with a stand-in engine: in process, in seconds.

The stand-in decodes a piece into the number its samples hold, so every answer says which
piece it came from; it checks that every piece of a call is of the call's kind. The real
engine through a real daemon is in tests/integration/test_batching.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from earwig.errors import Aborted, BackendError
from earwig.transcribe.batches import Kind, SharedBatches
from helpers import wait_for

DEADLINE = 60.0
EN = Kind("en")
PROMPTED = Kind("en", prompt="Harwick")


def piece(number: int, seconds: float = 1.0) -> np.ndarray:
    return np.full(int(seconds * 16000), float(number), dtype=np.float32)


class StandIn:
    """An engine that answers each piece with its number; `hold` keeps a call waiting."""

    def __init__(self, poison: int | None = None) -> None:
        self.calls: list[tuple[Kind, list[int]]] = []
        self.kinds: dict[int, Kind] = {}  # the kind each number was submitted as
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.poison = poison

    def __call__(self, kind: Kind, pieces: Sequence[np.ndarray]) -> list[list[Any]]:
        numbers = [int(p[0]) for p in pieces]
        self.calls.append((kind, numbers))
        self.entered.set()
        assert self.hold.wait(DEADLINE)
        assert all(self.kinds.get(n, kind) == kind for n in numbers), "kinds mixed in a call"
        if self.poison in numbers:
            raise RuntimeError("the engine choked")
        return [[f"piece {n}"] for n in numbers]


def collect(
    batches: SharedBatches,
    engine: StandIn,
    numbers: list[int],
    kind: Kind = EN,
    priority: int = 0,
    should_abort: Callable[[], bool] = lambda: False,
) -> list[Any]:
    for n in numbers:
        engine.kinds[n] = kind
    seat = batches.seat(priority)
    ticket = seat.submit([piece(n) for n in numbers], kind)
    return [r for found in seat.results(ticket, should_abort) for r in found]


def in_threads(*jobs: Callable[[], Any]) -> list[Any]:
    """Run each job in its own thread; their results (or exceptions), in order."""
    out: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            out[i] = job()
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
        assert not t.is_alive(), "a caller never got its answer"
    return out


def test_twenty_callers_each_get_their_own_pieces_back_in_their_order() -> None:
    engine = StandIn()
    batches = SharedBatches(engine, batch_size=8, gather=DEADLINE)
    mine = [[100 * c + k for k in range(1 + c % 3)] for c in range(20)]
    seats = [batches.seat() for _ in mine]  # all announced: batches fill before they go
    tickets = [s.submit([piece(n) for n in ns], EN) for s, ns in zip(seats, mine, strict=True)]
    answers = in_threads(
        *[
            (lambda s=s, t=t: [r for f in s.results(t, lambda: False) for r in f])
            for s, t in zip(seats, tickets, strict=True)
        ]
    )
    assert answers == [[f"piece {n}" for n in ns] for ns in mine]
    sizes = [len(numbers) for _, numbers in engine.calls]
    assert sum(sizes) == sum(len(ns) for ns in mine) and max(sizes) == 8
    assert len(engine.calls) == -(-sum(sizes) // 8)  # full batches, not one piece at a time
    batches.close(wait=True)


def test_two_kinds_arriving_together_never_share_a_call() -> None:
    engine = StandIn()
    batches = SharedBatches(engine, batch_size=8, gather=0.05)
    jobs = [
        (lambda n=n: collect(batches, engine, [n], PROMPTED if n % 2 else EN)) for n in range(12)
    ]
    assert in_threads(*jobs) == [[f"piece {n}"] for n in range(12)]
    for kind, numbers in engine.calls:
        assert {engine.kinds[n] for n in numbers} == {kind}
    assert {k for k, _ in engine.calls} == {EN, PROMPTED}
    batches.close(wait=True)


def test_a_withdrawn_caller_leaves_the_next_batch_and_the_others_go_on() -> None:
    engine = StandIn()
    engine.hold.clear()  # the first batch stays in the engine until released
    batches = SharedBatches(engine, batch_size=2, gather=0.0)
    cancel = threading.Event()
    first = threading.Thread(target=collect, args=(batches, engine, [1]))
    first.start()
    assert engine.entered.wait(DEADLINE)
    answers: list[Any] = []

    def cancelled() -> None:
        try:
            collect(batches, engine, [2, 3], should_abort=cancel.is_set)
        except Aborted as exc:
            answers.append(exc)

    leaving = threading.Thread(target=cancelled)
    leaving.start()
    staying = threading.Thread(target=lambda: answers.append(collect(batches, engine, [4])))
    staying.start()
    wait_for(lambda: batches.waiting == 3, DEADLINE, what="both callers' pieces waiting")
    cancel.set()
    leaving.join(DEADLINE)
    assert isinstance(answers[0], Aborted)
    engine.hold.set()
    staying.join(DEADLINE)
    first.join(DEADLINE)
    assert answers[1] == ["piece 4"]
    assert [numbers for _, numbers in engine.calls] == [[1], [4]]  # 2 and 3 never decoded
    batches.close(wait=True)


def test_an_engine_error_fails_only_the_caller_whose_piece_caused_it() -> None:
    engine = StandIn(poison=13)
    batches = SharedBatches(engine, batch_size=8, gather=DEADLINE)
    seats = [batches.seat() for _ in range(4)]
    numbers = [[10, 11], [12, 13], [14], [15]]
    tickets = [s.submit([piece(n) for n in ns], EN) for s, ns in zip(seats, numbers, strict=True)]
    answers = in_threads(
        *[
            (lambda s=s, t=t: [r for f in s.results(t, lambda: False) for r in f])
            for s, t in zip(seats, tickets, strict=True)
        ]
    )
    assert answers[0] == ["piece 10", "piece 11"]
    assert isinstance(answers[1], BackendError) and "choked" in answers[1].message
    assert answers[2:] == [["piece 14"], ["piece 15"]]
    batches.close(wait=True)


def test_a_lone_caller_is_not_held_back_by_the_gathering_window() -> None:
    """With nobody else announced, the batch goes at once: an hour's window never starts."""
    engine = StandIn()
    batches = SharedBatches(engine, batch_size=8, gather=3600.0)
    assert in_threads(lambda: collect(batches, engine, [7])) == [["piece 7"]]
    batches.close(wait=True)


def test_a_batch_waits_for_an_announced_caller_then_takes_both() -> None:
    engine = StandIn()
    batches = SharedBatches(engine, batch_size=8, gather=3600.0)
    late = batches.seat()  # on its way: decoding its audio, say
    early = threading.Thread(target=collect, args=(batches, engine, [1]))
    early.start()
    wait_for(lambda: batches.gathering, DEADLINE, what="the gatherer to wait for the late one")
    assert engine.calls == []
    ticket = late.submit([piece(2)], EN)
    assert [r for f in late.results(ticket, lambda: False) for r in f] == ["piece 2"]
    early.join(DEADLINE)
    assert [numbers for _, numbers in engine.calls] == [[1, 2]]
    batches.close(wait=True)


def test_a_caller_that_settles_without_pieces_does_not_keep_a_batch_waiting() -> None:
    engine = StandIn()
    batches = SharedBatches(engine, batch_size=8, gather=3600.0)
    silent = batches.seat()  # its audio turns out to hold no speech
    early = threading.Thread(target=collect, args=(batches, engine, [1]))
    early.start()
    wait_for(lambda: batches.gathering, DEADLINE, what="the gatherer to wait")
    silent.settle()
    early.join(DEADLINE)
    assert not early.is_alive() and [n for _, n in engine.calls] == [[1]]
    batches.close(wait=True)


def test_the_best_waiting_piece_goes_first_and_a_batch_is_capped_in_seconds() -> None:
    engine = StandIn()
    engine.hold.clear()
    batches = SharedBatches(engine, batch_size=8, max_seconds=25.0, gather=0.0)
    first = threading.Thread(target=collect, args=(batches, engine, [1]))
    first.start()
    assert engine.entered.wait(DEADLINE)
    ten = 10.0

    def submit(n: int, priority: int) -> Callable[[], Any]:
        def go() -> list[Any]:
            engine.kinds[n] = EN
            seat = batches.seat(priority)
            ticket = seat.submit([piece(n, ten)], EN)
            return [r for f in seat.results(ticket, lambda: False) for r in f]

        return go

    out: list[Any] = []
    threads = [
        threading.Thread(target=lambda g=g: out.append(g()))
        for g in (submit(2, 0), submit(3, 0), submit(4, 0), submit(5, 9))
    ]
    for t in threads:
        t.start()
        wait_for(lambda: batches.waiting >= threads.index(t) + 1, DEADLINE)  # noqa: B023
    engine.hold.set()
    for t in [first, *threads]:
        t.join(DEADLINE)
    calls = [numbers for _, numbers in engine.calls]
    assert calls[0] == [1]
    assert calls[1] == [5, 2]  # the urgent one first, then the oldest; 25 s fit two of ten
    assert calls[2:] == [[3, 4]]
    batches.close(wait=True)


def test_a_closed_batcher_refuses_and_fails_its_waiting_callers() -> None:
    engine = StandIn()
    engine.hold.clear()
    batches = SharedBatches(engine, batch_size=1, gather=0.0)
    first = threading.Thread(target=collect, args=(batches, engine, [1]))
    first.start()
    assert engine.entered.wait(DEADLINE)
    [waiting] = in_threads_started(lambda: collect(batches, engine, [2]))
    wait_for(lambda: batches.waiting == 1, DEADLINE)
    batches.close()
    engine.hold.set()
    waiting.join(DEADLINE)
    first.join(DEADLINE)
    with pytest.raises(BackendError):
        batches.seat().submit([piece(3)], EN)


def in_threads_started(*jobs: Callable[[], Any]) -> list[threading.Thread]:
    threads = [threading.Thread(target=lambda j=j: _swallow(j)) for j in jobs]
    for t in threads:
        t.start()
    return threads


def _swallow(job: Callable[[], Any]) -> None:
    with contextlib.suppress(BackendError):  # the closed batcher's answer
        job()


class PipelineStandIn:
    """What `fw_shared` asks of faster-whisper's pipeline (`forward`), recording how wide
    each batch was read; a piece whose features hold 13 comes out as a loop unless the
    encoder read the full 30 s."""

    def __init__(self) -> None:
        self.widths: list[tuple[int, int]] = []  # (width, pieces)
        self.last_speech_timestamp = 0.0

    def forward(self, batch: Any, tokenizer: Any, meta: Any, options: Any) -> list[list[Any]]:
        width = batch.shape[-1]
        self.widths.append((width, len(batch)))
        out = []
        for features, m in zip(batch, meta, strict=True):
            n = int(features[0, 0])
            loop = n == 13 and width < 3000
            out.append(
                [
                    {
                        "text": "again " * 40 if loop else f"piece {n}",
                        "start": m["offset"],
                        "end": m["offset"] + m["duration"],
                        "avg_logprob": -0.2,
                        "compression_ratio": 9.0 if loop else 1.1,
                        "words": [],
                    }
                ]
            )
        return out


def features(number: int, seconds: float) -> np.ndarray:
    return np.full((80, int(seconds * 100)), float(number), dtype=np.float32)


def test_a_batch_is_read_as_wide_as_its_longest_piece_needs_and_never_wider_than_30_s() -> None:
    from earwig.transcribe import fw_shared

    assert fw_shared.fitted([features(1, 4.0), features(2, 12.0)]) == 1500  # 12 s and 3
    assert fw_shared.fitted([features(1, 2.0)]) == 1000  # never under 10 s
    assert fw_shared.fitted([features(1, 29.5)]) == 3000


def test_a_piece_that_loops_when_read_short_is_read_again_at_30_s() -> None:
    from earwig.transcribe import fw_shared

    pipeline = PipelineStandIn()
    found = fw_shared.decode_fitted(
        pipeline, None, None, [features(12, 6.0), features(13, 8.0), features(14, 5.0)]
    )
    assert [[s["text"] for s in out] for out in found] == [["piece 12"], ["piece 13"], ["piece 14"]]
    assert pipeline.widths == [(1100, 3), (3000, 1)]  # only the looping one, again
    assert [out[0]["start"] for out in found] == [0.0, 0.0, 0.0]  # each on its own clock
