"""Decoding and the faster-whisper backend, on real generated speech and the bundled model."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from earwig.errors import Aborted, BackendError, MediaError
from earwig.speech import SAMPLE_TEXT
from earwig.transcribe import audio, models
from earwig.transcribe.base import SAMPLE_RATE, TranscribeOptions
from earwig.transcribe.faster_whisper import FasterWhisperBackend
from helpers import wer


@pytest.fixture(scope="module")
def backend() -> FasterWhisperBackend:
    return FasterWhisperBackend("bundled", threads=2)


def test_decode_wav_and_mp3_to_16k_mono(speech_wav: Path, speech_mp3: Path) -> None:
    wav = audio.decode(speech_wav)
    mp3 = audio.decode(speech_mp3)
    assert wav.dtype.name == "float32" and wav.ndim == 1
    assert 8 < len(wav) / SAMPLE_RATE < 20
    assert abs(len(mp3) - len(wav)) / SAMPLE_RATE < 0.2  # same speech, within codec padding


def test_text_renamed_wav_is_not_media(tmp_path: Path) -> None:
    fake = tmp_path / "notes.wav"
    fake.write_text("shopping list: eggs, milk\n" * 50)
    with pytest.raises(MediaError) as info:
        audio.decode(fake)
    assert "notes.wav" in info.value.message and "playable" in info.value.hint


def test_corrupt_mp3_is_rejected(tmp_path: Path, speech_mp3: Path) -> None:
    corrupt = tmp_path / "broken.mp3"
    data = bytearray(speech_mp3.read_bytes())
    data[: len(data) - 400] = bytes(range(256)) * ((len(data) - 400) // 256) + bytes(
        (len(data) - 400) % 256
    )
    corrupt.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"broken\.mp3"):
        audio.decode(corrupt)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        audio.decode(tmp_path / "gone.mp3")


def test_bundled_model_is_found_offline() -> None:
    path, name = models.resolve_ctranslate2("bundled")
    assert (path / "model.bin").is_file() and "tiny.en" in name


def test_model_that_would_need_a_download_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as info:
        models.resolve_ctranslate2("large-v3")
    assert "not downloaded" in info.value.message and "large-v3" in info.value.message
    assert "earwig models pull large-v3" in info.value.hint
    with pytest.raises(BackendError, match=r"no model\.bin"):
        models.resolve_ctranslate2(str(tmp_path))


def test_transcribes_real_speech(backend: FasterWhisperBackend, speech_wav: Path) -> None:
    progress: list[float] = []
    result = backend.transcribe(
        audio.decode(speech_wav), TranscribeOptions(), progress.append, lambda: False
    )
    assert wer(SAMPLE_TEXT, result.text) < 0.35, result.text
    assert result.language == "en" and result.backend == "faster-whisper"
    assert progress == sorted(progress) and progress[-1] == 1.0
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and all(s.end >= s.start for s in result.segments)
    assert result.segments[-1].end <= result.duration + 0.5


def test_abort_stops_transcription(backend: FasterWhisperBackend, long_wav: Path) -> None:
    stop = threading.Event()
    seen: list[float] = []

    def on_progress(fraction: float) -> None:
        seen.append(fraction)
        stop.set()  # ask to stop after the first segment

    with pytest.raises(Aborted):
        backend.transcribe(audio.decode(long_wav), TranscribeOptions(), on_progress, stop.is_set)
    assert len(seen) == 1 and seen[0] < 0.5
