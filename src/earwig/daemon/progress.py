"""A running job's progress as people watch it: named stages, a bar that moves, a time left
that counts down.

The engines report in lumps: faster-whisper's batched path hands back eight 30 s pieces at a
time (4 minutes of audio, 10% of a long file, after tens of seconds of silence), and decoding,
VAD and the speaker stage report nothing at all. So the runner keeps one ProgressClock per job,
feeds it what the engine says (`report`) and the stage it is in (`stage`), and publishes
`tick()` every TICK seconds. Between two real reports the fraction is carried forward at the
rate measured so far on this job (before the first report, the rate of earlier jobs), easing
off as it nears the biggest lump the engine has made yet, so it keeps moving but never runs
past where the next real report may land, and never goes backwards; the time left is what
remains at that rate. Pure: the clock is injected, so a test drives it without waiting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from earwig.model import Job
from earwig.protocol import Progress

TICK = 1.0  # seconds between two progress events of a running job
FIRST_STEP = 0.25  # how far an estimate may run ahead of the engine before its second report
FIRST_RATE = 1.0  # audio seconds per second assumed by a machine that has finished no job yet


def rate_from_history(jobs: Iterable[Job], backend: str) -> float | None:
    """Seconds of audio per second of work over earlier finished jobs of this backend (from
    the moment each started transcribing to done), or None without any."""
    audio = wall = 0.0
    for job in jobs:
        began, ended = job.times.get("transcribing"), job.times.get("done")
        if job.backend == backend and job.duration and began and ended and ended > began:
            audio += job.duration
            wall += ended - began
    return audio / wall if wall > 0 else None


class ProgressClock:
    def __init__(
        self,
        job_id: int,
        duration: float | None,
        *,
        rate: float | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self.duration = duration or None  # seconds of audio; unknown for some streams
        self.now = now
        self.started = now()
        self.stage_name = "decoding"  # the first window is being read before anything else
        self.known_rate = rate  # audio seconds per second, from this slot's earlier jobs
        self.real = 0.0  # the engine's own last word
        self.real_at = self.started
        self.step = FIRST_STEP  # the biggest jump the engine has made so far
        self.shown = 0.0  # what was last published: the bar never goes back

    def stage(self, name: str) -> None:
        self.stage_name = name
        if name in ("speakers", "writing"):  # the audio is all transcribed
            self.real = max(self.real, 1.0)
            self.real_at = self.now()

    def report(self, fraction: float) -> None:
        """What the engine says: a fraction of the audio transcribed."""
        if self.stage_name == "decoding":
            self.stage_name = "transcribing"
        if fraction > self.real:
            self.step = max(self.step, fraction - self.real)
            self.real = fraction
            self.real_at = self.now()

    def rate(self) -> float | None:
        """Seconds of audio per second of work on this job so far (decoding included)."""
        elapsed = self.real_at - self.started
        if self.duration and self.real > 0 and elapsed > 0.5:
            return self.real * self.duration / elapsed
        return self.known_rate

    def tick(self) -> Progress:
        """The progress event to publish now."""
        now = self.now()
        rate = self.rate()
        fraction = min(self.real, 1.0)
        room = min(0.99 - self.real, self.step)  # the estimate stays short of the next lump
        if self.stage_name in ("decoding", "transcribing") and rate and self.duration and room > 0:
            # at the measured rate at first, then slower and slower as it nears the end of
            # the room: it keeps moving, and never passes where the engine may next report
            ahead = rate * (now - self.real_at) / self.duration
            fraction = self.real + room * (1 - math.exp(-ahead / room))
        self.shown = max(self.shown, fraction)
        transcribing = self.stage_name in ("decoding", "transcribing")
        eta = None
        if transcribing and rate and self.duration:
            eta = round(max(0.0, (1.0 - self.shown) * self.duration / rate), 1)
        return {
            "id": self.job_id,
            "phase": self.stage_name,
            "fraction": round(self.shown, 4) if self.duration or self.real else None,
            "speed": round(rate, 2) if rate else None,
            "eta": eta,
            "elapsed": round(now - self.started, 1),
        }
