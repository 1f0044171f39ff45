"""whisper.cpp backend through pywhispercpp: fast on CPUs, small memory footprint.

pywhispercpp is imported in `load` only. Audio arrives already decoded by PyAV (pywhispercpp
would otherwise shell out to an ffmpeg that may not be installed); the model is a ggml file,
made from the bundled CTranslate2 model on first use when nothing else is configured.

Each segment carries the two numbers faster-whisper's do, computed from what whisper.cpp really
gives (never a placeholder): `avg_logprob`, the mean of its text tokens' log-probabilities
(whisper.cpp's own `plog`), and `compression_ratio`, its text's gzip ratio. So a transcript's
.json has one shape whichever engine made it, and the loop and silence checks
(transcribe/repair.py) judge whisper.cpp's text as they judge faster-whisper's.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, BackendError
from earwig.model import Segment, Transcript, Word
from earwig.transcribe import ggml
from earwig.transcribe.base import SAMPLE_RATE, AbortFn, ProgressFn, TranscribeOptions, clamp
from earwig.transcribe.models import resolve_ggml
from earwig.transcribe.repair import ratio

if TYPE_CHECKING:
    import numpy as np


class WhisperCppBackend:
    name = "whisper.cpp"
    device = "cpu"  # pywhispercpp's PyPI wheels are CPU builds

    def __init__(self, model: str, models_dir: Path, threads: int = 0):
        self.model_setting, self.models_dir = model, models_dir
        self.threads = threads or os.cpu_count() or 1
        self.model_path: Path | None = None
        self.model_name = model if model != "bundled" else "tiny.en (bundled, ggml)"
        self._model: Any = None
        self._strategy = -1
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, beam_size: int = 5) -> None:
        strategy = 1 if beam_size > 1 else 0  # whisper.cpp fixes greedy/beam per context
        with self._lock:
            if self._model is not None and self._strategy == strategy:
                return
            # Resolve (and convert, once) here: a missing file must never reach whisper.cpp,
            # which loads a missing path "fine" and then crashes the process on transcribe.
            self.model_path, self.model_name = resolve_ggml(self.model_setting, self.models_dir)
            ggml.validate(self.model_path)
            from pywhispercpp.model import Model

            try:
                self._model = Model(
                    str(self.model_path),
                    params_sampling_strategy=strategy,
                    n_threads=self.threads,
                    redirect_whispercpp_logs_to=None,  # its C logging would flood stderr
                    print_progress=False,
                    print_realtime=False,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise BackendError(
                    f"whisper.cpp could not load {self.model_path}: {exc}",
                    "is it a ggml Whisper model? `earwig models` lists what is available",
                ) from exc
            self._strategy = strategy

    def _words(self, segment: int, duration: float) -> tuple[Word, ...]:
        """whisper.cpp times tokens, not words: join the pieces of each word (a new word starts
        with a space) and skip the special tokens ([_BEG_], <|endoftext|>...)."""
        import _pywhispercpp as pw  # type: ignore[import-not-found]

        ctx = self._model._ctx
        eot = pw.whisper_token_eot(ctx)
        words: list[list] = []  # [start, end, text, probabilities]
        for j in range(pw.whisper_full_n_tokens(ctx, segment)):
            if pw.whisper_full_get_token_id(ctx, segment, j) >= eot:
                continue
            data = pw.whisper_full_get_token_data(ctx, segment, j)
            text = pw.whisper_full_get_token_text(ctx, segment, j)
            t0, t1 = clamp(data.t0 / 100, duration), clamp(data.t1 / 100, duration)
            if not words or text.startswith(" "):
                words.append([t0, t1, text, [data.p]])
            else:
                words[-1][1] = t1
                words[-1][2] += text
                words[-1][3].append(data.p)
        return tuple(Word(s, e, t, round(min(ps), 3)) for s, e, t, ps in words if t.strip())

    def _avg_logprob(self, segment: int) -> float | None:
        """The mean log-probability of the segment's text tokens. Timestamp and special
        tokens are left out: whisper.cpp picks a timestamp from a spread of near ones, so its
        own log-probability says how sure the time is, not the words."""
        import _pywhispercpp as pw

        ctx = self._model._ctx
        eot = pw.whisper_token_eot(ctx)
        logprobs = [
            pw.whisper_full_get_token_data(ctx, segment, j).plog
            for j in range(pw.whisper_full_n_tokens(ctx, segment))
            if pw.whisper_full_get_token_id(ctx, segment, j) < eot
        ]
        return round(sum(logprobs) / len(logprobs), 3) if logprobs else None

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
        self.load(options.beam_size)
        duration = len(audio) / SAMPLE_RATE
        if should_abort():
            raise Aborted("stopped before transcription started")
        import _pywhispercpp as pw

        def on_segment(seg: Any) -> None:
            on_progress(min(1.0, seg.t1 / 100 / duration) if duration else 1.0)

        language = options.language
        if not language:  # an English-only model would "detect" a random language
            language = "auto" if pw.whisper_is_multilingual(self._model._ctx) else "en"
        params: dict[str, Any] = {
            "language": language,
            "translate": options.translate,
            "initial_prompt": options.initial_prompt or "",
            "token_timestamps": options.word_timestamps,
        }
        if options.beam_size > 1:
            params["beam_search"] = {"beam_size": options.beam_size, "patience": -1.0}
        try:
            pieces = self._model.transcribe(
                audio,
                new_segment_callback=on_segment,
                abort_callback=should_abort,
                **params,
            )
            detected = pw.whisper_lang_str(pw.whisper_full_lang_id(self._model._ctx))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise BackendError(f"whisper.cpp failed: {exc}") from exc
        if should_abort():
            raise Aborted("stopped during transcription")
        segments = []
        for i, piece in enumerate(pieces):  # t0/t1 are in centiseconds
            start, end = clamp(piece.t0 / 100, duration), clamp(piece.t1 / 100, duration)
            text = piece.text if piece.text.startswith(" ") else " " + piece.text
            words = self._words(i, duration) if options.word_timestamps else ()
            segments.append(
                Segment(
                    start,
                    end,
                    text,
                    words,
                    avg_logprob=self._avg_logprob(i),
                    compression_ratio=round(ratio(text.strip()), 3),
                )
            )
        on_progress(1.0)
        return Transcript(
            segments=tuple(segments),
            language=detected or language,
            duration=duration,
            backend=self.name,
            model=self.model_name,
        )
