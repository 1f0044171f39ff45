"""The progress a running job shows between the engine's lumps (daemon/progress.py)."""

from __future__ import annotations

import itertools
from typing import cast

from earwig import protocol
from earwig.daemon.progress import ProgressClock
from earwig.formatting import progress_bar


def running(progress: protocol.Progress) -> protocol.JobView:
    """Just enough of a job for the progress bar: its state and progress."""
    return cast(protocol.JobView, {"state": "transcribing", "progress": progress})


def n(value: float | None) -> float:
    """A number the tick must have given."""
    assert value is not None
    return value


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_bar_moves_and_the_time_left_counts_down_between_two_reports() -> None:
    now = Clock()
    clock = ProgressClock(7, 600.0, now=now)
    first = clock.tick()
    assert (
        first["phase"] == "decoding"
        and n(first.get("fraction")) == 0.0
        and first.get("eta") is None
    )
    now.t += 10
    clock.report(0.1)  # 60 s of audio in 10 s: 6x
    seen = [clock.tick()]
    for _ in range(4):
        now.t += 1
        seen.append(clock.tick())
    fractions = [n(s.get("fraction")) for s in seen]
    etas = [n(s.get("eta")) for s in seen]
    assert all(b > a for a, b in itertools.pairwise(fractions)), fractions
    assert all(b < a for a, b in itertools.pairwise(etas)), etas
    assert seen[0]["phase"] == "transcribing" and seen[0]["speed"] == 6.0
    assert abs(etas[0] - 90.0) < 0.5  # 540 s of audio left at 6x


def test_an_estimate_never_runs_past_the_next_lump_nor_goes_back() -> None:
    now = Clock()
    clock = ProgressClock(1, 600.0, now=now)
    now.t += 10
    clock.report(0.1)
    ticks = []
    for _ in range(20):  # the engine went quiet: the estimate eases off one lump ahead
        now.t += 5
        ticks.append(n(clock.tick().get("fraction")))
    assert all(b > a for a, b in itertools.pairwise(ticks)), ticks
    assert 0.3 < ticks[-1] < 0.35  # still moving, never past where the next lump lands
    stuck = ticks[-1]
    clock.report(0.15)  # the engine was slower than guessed: the bar never goes back
    assert n(clock.tick().get("fraction")) >= stuck


def test_before_the_first_report_the_slots_earlier_rate_moves_the_bar() -> None:
    now = Clock()
    clock = ProgressClock(1, 600.0, rate=20.0, now=now)
    now.t += 2
    tick = clock.tick()
    assert tick["phase"] == "decoding" and n(tick.get("fraction")) > 0 and n(tick.get("eta")) < 30
    unknown = ProgressClock(2, 600.0, now=now)
    now.t += 2
    assert n(unknown.tick().get("fraction")) == 0.0  # no rate to go by: it says the stage only


def test_the_later_stages_are_named_with_a_full_bar() -> None:
    now = Clock()
    clock = ProgressClock(1, 60.0, now=now)
    clock.report(0.5)
    clock.stage("speakers")
    tick = clock.tick()
    assert (
        tick["phase"] == "speakers" and n(tick.get("fraction")) == 1.0 and tick.get("eta") is None
    )
    assert progress_bar(running(tick), 6) == "██████ 100% speakers"
    clock.stage("writing")
    assert progress_bar(running(clock.tick()), 6).endswith("writing")
    decoding = running(ProgressClock(2, 60.0, now=now).tick())
    assert progress_bar(decoding, 6) == "░░░░░░   0% decoding"
