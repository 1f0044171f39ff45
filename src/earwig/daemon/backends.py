"""The daemon's transcribers: the configured one, and one other for `earwig retry --model`.

[transcribe] is read once, when the daemon starts: the backend is built from it and lives
until a restart (a reload reports a change there as needing one). Loading, unloading when
idle and the one alternate model a retry asked for are looked after here, so the runner
asks for "the transcriber for this job" and nothing more.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from earwig.config import TranscribeConfig
from earwig.transcribe import registry
from earwig.transcribe.base import TranscribeOptions


class Transcribers(Protocol):
    """What the runner needs of the backends (a test hands it a stand-in)."""

    options: TranscribeOptions

    @property
    def configured_model(self) -> str: ...

    @property
    def loaded(self) -> bool: ...

    def transcriber_for(self, model: str | None, worker: int = 0) -> Any: ...

    def unload(self) -> None: ...


class Backends:
    def __init__(self, config: TranscribeConfig) -> None:
        self.config = config
        self.main = registry.create(config)  # checks that the model can be had
        self.options: TranscribeOptions = registry.options(config)
        self._alternates: dict[str, registry.FallbackTranscriber] = {}
        # `workers` > 1: each local worker has its own transcriber (a model is not safe to
        # share between threads in every backend), built on first use, with every thread:
        # a lone long job gets the whole machine, jobs at once share it through the OS
        # (measured faster on 2 cores than halving the threads: bench/pool.py --local)
        self._extra: dict[int, registry.FallbackTranscriber] = {}

    @property
    def configured_model(self) -> str:
        return self.config.model

    def transcriber_for(self, model: str | None, worker: int = 0) -> registry.FallbackTranscriber:
        """The configured backend (local worker `worker`'s own), or one for another model a
        retry asked for (built once, kept while it is used, unloaded with the rest)."""
        if model is None or model == self.config.model:
            if worker == 0:
                return self.main
            if worker not in self._extra:
                self._extra[worker] = registry.create(self.config)
            return self._extra[worker]
        if model not in self._alternates:
            cfg = dataclasses.replace(self.config, model=model)
            self._alternates.clear()  # one other model at a time
            self._alternates[model] = registry.create(cfg)
        return self._alternates[model]

    @property
    def loaded(self) -> bool:
        others = (*self._alternates.values(), *self._extra.values())
        return self.main.loaded or any(t.loaded for t in others)

    def unload(self) -> None:
        """Free every model's memory (idle): the configured one loads again on the next job."""
        self.main.unload()
        for other in (*self._alternates.values(), *self._extra.values()):
            other.unload()
        self._alternates.clear()
