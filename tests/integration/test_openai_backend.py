"""The OpenAI backend against a real OpenAI-compatible server on 127.0.0.1.

The server is PyPI's faster-whisper-server running the bundled model. It checks no keys and
never fails on purpose, so a small proxy in front of it does what OpenAI's edge would: refuse
a wrong key (401) and answer 503 once. The transcription itself is always the real server's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import SECOND_TEXT
from earwig.errors import BackendError
from earwig.speech import SAMPLE_TEXT
from earwig.transcribe import audio
from earwig.transcribe.base import SAMPLE_RATE, TranscribeOptions
from earwig.transcribe.openai_api import OpenAIBackend, split_points
from helpers import wer
from speechserver import Proxy, SpeechServer

KEY_ENV = "EARWIG_TEST_API_KEY"
RIGHT_KEY = "sk-test-right-key-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with SpeechServer(tmp_path_factory.mktemp("fws") / "server.log") as running:
        yield running.base


def test_transcribes_through_the_server_with_segments(server: str, speech_wav: Path) -> None:
    backend = OpenAIBackend("whisper-1", server + "/v1", KEY_ENV)
    progress: list[float] = []
    result = backend.transcribe(
        audio.decode(speech_wav), TranscribeOptions(), progress.append, lambda: False
    )
    assert wer(SAMPLE_TEXT, result.text) < 0.35, result.text
    assert result.backend == "openai" and result.language == "en"
    assert len(result.segments) >= 2 and progress[-1] == 1.0


def test_long_audio_is_sent_in_chunks_and_timestamps_stay_right(
    server: str, long_wav: Path
) -> None:
    samples = audio.decode(long_wav)
    cuts = split_points(samples, 20.0)
    assert len(cuts) >= 4 and cuts[0] == 0 and cuts[-1] == len(samples)
    frame = SAMPLE_RATE // 10
    loud = np.sqrt(np.mean(np.square(samples)))
    for cut in cuts[1:-1]:  # each cut lands in a quiet moment, not mid-word
        around = samples[cut - frame // 2 : cut + frame // 2]
        assert np.sqrt(np.mean(np.square(around))) < loud / 4
    proxy = Proxy(server)
    try:
        backend = OpenAIBackend("whisper-1", proxy.url, KEY_ENV, chunk_seconds=20.0)
        result = backend.transcribe(samples, TranscribeOptions(), lambda _: None, lambda: False)
    finally:
        proxy.close()
    assert proxy.posts == len(cuts) - 1
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and starts[-1] > 40  # offsets carried across chunks
    script = " ".join([SAMPLE_TEXT, SECOND_TEXT] * 4)
    assert wer(script, result.text) < 0.35, result.text


def test_a_503_is_retried(server: str, speech_wav: Path) -> None:
    proxy = Proxy(server, fail_first=1)
    try:
        backend = OpenAIBackend("whisper-1", proxy.url, KEY_ENV)
        options = TranscribeOptions(word_timestamps=True, initial_prompt="budget")
        result = backend.transcribe(audio.decode(speech_wav), options, print, lambda: False)
    finally:
        proxy.close()
    assert proxy.posts == 2 and "weekly meeting" in result.text.lower()
    # the options reach the server by the API's names (this server ignores word granularity)
    assert b'name="timestamp_granularities[]"' in proxy.bodies[-1]
    assert b'name="prompt"\r\n\r\nbudget' in proxy.bodies[-1]


def test_a_wrong_key_fails_at_once_and_never_shows_the_key(
    server: str, speech_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-that-must-not-leak")
    proxy = Proxy(server, key=RIGHT_KEY)
    try:
        backend = OpenAIBackend("whisper-1", proxy.url, KEY_ENV)
        with pytest.raises(BackendError) as info:
            backend.transcribe(
                audio.decode(speech_wav), TranscribeOptions(), lambda _: None, lambda: False
            )
        assert proxy.posts == 1  # a 401 is not retried
        assert "401" in info.value.message and KEY_ENV in info.value.hint
        assert "sk-wrong-key" not in info.value.message + info.value.hint

        monkeypatch.setenv(KEY_ENV, RIGHT_KEY)
        ok = OpenAIBackend("whisper-1", proxy.url, KEY_ENV).transcribe(
            audio.decode(speech_wav), TranscribeOptions(), lambda _: None, lambda: False
        )
        assert "weekly meeting" in ok.text.lower()
    finally:
        proxy.close()


def test_no_key_and_no_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    backend = OpenAIBackend("whisper-1", None, KEY_ENV)
    with pytest.raises(BackendError, match=KEY_ENV):
        backend.load()
