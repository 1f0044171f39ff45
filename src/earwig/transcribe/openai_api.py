"""OpenAI's transcription API, or any server that speaks it (faster-whisper-server, speaches,
whisper.cpp's server, a GPU box on the LAN), through the `openai` SDK.

The audio is re-encoded to compact mono mp3 and sent in chunks of at most ten minutes, split at
the quietest moment near each boundary, so that no upload comes near the 25 MB limit and long
recordings report progress and can be cancelled between chunks. 429 and 5xx answers are retried
by the SDK with exponential backoff. The API key is read from the environment variable named in
the config, and is never logged or stored: error messages are scrubbed of it.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, BackendError, ServerUnavailable
from earwig.model import Segment, Transcript, Word
from earwig.transcribe.base import SAMPLE_RATE, AbortFn, ProgressFn, TranscribeOptions, clamp

if TYPE_CHECKING:
    import numpy as np

CHUNK_SECONDS = 600.0  # 10 minutes of 48 kbit/s mp3 is about 3.6 MB, far below 25 MB
SEARCH_SECONDS = 10.0  # look this far either side of a boundary for a quiet place to cut
MAX_RETRIES = 5


def split_points(audio: np.ndarray, chunk: float = CHUNK_SECONDS) -> list[int]:
    """Sample offsets where the audio is cut: near every `chunk` seconds, at the quietest
    100 ms within SEARCH_SECONDS, so that a word is rarely cut in half."""
    from earwig.transcribe.audio import FRAME, quietest

    step, window = int(chunk * SAMPLE_RATE), int(SEARCH_SECONDS * SAMPLE_RATE)
    points = [0]
    while len(audio) - points[-1] > step:
        target = points[-1] + step
        lo = max(points[-1] + FRAME, target - window)
        hi = min(len(audio) - FRAME, target + window)
        points.append(quietest(audio, lo, hi) if hi - lo >= FRAME else target)
    points.append(len(audio))
    return points


def encode_mp3(samples: np.ndarray) -> bytes:
    """float32 mono 16 kHz -> mp3 bytes, with the FFmpeg that PyAV bundles."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("mp3", rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = 48_000
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def attach_words(segments: list[Segment], words: list[Word]) -> list[Segment]:
    """The API returns words in one flat list beside the segments: give each segment the words
    that start inside it (a word on a boundary goes to the segment it starts in)."""
    if not words:
        return segments
    result, i = [], 0
    for n, seg in enumerate(segments):
        last = n == len(segments) - 1
        mine = []
        while i < len(words) and (last or words[i].start < seg.end):
            mine.append(words[i])
            i += 1
        result.append(dataclasses.replace(seg, words=tuple(mine)))
    return result


class OpenAIBackend:
    name = "openai"
    device = "server"

    def __init__(
        self,
        model: str = "whisper-1",
        base_url: str | None = None,
        key_env: str = "OPENAI_API_KEY",
        timeout: float = 600.0,
        chunk_seconds: float = CHUNK_SECONDS,
        max_retries: int | None = None,
    ):
        self.model_name = model
        self.chunk_seconds = chunk_seconds
        self.base_url = base_url
        self.key_env = key_env
        self.timeout = timeout
        # the pool retries on another server at once; alone, the client retries with backoff
        self.max_retries = MAX_RETRIES if max_retries is None else max_retries
        self._client: Any = None

    @property
    def loaded(self) -> bool:
        return self._client is not None

    def _key(self) -> str:
        key = os.environ.get(self.key_env, "")
        if not key and not self.base_url:
            raise BackendError(
                f"the OpenAI backend needs an API key in ${self.key_env}",
                f"export {self.key_env}=..., or set [transcribe] api_base_url to a server "
                "that needs none",
            )
        return key or "not-needed"  # local servers usually accept anything

    def load(self) -> None:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                api_key=self._key(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )

    def unload(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def _scrub(self, text: str) -> str:
        from earwig.redact import scrub, url_secrets

        return scrub(text, [os.environ.get(self.key_env), *url_secrets([self.base_url])])

    def _request(self, mp3: bytes, options: TranscribeOptions) -> Any:
        import openai

        kwargs: dict[str, Any] = {
            "file": ("audio.mp3", mp3, "audio/mpeg"),
            "model": self.model_name,
            "response_format": "verbose_json",
        }
        if options.initial_prompt:
            kwargs["prompt"] = options.initial_prompt
        if options.word_timestamps and not options.translate:
            kwargs["timestamp_granularities"] = ["word", "segment"]
        api = (
            self._client.audio.translations
            if options.translate
            else self._client.audio.transcriptions
        )
        if options.language and not options.translate:
            kwargs["language"] = options.language
        where = self.base_url or "api.openai.com"
        try:
            return api.create(**kwargs)
        except openai.AuthenticationError as exc:
            raise BackendError(
                f"{where} refused the API key (401): {self._scrub(str(exc))}",
                f"check {self.key_env}",
            ) from None
        except openai.BadRequestError as exc:
            if "verbose_json" in str(exc) or "response_format" in str(exc):
                kwargs["response_format"] = "json"  # a server without segments
                return api.create(**kwargs)
            raise BackendError(f"{where} rejected the request: {self._scrub(str(exc))}") from None
        except openai.APIStatusError as exc:
            retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            raise (ServerUnavailable if retried else BackendError)(
                f"{where} answered {exc.status_code}"
                + (f" {self.max_retries + 1} times" if retried and self.max_retries else "")
                + f": {self._scrub(str(exc))}",
                "the server is overloaded or down; `earwig retry` later"
                if retried
                else "check [transcribe] api_base_url and api_model",
            ) from None
        except openai.APIConnectionError as exc:
            raise ServerUnavailable(
                f"cannot reach {where}: {self._scrub(str(exc))}",
                "is the server running? check [transcribe] api_base_url",
            ) from None

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        on_progress: ProgressFn,
        should_abort: AbortFn,
    ) -> Transcript:
        self.load()
        duration = len(audio) / SAMPLE_RATE
        points = split_points(audio, self.chunk_seconds)
        segments: list[Segment] = []
        language = options.language or ""
        for start, end in itertools.pairwise(points):
            if should_abort():
                raise Aborted("stopped during transcription")
            offset = start / SAMPLE_RATE
            result = self._request(encode_mp3(audio[start:end]), options)
            pieces = getattr(result, "segments", None)
            if pieces:
                chunk = [
                    Segment(
                        clamp(offset + float(p.start), duration),
                        clamp(offset + float(p.end), duration),
                        p.text,
                    )
                    for p in pieces
                ]
                words = [
                    Word(
                        clamp(offset + float(w.start), duration),
                        clamp(offset + float(w.end), duration),
                        w.word,
                    )
                    for w in (getattr(result, "words", None) or ())
                ]
                segments.extend(attach_words(chunk, words))
            elif result.text.strip():  # plain json: one segment per chunk
                segments.append(Segment(round(offset, 3), round(end / SAMPLE_RATE, 3), result.text))
            language = getattr(result, "language", None) or language
            on_progress(end / len(audio) if len(audio) else 1.0)
        on_progress(1.0)
        return Transcript(
            segments=tuple(segments),
            language=language,
            duration=duration,
            backend=self.name,
            model=self.model_name,
        )
