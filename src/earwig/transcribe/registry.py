"""Pick and build the backend the config asks for ("auto": the best one that can run here)."""

from __future__ import annotations

from earwig.config import TranscribeConfig
from earwig.errors import ConfigError
from earwig.transcribe.base import TranscribeOptions, Transcriber


def create(config: TranscribeConfig) -> Transcriber:
    """Build (not load) the configured backend. Model files are checked here, loaded later."""
    if config.backend in ("auto", "faster-whisper"):
        from earwig.transcribe.faster_whisper import FasterWhisperBackend

        return FasterWhisperBackend(config.model, config.threads, config.compute_type)
    raise ConfigError(f"unknown backend {config.backend!r}")


def options(config: TranscribeConfig) -> TranscribeOptions:
    return TranscribeOptions(language=config.language, beam_size=config.beam_size)
