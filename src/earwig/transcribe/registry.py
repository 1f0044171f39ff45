"""Which backends can run here, which one "auto" picks, and falling back when one fails.

Surveying imports nothing heavy: a backend counts as installed when its package can be found
(`importlib.util.find_spec`), and as usable when its model can be found on disk.

The order is the fastest first, as measured (bench/backends.py, 2 x86_64 cores, bundled tiny.en):
faster-whisper's int8 CTranslate2 ran at a real-time factor of 0.053 (beam 5) and 0.035 (greedy)
against whisper.cpp's 0.096 and 0.046 on the float16 ggml conversion, so on Linux and Intel Macs
faster-whisper comes first and whisper.cpp is its fallback. On Apple Silicon, where
CTranslate2 has no GPU path, mlx-whisper and then whisper.cpp come first (not measured here).
An OpenAI(-compatible) endpoint comes last, and only when one is configured.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import platform
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from earwig.config import TranscribeConfig
from earwig.errors import Aborted, BackendError, ConfigError, EarwigError
from earwig.model import Transcript
from earwig.transcribe import catalog
from earwig.transcribe.audio import WINDOW_SECONDS
from earwig.transcribe.base import AbortFn, ProgressFn, TranscribeOptions, Transcriber
from earwig.transcribe.models import BUNDLED, bundled_ctranslate2_dir, find_ggml, unknown_model

if TYPE_CHECKING:
    import numpy as np

ORDER = ("mlx-whisper", "whisper.cpp", "faster-whisper", "openai")  # every backend


def auto_order() -> tuple[str, ...]:
    """Best first, for this machine."""
    if apple_silicon():
        return ("mlx-whisper", "whisper.cpp", "faster-whisper", "openai")
    return ("faster-whisper", "whisper.cpp", "mlx-whisper", "openai")


EXTRAS = {  # what to install for each, as docs/models-and-languages.md and `earwig backends` say
    "mlx-whisper": "pip install 'earwig[mlx]'  (macOS on Apple Silicon)",
    "whisper.cpp": "pip install pywhispercpp  (installed by default, except on Intel Macs)",
    "faster-whisper": "pip install earwig  (installed by default)",
    "openai": "pip install 'earwig[openai]'",
}
PACKAGES = {
    "mlx-whisper": "mlx_whisper",
    "whisper.cpp": "pywhispercpp",
    "faster-whisper": "faster_whisper",
    "openai": "openai",
}


@dataclass(frozen=True)
class Availability:
    name: str
    installed: bool
    usable: bool
    detail: str  # the model it would use, or why it cannot run


def apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(PACKAGES[name]) is not None
    except (ImportError, ValueError):
        return False


def _model_for(name: str, config: TranscribeConfig) -> tuple[bool, str]:
    """Can this backend find a model for `config.model` without downloading anything?"""
    model = config.model
    path = Path(model).expanduser()
    if name == "openai":
        if config.api_base_url:
            return True, f"{config.api_model} at {config.api_base_url}"
        if os.environ.get(config.api_key_env):
            return True, f"{config.api_model} at api.openai.com"
        return False, f"not configured (set [transcribe] api_base_url, or ${config.api_key_env})"
    if name == "mlx-whisper":
        if path.is_dir() and any(
            (path / f).is_file() for f in ("weights.npz", "weights.safetensors")
        ):
            return True, str(path)
        return False, "no MLX model: set [transcribe] model to an MLX Whisper directory"
    converted = " (converted to ggml)" if name == "whisper.cpp" else ""
    if model == BUNDLED:
        if bundled_ctranslate2_dir() is None:
            return False, "the bundled model is missing (reinstall earwig)"
        return True, "tiny.en (bundled)" + (", converted to ggml" if converted else "")
    if path.is_dir() and (path / "model.bin").is_file():
        return True, str(path) + converted
    if name == "whisper.cpp":
        if path.is_file():
            return True, str(path)
        named = find_ggml(model, config.models_dir)
        if named is not None:
            return True, str(named)
    if path.exists():
        return False, f"{path} is not a Whisper model this backend can load"
    entry = catalog.lookup(model)
    if entry is None:
        return False, unknown_model(model).message
    if catalog.cached(entry) is not None:
        return True, f"{entry.name} (Hugging Face cache){converted}"
    if entry.name == "tiny.en" and bundled_ctranslate2_dir() is not None:
        return True, "tiny.en (bundled)" + converted
    if config.download:
        return True, f"{entry.name} (not downloaded yet: fetched on first use){converted}"
    return False, f"{entry.name} is not downloaded (`earwig models pull {entry.name}`)"


def _unknown_name(config: TranscribeConfig) -> bool:
    model = config.model
    return (
        model != BUNDLED
        and not Path(model).expanduser().exists()
        and catalog.lookup(model) is None
        and find_ggml(model, config.models_dir) is None
    )


def survey(config: TranscribeConfig) -> list[Availability]:
    """Every backend, best first, with whether it can run here and why not."""
    result = []
    for name in auto_order():
        if name == "mlx-whisper" and not apple_silicon():
            result.append(
                Availability(name, installed(name), False, "needs macOS on Apple Silicon")
            )
            continue
        if not installed(name):
            result.append(Availability(name, False, False, f"not installed: {EXTRAS[name]}"))
            continue
        ok, detail = _model_for(name, config)
        result.append(Availability(name, True, ok, detail))
    return result


def build(name: str, config: TranscribeConfig) -> Transcriber:
    """Construct one backend (nothing is loaded until its first job)."""
    if name == "faster-whisper":
        from earwig.transcribe.faster_whisper import FasterWhisperBackend

        return FasterWhisperBackend(
            config.model,
            config.threads,
            config.compute_type,
            device=config.device,
            batched=config.batched,
            batch_size=config.batch_size,
        )
    if name == "whisper.cpp":
        from earwig.transcribe.whisper_cpp import WhisperCppBackend

        return WhisperCppBackend(config.model, config.models_dir, config.threads)
    if name == "openai":
        from earwig.transcribe.openai_api import OpenAIBackend

        return OpenAIBackend(
            config.api_model, config.api_base_url, config.api_key_env, config.api_timeout
        )
    if name == "mlx-whisper":
        from earwig.transcribe.mlx import MlxBackend

        return MlxBackend(config.model)
    raise ConfigError(f"unknown backend {name!r}", "choose one of: auto, " + ", ".join(ORDER))


def chosen(config: TranscribeConfig, table: list[Availability] | None = None) -> list[str]:
    """The backends a job may go through, in order: the configured (or best) one first.
    `table` is a survey the caller already made (`earwig backends` shows it too)."""
    table = table if table is not None else survey(config)
    usable = [a.name for a in table if a.usable]
    if config.backend != "auto":
        pinned = next(a for a in table if a.name == config.backend)
        if not pinned.usable:
            raise BackendError(
                f"backend {config.backend} cannot run here: {pinned.detail}",
                'set [transcribe] backend = "auto", or see `earwig backends`',
            )
        rest = [n for n in usable if n != config.backend and n != "openai"]
        return [config.backend, *rest] if config.fallback else [config.backend]
    if not usable:
        if _unknown_name(config):
            raise unknown_model(config.model)  # say which names there are, not four reasons
        reasons = "; ".join(f"{a.name}: {a.detail}" for a in table if a.installed)
        raise BackendError(
            f"no transcription backend can run here ({reasons})",
            "`earwig models` lists the models by name; `earwig backends` shows what each "
            "backend needs",
        )
    # "auto" falls back only to local backends: sending audio to a server is opt-in even
    # as a fallback, unless it is the only choice.
    local = [n for n in usable if n != "openai"] or usable
    return local if config.fallback else local[:1]


class FallbackTranscriber:
    """The first backend in the chain; when it fails for its own reasons (not the media's),
    the job is handed to the next one. The transcript says which backend produced it."""

    def __init__(self, names: list[str], factory: Callable[[str], Transcriber]):
        self.names = names
        self._factory = factory
        self._built: dict[str, Transcriber] = {}
        self._lock = threading.Lock()
        self.on_fallback: Callable[[str, str, str], None] | None = None
        self.primary = self._get(names[0])
        self._seat: object | None = None  # see sharing()

    def sharing(self, seat: object) -> FallbackTranscriber:
        """This chain for one job of the short lane (daemon/lane.py): the same backends, its
        own `on_fallback`, and the first backend asked to decode through `seat`'s shared
        batches (only faster-whisper can; the lane seats no other)."""
        job = copy.copy(self)
        job.on_fallback = None
        job._seat = seat
        return job

    def _get(self, name: str) -> Transcriber:
        with self._lock:
            if name not in self._built:
                self._built[name] = self._factory(name)
            return self._built[name]

    @property
    def name(self) -> str:
        return self.primary.name

    @property
    def model_name(self) -> str:
        return self.primary.model_name

    @property
    def loaded(self) -> bool:
        return any(b.loaded for b in self._built.values())

    @property
    def window_seconds(self) -> float:
        return float(getattr(self.primary, "window_seconds", WINDOW_SECONDS))

    @property
    def device(self) -> str:
        """Where the primary backend runs: "cpu", "cuda", "metal", or "server"."""
        return str(getattr(self.primary, "device", "cpu"))

    def load(self) -> None:
        self.primary.load()

    def unload(self) -> None:
        for backend in list(self._built.values()):
            backend.unload()

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        on_progress: ProgressFn,
        should_abort: AbortFn,
    ) -> Transcript:
        last: EarwigError | None = None
        for i, name in enumerate(self.names):
            try:
                backend = self._get(name)
                if i == 0 and self._seat is not None:
                    return backend.transcribe(  # type: ignore[call-arg]
                        audio, options, on_progress, should_abort, shared=self._seat
                    )
                return backend.transcribe(audio, options, on_progress, should_abort)
            except Aborted:
                raise
            except BackendError as exc:
                last = exc
                nxt = self.names[i + 1] if i + 1 < len(self.names) else None
                if self.on_fallback and nxt:
                    self.on_fallback(name, nxt, exc.message)
        assert last is not None
        if len(self.names) > 1:
            raise BackendError(
                f"every backend failed; last: {last.message}",
                last.hint or "see `earwig backends`",
            )
        raise last


def create(config: TranscribeConfig) -> FallbackTranscriber:
    """Build (not load) the configured backend, with the fallbacks behind it."""
    names = chosen(config)
    check_language_fits(config, names[0])
    return FallbackTranscriber(names, lambda name: build(name, config))


LOCAL_MODELS = ("faster-whisper", "whisper.cpp")  # the backends that read catalog models


def missing_model(config: TranscribeConfig) -> catalog.Entry | None:
    """The catalog model the configured backend needs and that is not on disk yet."""
    if config.backend not in ("auto", *LOCAL_MODELS):
        return None
    try:
        primary = chosen(config)[0]
    except EarwigError:
        return None
    if primary not in LOCAL_MODELS or Path(config.model).expanduser().exists():
        return None
    if primary == "whisper.cpp" and find_ggml(config.model, config.models_dir) is not None:
        return None
    entry = catalog.lookup(config.model)
    if entry is None or catalog.cached(entry) is not None:
        return None
    if entry.name == "tiny.en" and bundled_ctranslate2_dir() is not None:
        return None
    return entry


def english_only(model: str) -> bool:
    """Is this model setting an English-only Whisper (tiny.en, base.en, distil-*...)?"""
    if model == BUNDLED:
        return True
    path = Path(model).expanduser()
    if path.is_dir():
        return catalog.english_only(path)
    if path.is_file():
        return ".en" in path.name
    entry = catalog.lookup(model)
    return entry is not None and not entry.multilingual


def check_language_fits(config: TranscribeConfig, backend: str) -> None:
    """An English-only model asked for another language or a translation would silently give
    wrong text: refuse up front, and say what to use. (`multilingual`, on by default, asks an
    English-only model to flag the other languages it hears: transcribe/quality.py.)"""
    if backend not in LOCAL_MODELS or not english_only(config.model):
        return
    asked = None
    if config.language and config.language != "en":
        asked = f"language {config.language!r}"
    elif config.translate:
        asked = "translation into English"
    if asked:
        from earwig.transcribe.models import display_name

        raise ConfigError(
            f"{display_name(config.model)} is an English-only model and cannot do {asked}",
            "use a multilingual model: `earwig models pull base` and set [transcribe] model = "
            '"base" (or --model base); `earwig models` lists them',
        )


def options(config: TranscribeConfig) -> TranscribeOptions:
    return TranscribeOptions(
        language=config.language,
        translate=config.translate,
        initial_prompt=config.initial_prompt,
        vad=config.vad,
        word_timestamps=config.word_timestamps,
        beam_size=config.beam_size,
        multilingual=config.multilingual,
        diarize=config.speakers != "off",
        speakers=config.speakers if isinstance(config.speakers, int) else None,
        voices_everywhere=config.voices == "everywhere",
    )
