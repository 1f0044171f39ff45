"""faster-whisper (CTranslate2) backend: the default, and the one that runs everywhere.

faster_whisper and ctranslate2 are imported in `load`, never at module import, so nothing that
only lists jobs pays for them.

Two paths through the engine. Sequential (`WhisperModel.transcribe`) decodes one 30 s window
after another, each conditioned on the text before it. Batched (`BatchedInferencePipeline`)
cuts the audio at the silences its bundled Silero VAD finds and decodes `batch_size` pieces at
once: on 2 CPU cores about twice as fast at the same word error rate once a recording is longer
than a minute or so (bench/long.py). "auto" takes the batched path from BATCHED_FROM seconds on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, BackendError
from earwig.model import Segment, Transcript, Word
from earwig.transcribe import fw_shared, repair, spoken
from earwig.transcribe.base import (
    SAMPLE_RATE,
    AbortFn,
    ProgressFn,
    TranscribeOptions,
    clamp,
    segments_sink,
    shift,
)
from earwig.transcribe.models import display_name, resolve_ctranslate2

if TYPE_CHECKING:
    import numpy as np

    from earwig.transcribe.batches import Seat

log = logging.getLogger("earwig.backend")

BATCHED_FROM = 60.0  # seconds of audio from which "auto" takes the batched path (measured)
SEED = 0  # CTranslate2's sampling seed (temperature fallback)


def load_pip_cuda_libraries() -> None:
    """With `earwig[cuda]` the CUDA libraries CTranslate2 needs (cuBLAS, cuDNN) come from
    NVIDIA's PyPI wheels, which the dynamic loader does not search: load them by path first,
    so no LD_LIBRARY_PATH is needed. Without those wheels this does nothing."""
    import ctypes
    import glob
    import importlib.util

    for package in ("nvidia.cublas", "nvidia.cudnn"):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for root in (spec.submodule_search_locations or []) if spec else []:
            for lib in sorted(glob.glob(os.path.join(root, "lib", "lib*.so*"))):
                try:
                    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    continue


def cuda_devices() -> int:
    """How many CUDA devices CTranslate2 can use here (0 when it was built without CUDA or
    the driver/runtime libraries are missing)."""
    try:
        load_pip_cuda_libraries()
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a broken CUDA install must not stop a CPU transcription
        return 0


def pick_device(requested: str) -> tuple[str, str | None]:
    """(device, warning): "auto" takes a GPU when there is one; a requested GPU that cannot
    be used falls back to the CPU with a warning, never a crash."""
    if requested == "cpu":
        return "cpu", None
    gpus = cuda_devices()
    if gpus:
        return "cuda", None
    if requested == "cuda":
        return "cpu", (
            'device = "cuda" but CTranslate2 sees no usable GPU (no NVIDIA driver, or the '
            "CUDA libraries are missing: pip install 'earwig[cuda]'); transcribing on the CPU"
        )
    return "cpu", None


def pick_compute_type(requested: str, device: str) -> str:
    """float16 suits a GPU, int8 a CPU; an explicit choice is kept."""
    if requested != "auto":
        return requested
    return "float16" if device == "cuda" else "int8"


class FasterWhisperBackend:
    name = "faster-whisper"

    def __init__(
        self,
        model: str = "bundled",
        threads: int = 0,
        compute_type: str = "auto",
        *,
        device: str = "auto",
        batched: str | bool = "auto",
        batch_size: int = 8,
    ):
        self.model_setting = model
        self.model_dir: Path | None = None  # resolved at load: the model may still be downloading
        self.model_name = display_name(model)
        self.threads = threads or os.cpu_count() or 1
        self.requested_device = device
        self.device, self.device_warning = pick_device(device)
        self.compute_type = pick_compute_type(compute_type, self.device)
        self.batched = batched
        self.batch_size = batch_size
        self._model: Any = None
        self._pipeline: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def multilingual(self) -> bool | None:
        return self._model.model.is_multilingual if self._model is not None else None

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            self.model_dir, self.model_name = resolve_ctranslate2(self.model_setting)
            import ctranslate2
            from faster_whisper import BatchedInferencePipeline, WhisperModel

            # Whisper's temperature fallback samples: seeded, the same file read by a fresh
            # process comes out the same each time (the seed is read when the engine's
            # thread first samples, so it must be set before the model starts)
            ctranslate2.set_random_seed(SEED)
            if self.device_warning:
                log.warning(self.device_warning)
            started = time.monotonic()
            try:
                self._model = self._load(WhisperModel, self.device, self.compute_type)
            except (RuntimeError, ValueError, OSError) as exc:
                if self.device == "cpu":
                    raise BackendError(
                        f"faster-whisper could not load {self.model_dir}: {exc}",
                        "check [transcribe] model and compute_type",
                    ) from exc
                # the GPU was seen but cannot run this model (memory, driver, libraries)
                self.device_warning = f"the GPU could not load the model ({exc}); using the CPU"
                log.warning(self.device_warning)
                self.device, self.compute_type = "cpu", pick_compute_type("auto", "cpu")
                self._model = self._load(WhisperModel, "cpu", self.compute_type)
            self._pipeline = BatchedInferencePipeline(self._model)
            log.info(
                "faster-whisper loaded %s on %s (%s, %d threads) in %.1fs",
                self.model_name,
                self.device,
                self.compute_type,
                self.threads,
                time.monotonic() - started,
            )

    def _load(self, cls: Any, device: str, compute_type: str) -> Any:
        return cls(
            str(self.model_dir), device=device, compute_type=compute_type, cpu_threads=self.threads
        )

    def unload(self) -> None:
        with self._lock:
            self._model = None
            self._pipeline = None

    @property
    def window_seconds(self) -> float:
        """How much audio to hand over at once (transcribe/pipeline.py). The sequential path
        computes the spectrogram of all it is given (about 1 GB for ten minutes), the batched
        one only of the speech its VAD keeps: it gets longer windows, which fill its batches."""
        return 600.0 if self.batched is not False else 180.0

    def use_batched(self, duration: float) -> bool:
        if self.batched == "auto":
            return duration >= BATCHED_FROM
        return bool(self.batched)

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        on_progress: ProgressFn,
        should_abort: AbortFn,
        *,
        shared: Seat | None = None,
    ) -> Transcript:
        """With `shared` (a job of the daemon's short lane, daemon/lane.py), short audio is
        decoded in batches shared with the other short jobs (transcribe/batches.py)."""
        self.load()
        duration = len(audio) / SAMPLE_RATE
        if should_abort():
            raise Aborted("stopped before transcription started")
        runs: list[spoken.Run] = []
        if options.multilingual and self._model.model.is_multilingual:
            runs = self._languages(audio, duration, options.language)
        if len(runs) <= 1:
            language = runs[0].language if runs else options.language
            segments, info = self._run(audio, options, language, on_progress, should_abort, shared)
            if runs:  # found by earwig's detection, which the engine was told
                segments = [replace(s, language=language) for s in segments]
                probability = runs[0].probability
            else:
                probability = info.language_probability
            on_progress(1.0)
            return self._transcript(segments, info.language, probability, duration, info, options)
        segments, speech = [], 0.0
        for run in runs:
            piece = audio[int(run.start * SAMPLE_RATE) : int(run.end * SAMPLE_RATE)]
            length = run.end - run.start

            def progress(f: float, run: spoken.Run = run, length: float = length) -> None:
                on_progress(min(1.0, (run.start + f * length) / duration))

            found, info = self._run(piece, options, run.language, progress, should_abort, shared)
            segments += [shift(s, run.start, duration, run.language) for s in found]
            speech += float(info.duration_after_vad)
        on_progress(1.0)
        spoken_for: dict[str, float] = {}
        for r in runs:
            spoken_for[r.language] = spoken_for.get(r.language, 0.0) + r.end - r.start
        main = max(spoken_for, key=spoken_for.__getitem__)
        probability = min(r.probability for r in runs if r.language == main)
        transcript = self._transcript(segments, main, probability, duration, info, options)
        if self.use_batched(duration) or options.vad:
            transcript = transcript.replace(speech=round(speech, 3))
        return transcript

    def _languages(self, audio: np.ndarray, duration: float, hint: str | None) -> list[spoken.Run]:
        """The runs of one language to transcribe (transcribe/spoken.py), never found worse
        than the engine finds them itself: the file's language is first read exactly as
        `WhisperModel.transcribe` reads it (its first 30 s, padded), and handed to the
        engine, which then skips its own reading. Speech that fits one piece keeps that
        language unless its halves clearly say two (spoken.halves); longer speech is
        searched piece by piece, each piece held to the engine's answer."""
        spans = spoken.speech(audio)
        if not spans:  # nothing to hear: the hint, else the engine's own reading
            return []
        reference, probability = spoken.whole(self._model, audio)
        if len(spoken.pieces_of(spans)) <= 1:
            found = spoken.halves(self._model, audio, spans, reference)
            if found:
                return spoken.runs(found, duration, hint)
            if hint and (reference == hint or probability < spoken.CLEAR):
                return [spoken.Run(0.0, duration, hint, probability)]
            overrides = hint if hint and reference != hint else None
            return [spoken.Run(0.0, duration, reference, probability, overrides)]
        found = spoken.find(self._model, audio, reference, spans)
        return spoken.runs(found, duration, hint)

    def _transcript(
        self,
        segments: list[Segment],
        language: str,
        probability: float,
        duration: float,
        info: Any,
        options: TranscribeOptions,
    ) -> Transcript:
        segments.sort(key=lambda s: (s.start, s.end))  # in time order, whatever the path
        return Transcript(
            segments=tuple(segments),
            language=language,
            duration=duration,
            backend=self.name,
            model=self.model_name,
            language_probability=round(float(probability), 3),
            speech=round(float(info.duration_after_vad), 3)
            if self.use_batched(duration) or options.vad
            else None,
        )

    def _run(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        language: str | None,
        on_progress: ProgressFn,
        should_abort: AbortFn,
        shared: Seat | None = None,
    ) -> tuple[list[Segment], Any]:
        """One stretch of audio through the engine, in `language` (None: the engine detects
        it from the first 30 s, as Whisper does); a short one through `shared` batches."""
        duration = len(audio) / SAMPLE_RATE
        common: dict[str, Any] = {
            "language": language,
            "task": "translate" if options.translate else "transcribe",
            "initial_prompt": options.initial_prompt,
            "word_timestamps": options.word_timestamps,
            "beam_size": options.beam_size,
        }
        try:
            sharing = shared is not None and duration < BATCHED_FROM
            if shared is not None and sharing:
                pieces, info = fw_shared.transcribe(
                    self._model, shared, audio, should_abort, vad=options.vad, **common
                )
            elif self.use_batched(duration):
                # batched always cuts at the VAD's silences: that is how it finds its pieces
                pieces, info = self._pipeline.transcribe(
                    audio, batch_size=self.batch_size, vad_filter=True, **common
                )
            else:
                pieces, info = self._model.transcribe(audio, vad_filter=options.vad, **common)
            segments = []
            live = segments_sink(on_progress)
            for piece in pieces:  # a generator: decoding happens as we iterate
                segments.append(_segment(piece, duration))
                if live is not None:
                    live(segments[-1:])
                on_progress(min(1.0, piece.end / duration) if duration else 1.0)
                if should_abort():
                    raise Aborted("stopped during transcription")
            if sharing or self.use_batched(duration):  # decoded at one temperature: a loop
                # is decoded again alone, without the text before it (the sequential path
                # has already fallen back through Whisper's temperatures on its own; repair.py)
                segments, mended = repair.decode_again(
                    segments, lambda a, b: self._again(audio, a, b, common)
                )
                if mended:
                    log.info("decoded %d looping segment(s) again", mended)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"faster-whisper failed: {exc}") from exc
        return segments, info

    def _again(
        self, audio: np.ndarray, start: float, end: float, common: dict[str, Any]
    ) -> list[Segment]:
        """audio[start:end] (seconds) through the sequential engine on its own: no text
        before it to repeat, temperatures rising while the answer still loops."""
        piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        found, _ = self._model.transcribe(
            piece,
            vad_filter=False,
            condition_on_previous_text=False,
            temperature=(0.2, 0.4, 0.6, 0.8, 1.0),
            **common,
        )
        length = len(audio) / SAMPLE_RATE
        return [shift(_segment(f, end - start), start, length, None) for f in found]

    def reread(
        self, audio: np.ndarray, start: float, end: float, options: TranscribeOptions
    ) -> list[Segment]:
        """audio[start:end] (seconds) read again alone, the same way every time: one pass at
        temperature 0 (no fallback, so nothing sampled at random), no text or prompt before
        it, word times on; segments on `audio`'s clock. The second opinion an English-only
        model's judge asks for before it leaves speech out (quality.foreign_spans): a first
        reading that fell back to sampling (repeated text does) can write clear English
        unsure, or nothing at all when Whisper then takes the window for silence."""
        self.load()
        piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        try:
            found, _ = self._model.transcribe(
                piece,
                language=options.language,
                beam_size=options.beam_size,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
                temperature=0.0,
            )
            length = len(audio) / SAMPLE_RATE
            return [shift(_segment(f, end - start), start, length, None) for f in found]
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"faster-whisper failed: {exc}") from exc


def _segment(piece: Any, duration: float) -> Segment:
    """A faster-whisper segment as earwig's, its times clamped to the audio."""
    words = tuple(
        Word(
            clamp(w.start, duration), clamp(w.end, duration), w.word, round(float(w.probability), 3)
        )
        for w in (piece.words or ())
    )
    return Segment(
        clamp(piece.start, duration),
        clamp(piece.end, duration),
        piece.text,
        words,
        avg_logprob=round(float(piece.avg_logprob), 3),
        compression_ratio=round(float(piece.compression_ratio), 3),
    )
