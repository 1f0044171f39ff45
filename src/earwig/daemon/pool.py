"""The pool: where transcriptions run. Local slots on this machine, and OpenAI-compatible
speech servers (speaches, vLLM, whisper.cpp's server) that take jobs from the same queue.

earwig does not make a cluster of its own: each server is an engine that scales as it does;
earwig is the scheduler that keeps its promises across them. A job is claimed by one slot
(its state moves in the same step), so it never runs on two; a server that refuses, times out
or answers 5xx is marked down, its job goes back to the queue (the attempt counted) for
another slot, and it is probed with backoff until it answers again.
"""

from __future__ import annotations

import statistics
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from earwig.config import ServerConfig, TranscribeConfig

if TYPE_CHECKING:
    from earwig.protocol import SlotView

PROBE_FIRST, PROBE_MAX = 1.0, 60.0  # seconds between probes of a down server: doubling


@dataclass
class Slot:
    """One place jobs run: this machine (`capacity` = [transcribe] workers), or one server
    (`capacity` = its concurrency)."""

    name: str
    kind: str  # "local" or "server"
    capacity: int
    priority: int = 0
    url: str | None = None
    model: str | None = None
    backend: Any = None  # a server slot's transcriber (the OpenAI backend)
    busy: set[int] = field(default_factory=set)  # the jobs running here
    riding: set[int] = field(default_factory=set)  # of those, short ones sharing batches
    # engines still finishing the piece in hand of a job that has stopped already (paused,
    # cancelled: daemon/aborts.py): no job of theirs, but no room for a new one either
    finishing: int = 0
    up: bool = True
    drained: bool = False
    errors: int = 0
    last_error: str | None = None
    audio: float = 0.0  # seconds of audio transcribed here
    wall: float = 0.0  # seconds spent transcribing them
    done: int = 0
    probe_in: float = PROBE_FIRST
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def free(self) -> bool:
        # a job in the short lane (daemon/lane.py) does not hold a worker
        working = len(self.busy - self.riding) + self.finishing
        return self.up and not self.drained and working < self.capacity

    @property
    def throughput(self) -> float | None:
        """Seconds of audio per second of work, once it has done some."""
        return round(self.audio / self.wall, 2) if self.wall > 0 else None

    def rank(self) -> tuple[int, float]:
        """Better first: the configured priority, then the measured speed."""
        return (-self.priority, -(self.throughput or 0.0))

    def finished(self, audio: float, wall: float) -> None:
        self.audio += audio
        self.wall += wall
        self.done += 1

    def went_down(self, reason: str) -> None:
        self.up = False
        self.errors += 1
        self.last_error = reason
        self.probe_in = PROBE_FIRST

    def view(self) -> SlotView:
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "model": self.model,
            "capacity": self.capacity,
            "busy": sorted(self.busy),
            "up": self.up,
            "drained": self.drained,
            "done": self.done,
            "throughput": self.throughput,
            "errors": self.errors,
            "last_error": self.last_error,
            "gap_ms": round(1000 * statistics.median(self.gaps), 1) if self.gaps else None,
        }


def build(config: TranscribeConfig) -> list[Slot]:
    """The slots a [transcribe] section asks for: `workers` local ones, then each server."""
    slots = []
    if config.workers:
        slots.append(Slot("local", "local", config.workers, model=config.model))
    for server in config.servers:
        slots.append(server_slot(server))
    return slots


def server_slot(server: ServerConfig) -> Slot:
    from earwig.transcribe.openai_api import OpenAIBackend

    backend = OpenAIBackend(
        model=server.model,
        base_url=server.url,
        key_env=server.api_key_env or "EARWIG_NO_KEY",
        timeout=server.timeout,
        max_retries=0,  # another slot takes the job at once: no retries against a dead server
    )
    return Slot(
        server.label,
        "server",
        server.concurrency,
        priority=server.priority,
        url=server.url,
        model=server.model,
        backend=backend,
    )


def answers(url: str, timeout: float = 5.0) -> bool:
    """Whether a server at `url` (an API base such as http://host:8000/v1) answers HTTP at
    all, below 500: listening and not failing. Runs in a thread."""
    for probe in (url.rstrip("/") + "/models", url.split("/v1")[0].rstrip("/") + "/health"):
        try:
            with urllib.request.urlopen(probe, timeout=timeout) as reply:
                return bool(reply.status < 500)
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return True  # it answers (a 401 or 404 is an answer)
        except (OSError, ValueError):
            continue
    return False
