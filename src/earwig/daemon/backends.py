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
        # `workers` > 1: each local worker has its own transcriber (a model is not safe to
        # share between threads in every backend, and the runner sets a job's on_fallback on
        # the transcriber it uses), built on first use, with every thread: a lone long job
        # gets the whole machine, jobs at once share it through the OS (measured faster on 2
        # cores than halving the threads: bench/pool.py --local). The same holds for the
        # other model a retry asked for: one per worker, keyed (model, worker).
        self._extra: dict[int, registry.FallbackTranscriber] = {}
        self._alternates: dict[tuple[str, int], registry.FallbackTranscriber] = {}

    @property
    def configured_model(self) -> str:
        return self.config.model

    def transcriber_for(self, model: str | None, worker: int = 0) -> registry.FallbackTranscriber:
        """Local worker `worker`'s own transcriber: of the configured model, or of another
        model a retry asked for (built once per worker, kept while it is used, unloaded with
        the rest). No two workers are ever handed the same object."""
        if model is None or model == self.config.model:
            if worker == 0:
                return self.main
            if worker not in self._extra:
                self._extra[worker] = registry.create(self.config)
            return self._extra[worker]
        key = (model, worker)
        if key not in self._alternates:
            # one other model at a time: another worker still busy with an older one keeps
            # its object until its job ends; only this table forgets it
            for old in [k for k in self._alternates if k[0] != model]:
                del self._alternates[old]
            self._alternates[key] = registry.create(dataclasses.replace(self.config, model=model))
        return self._alternates[key]

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
