"""Real speech, generated offline with eSpeak NG, for tests, benchmarks and built-in samples.

The `espeakng-loader` wheel ships libespeak-ng and its voice data, so nothing is downloaded and
no system package is needed. It is an optional dependency (the `test` extra).
"""

from __future__ import annotations

import ctypes
import threading
import wave
from pathlib import Path

from earwig.errors import EarwigError

SAMPLE_TEXT = (
    "Welcome to the weekly meeting. Today we will talk about the budget for next year, "
    "the new office, and the summer holidays. Please send your questions to the team "
    "before Friday."
)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_lock = threading.Lock()  # libespeak-ng keeps global state
_state: dict[str, object] = {}

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def _library() -> tuple[ctypes.CDLL, int]:
    if "lib" not in _state:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise EarwigError(
                "speech synthesis needs the espeakng-loader package",
                "pip install 'earwig[test]'",
            ) from exc
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
        )
        if rate <= 0:
            raise EarwigError("eSpeak NG failed to initialise")
        _state["lib"], _state["rate"] = lib, rate
    return _state["lib"], _state["rate"]  # type: ignore[return-value]


def synthesize(text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    """Speak `text` into a 16-bit mono wav at `path` (22050 Hz) and return the path."""
    with _lock:
        lib, rate = _library()
        samples: list[bytes] = []

        def collect(wav: ctypes.Array, count: int, events: int) -> int:
            if count > 0:
                samples.append(ctypes.string_at(wav, count * 2))
            return 0

        callback = _Callback(collect)
        lib.espeak_SetSynthCallback(callback)
        lib.espeak_SetVoiceByName(voice.encode())
        lib.espeak_SetParameter(_ESPEAK_RATE, words_per_minute, 0)
        data = text.encode()
        lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 0, None, None)
        lib.espeak_Synchronize()
    return write_wav(path, b"".join(samples), rate)


def write_wav(path: Path, pcm: bytes, rate: int) -> Path:
    """Mono 16-bit little-endian samples as a wav file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path
