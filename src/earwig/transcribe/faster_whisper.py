"""faster-whisper (CTranslate2) backend: the default, and the one that runs everywhere.

faster_whisper and ctranslate2 are imported in `load`, never at module import, so nothing that
only lists jobs pays for them.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, BackendError
from earwig.model import Segment, Transcript, Word
from earwig.transcribe.base import SAMPLE_RATE, AbortFn, ProgressFn, TranscribeOptions, clamp
from earwig.transcribe.models import resolve_ctranslate2

if TYPE_CHECKING:
    import numpy as np


class FasterWhisperBackend:
    name = "faster-whisper"

    def __init__(self, model: str = "bundled", threads: int = 0, compute_type: str = "int8"):
        self.model_dir, self.model_name = resolve_ctranslate2(model)
        self.threads = threads or os.cpu_count() or 1
        self.compute_type = compute_type
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from faster_whisper import WhisperModel

            try:
                self._model = WhisperModel(
                    str(self.model_dir),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.threads,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise BackendError(
                    f"faster-whisper could not load {self.model_dir}: {exc}",
                    "check [transcribe] model and compute_type",
                ) from exc

    def unload(self) -> None:
        with self._lock:
            self._model = None

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        on_progress: ProgressFn,
        should_abort: AbortFn,
    ) -> Transcript:
        self.load()
        duration = len(audio) / SAMPLE_RATE
        if should_abort():
            raise Aborted("stopped before transcription started")
        try:
            pieces, info = self._model.transcribe(
                audio,
                language=options.language,
                task="translate" if options.translate else "transcribe",
                initial_prompt=options.initial_prompt,
                vad_filter=options.vad,
                word_timestamps=options.word_timestamps,
                beam_size=options.beam_size,
            )
            segments = []
            for piece in pieces:  # a generator: decoding happens as we iterate
                words = tuple(
                    Word(
                        clamp(w.start, duration),
                        clamp(w.end, duration),
                        w.word,
                        round(float(w.probability), 3),
                    )
                    for w in (piece.words or ())
                )
                segments.append(
                    Segment(
                        clamp(piece.start, duration), clamp(piece.end, duration), piece.text, words
                    )
                )
                on_progress(min(1.0, piece.end / duration) if duration else 1.0)
                if should_abort():
                    raise Aborted("stopped during transcription")
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"faster-whisper failed: {exc}") from exc
        on_progress(1.0)
        return Transcript(
            segments=tuple(segments),
            language=info.language,
            duration=duration,
            backend=self.name,
            model=self.model_name,
        )
