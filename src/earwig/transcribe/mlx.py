"""mlx-whisper on Apple Silicon (the `mlx` extra, installed only on macOS arm64).

Nothing here can run on Linux, so this module is exercised only on a Mac; the selection logic
that decides whether to use it is tested everywhere (tests/unit/test_backends.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, BackendError
from earwig.model import Segment, Transcript
from earwig.transcribe.base import SAMPLE_RATE, AbortFn, ProgressFn, TranscribeOptions, clamp

if TYPE_CHECKING:
    import numpy as np


class MlxBackend:
    name = "mlx-whisper"
    device = "metal"  # MLX runs on the Apple GPU

    def __init__(self, model: str):
        self.model_dir = Path(model).expanduser()
        self.model_name = self.model_dir.name
        self._module: Any = None

    @property
    def loaded(self) -> bool:
        return self._module is not None

    def load(self) -> None:
        if self._module is None:
            import mlx_whisper

            self._module = mlx_whisper

    def unload(self) -> None:
        self._module = None

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        on_progress: ProgressFn,
        should_abort: AbortFn,
    ) -> Transcript:
        self.load()
        if should_abort():
            raise Aborted("stopped before transcription started")
        duration = len(audio) / SAMPLE_RATE
        try:
            result = self._module.transcribe(
                audio,
                path_or_hf_repo=str(self.model_dir),
                language=options.language,
                task="translate" if options.translate else "transcribe",
                initial_prompt=options.initial_prompt,
                verbose=None,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise BackendError(f"mlx-whisper failed: {exc}") from exc
        segments = tuple(
            Segment(clamp(s["start"], duration), clamp(s["end"], duration), s["text"])
            for s in result.get("segments", [])
        )
        on_progress(1.0)
        return Transcript(
            segments, result.get("language", ""), duration, self.name, self.model_name
        )
