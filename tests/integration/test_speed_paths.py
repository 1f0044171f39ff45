"""The fast paths keep every promise of the slow one: batched inference, windows, devices,
preloading. Real model (the bundled tiny.en), real generated speech, a real daemon."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol as p
from earwig.errors import Aborted
from earwig.speech import SAMPLE_TEXT
from earwig.transcribe import audio, pipeline
from earwig.transcribe.base import TranscribeOptions
from earwig.transcribe.faster_whisper import FasterWhisperBackend
from helpers import run_cli, wait_for, wer

OPTIONS = TranscribeOptions(language="en")


@pytest.fixture(scope="module")
def batched() -> FasterWhisperBackend:
    return FasterWhisperBackend("bundled", threads=2, batched=True)


@pytest.fixture(scope="module")
def sequential() -> FasterWhisperBackend:
    return FasterWhisperBackend("bundled", threads=2, batched=False)


def test_batched_and_sequential_hear_the_same_words(
    batched: FasterWhisperBackend, sequential: FasterWhisperBackend, long_wav: Path
) -> None:
    samples = audio.decode(long_wav)
    fast = batched.transcribe(samples, OPTIONS, lambda f: None, lambda: False)
    slow = sequential.transcribe(samples, OPTIONS, lambda f: None, lambda: False)
    assert wer(slow.text, fast.text) <= 0.02, (slow.text, fast.text)
    starts = [s.start for s in fast.segments]
    assert starts == sorted(starts) and fast.segments[-1].end <= fast.duration + 0.01
    assert fast.speech is not None and 0 < fast.speech <= fast.duration + 0.01  # VAD ran


def test_windows_join_into_one_clock_and_progress_only_moves_forward(
    batched: FasterWhisperBackend, long_wav: Path
) -> None:
    """Twenty-second windows over a minute of speech: what a four-hour file does at ten."""
    progress: list[float] = []
    whole = batched.transcribe(audio.decode(long_wav), OPTIONS, lambda f: None, lambda: False)
    cut = pipeline.transcribe_file(
        batched, long_wav, OPTIONS, progress.append, lambda: False, window=20.0
    )
    assert wer(whole.text, cut.text) <= 0.05, (whole.text, cut.text)
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) > 3
    starts = [s.start for s in cut.segments]
    assert starts == sorted(starts)
    assert abs(cut.duration - whole.duration) < 0.05 and cut.segments[-1].end > 40


def test_cancel_stops_a_batched_job_part_way(batched: FasterWhisperBackend, long_wav: Path) -> None:
    progress: list[float] = []
    with pytest.raises(Aborted):
        pipeline.transcribe_file(
            batched, long_wav, OPTIONS, progress.append, lambda: bool(progress), window=20.0
        )
    assert max(progress) < 0.9  # stopped early, not after the whole minute


def test_a_gpu_that_is_not_there_falls_back_to_the_cpu(speech_wav: Path, caplog) -> None:
    """Here there is no GPU: a clear warning and a CPU transcript. Where CTranslate2 sees
    one, the same request must run on it."""
    import ctranslate2

    backend = FasterWhisperBackend("bundled", threads=2, device="cuda")
    with caplog.at_level("WARNING", logger="earwig.backend"):
        t = backend.transcribe(audio.decode(speech_wav), OPTIONS, lambda f: None, lambda: False)
    assert wer(SAMPLE_TEXT, t.text) < 0.35
    if ctranslate2.get_cuda_device_count() == 0:
        assert backend.device == "cpu" and backend.compute_type == "int8"
        assert "sees no usable GPU" in caplog.text and "earwig[cuda]" in caplog.text
    else:
        assert backend.device == "cuda" and backend.compute_type == "float16"


def test_the_daemon_is_ready_before_its_model_and_loads_it_once(
    home: Home, speech_wav: Path, second_wav: Path
) -> None:
    home.write_config(transcribe='batched = true\nlanguage = "en"')
    daemon = home.daemon().start()
    try:
        wait_for(lambda: daemon.call(p.GetStatus())["backend"]["loaded"], 60, what="the preload")
        shutil.copy(speech_wav, home.watch / "one.wav")
        shutil.copy(second_wav, home.watch / "two.wav")
        jobs = daemon.wait_idle(2)
        shown = run_cli(home.config, "status").stdout
    finally:
        daemon.kill()
    log = daemon.log()
    assert log.index(" ready (pid") < log.index("faster-whisper loaded")  # ready first
    assert log.count("faster-whisper loaded") == 1  # preloaded, and not again for a job
    assert all(j["state"] == "done" for j in jobs)
    assert "· cpu ·" in shown


def test_pausing_a_batched_job_stops_it(home: Home, long_wav: Path) -> None:
    home.write_config(transcribe="batched = true")
    daemon = home.daemon().start()
    try:
        shutil.copy(long_wav, home.watch / "long.wav")
        job = daemon.wait_job(lambda j: j["state"] == "transcribing", 60)
        assert run_cli(home.config, "pause", str(job["id"])).returncode == 0
        paused = daemon.wait_job(lambda j: j["state"] == "paused", 60)
    finally:
        daemon.kill()
    assert not (home.out / "long.txt").exists() and paused["id"] == job["id"]
