"""whisper.cpp on a model converted from the bundled one, backend selection, and fallback."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from earwig import outputs
from earwig.config import TranscribeConfig
from earwig.errors import Aborted, BackendError
from earwig.speech import SAMPLE_TEXT
from earwig.transcribe import audio, catalog, ggml, models, registry
from earwig.transcribe.base import TranscribeOptions
from earwig.transcribe.faster_whisper import FasterWhisperBackend
from earwig.transcribe.whisper_cpp import WhisperCppBackend
from helpers import wer


@pytest.fixture(scope="module")
def cpp(models_dir: Path) -> WhisperCppBackend:
    return WhisperCppBackend("bundled", models_dir, threads=2)


def test_mel_filterbank_is_whispers() -> None:
    filters = ggml.mel_filters(80)
    assert filters.shape == (80, 201)
    # librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, :3], the values Whisper ships
    assert np.allclose(filters[0, :3], [0.0, 0.02486259, 0.0], atol=1e-7)
    assert (filters >= 0).all() and (filters.sum(axis=1) > 0).all()


def test_converted_file_has_tiny_en_hyperparameters(models_dir: Path) -> None:
    path, name = models.resolve_ggml("bundled", models_dir)
    assert "ggml" in name
    with path.open("rb") as f:
        magic, *hparams = struct.unpack("<12i", f.read(48))
    assert magic == ggml.GGML_MAGIC
    # n_vocab, audio ctx/state/head/layer, text ctx/state/head/layer, n_mels, f16
    assert hparams == [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1]


def test_conversion_is_cached_and_redone_when_the_source_changes(tmp_path: Path) -> None:
    first, _ = models.resolve_ggml("bundled", tmp_path)
    written = first.stat().st_mtime_ns
    again, _ = models.resolve_ggml("bundled", tmp_path)
    assert again == first and again.stat().st_mtime_ns == written  # not converted twice
    stamp = first.with_name(first.name + ".json")
    stamp.write_text(json.dumps({"source": "elsewhere"}))
    models.resolve_ggml("bundled", tmp_path)
    assert first.stat().st_mtime_ns != written


def test_a_model_name_that_is_not_here_says_how_to_pull_it(tmp_path: Path) -> None:
    for resolve in (lambda m: models.resolve_ggml(m, tmp_path), models.resolve_ctranslate2):
        with pytest.raises(models.ModelMissing) as info:
            resolve("large-v3")
        assert info.value.entry.repo == "Systran/faster-whisper-large-v3"
        assert "`earwig models pull large-v3`" in info.value.hint


def test_an_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(BackendError) as info:
        models.resolve_ctranslate2("large-v9")
    assert "unknown model 'large-v9'" in info.value.message
    hint = info.value.hint
    assert hint.startswith("did you mean 'large-v3'? models by name: "), hint  # the closest
    listed = hint.split("models by name: ", 1)[1].split(";", 1)[0].split(", ")
    assert listed == list(catalog.CATALOG), listed
    with pytest.raises(BackendError) as info:
        models.resolve_ctranslate2("qqqq")  # nothing like it: no guess, still the list
    assert info.value.hint.startswith("models by name: tiny.en, "), info.value.hint


def test_a_non_whisper_directory_cannot_be_converted(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(struct.pack("<I", 6) + b"\x05\x00Spec\x00" + b"\0" * 8)
    (tmp_path / "vocabulary.txt").write_text("a\n")
    with pytest.raises(BackendError, match="not a Whisper model"):
        ggml.convert(tmp_path, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


def test_whisper_cpp_transcribes_real_speech(cpp: WhisperCppBackend, speech_wav: Path) -> None:
    progress: list[float] = []
    result = cpp.transcribe(
        audio.decode(speech_wav), TranscribeOptions(), progress.append, lambda: False
    )
    assert wer(SAMPLE_TEXT, result.text) < 0.35, result.text
    assert result.backend == "whisper.cpp" and result.language == "en"
    assert progress == sorted(progress) and progress[-1] == 1.0
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= result.duration + 0.01


def test_both_backends_write_outputs_of_the_same_shape(
    cpp: WhisperCppBackend, speech_wav: Path, tmp_path: Path
) -> None:
    samples = audio.decode(speech_wav)
    docs = {}
    for backend in (cpp, FasterWhisperBackend("bundled", threads=2)):
        t = backend.transcribe(samples, TranscribeOptions(), lambda _: None, lambda: False)
        out = tmp_path / backend.name
        outputs.write_all(t, out, "talk", ("json", "srt", "vtt"), {"source": "talk.wav"})
        docs[backend.name] = json.loads((out / "talk.json").read_text())
        srt = (out / "talk.srt").read_text()
        cue = r"\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+"
        assert re.fullmatch(rf"({cue}\n\n)*{cue}\n?", srt.strip() + "\n", re.S), srt
        vtt = (out / "talk.vtt").read_text()
        assert vtt.startswith("WEBVTT") and "-->" in vtt
    a, b = docs["whisper.cpp"], docs["faster-whisper"]
    assert set(a) == set(b)
    assert set(a["segments"][0]) == set(b["segments"][0])
    for doc in (a, b):  # real values, both: clear speech is sure, and never a made-up 0.0
        assert all(-1.0 < s["avg_logprob"] < 0.0 for s in doc["segments"]), doc["segments"]
        assert all(s["compression_ratio"] > 0.5 for s in doc["segments"]), doc["segments"]
    assert a["backend"] == "whisper.cpp" and b["backend"] == "faster-whisper"


def test_whisper_cpp_abort(cpp: WhisperCppBackend, long_wav: Path) -> None:
    calls = {"n": 0}

    def should_abort() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # whisper.cpp polls between encoder/decoder steps

    progress: list[float] = []
    with pytest.raises(Aborted):
        cpp.transcribe(audio.decode(long_wav), TranscribeOptions(), progress.append, should_abort)
    assert max(progress, default=0) < 0.9  # stopped early, not after the whole minute


# ---------------------------------------------------------------- selection


def test_auto_prefers_faster_whisper_here_then_whisper_cpp(models_dir: Path) -> None:
    """The order bench/backends.py measured on this kind of machine (see registry.py)."""
    cfg = TranscribeConfig(models_dir=models_dir)
    table = {a.name: a for a in registry.survey(cfg)}
    assert not table["mlx-whisper"].usable and "Apple Silicon" in table["mlx-whisper"].detail
    assert table["whisper.cpp"].usable and table["faster-whisper"].usable
    assert registry.chosen(cfg) == ["faster-whisper", "whisper.cpp"]
    assert registry.chosen(TranscribeConfig(models_dir=models_dir, fallback=False)) == [
        "faster-whisper"
    ]
    pinned = TranscribeConfig(backend="whisper.cpp", models_dir=models_dir)
    assert registry.chosen(pinned) == ["whisper.cpp", "faster-whisper"]


def test_mlx_is_first_on_apple_silicon_with_an_mlx_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apple Silicon and mlx-whisper cannot exist on this Linux machine, so the platform check
    and the package lookup are stood in for; the model directory check is real."""
    monkeypatch.setattr(registry, "apple_silicon", lambda: True)
    real_installed = registry.installed
    monkeypatch.setattr(
        registry, "installed", lambda name: name == "mlx-whisper" or real_installed(name)
    )
    cfg = TranscribeConfig(model=str(tmp_path), models_dir=tmp_path)
    with pytest.raises(BackendError, match="no transcription backend"):
        registry.chosen(cfg)  # an empty directory is no model for anyone
    (tmp_path / "weights.safetensors").write_bytes(b"")
    assert registry.chosen(cfg)[0] == "mlx-whisper"


def test_openai_is_only_used_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    table = {a.name: a for a in registry.survey(TranscribeConfig())}
    assert not table["openai"].usable and "api_base_url" in table["openai"].detail
    cfg = TranscribeConfig(api_base_url="http://127.0.0.1:9/v1")
    assert {a.name: a for a in registry.survey(cfg)}["openai"].usable
    assert "openai" not in registry.chosen(cfg)  # auto never sends audio out as a fallback
    with pytest.raises(BackendError, match="cannot run here"):
        registry.chosen(TranscribeConfig(backend="openai"))


def test_a_pinned_backend_that_cannot_run_says_why(tmp_path: Path) -> None:
    cfg = TranscribeConfig(
        backend="whisper.cpp", model="base.en", models_dir=tmp_path, download=False
    )
    with pytest.raises(BackendError) as info:
        registry.create(cfg)
    assert "`earwig models pull base.en`" in info.value.message
    assert "earwig backends" in info.value.hint
    # allowed to download, the same setting is usable: the daemon fetches it on first need
    fetching = TranscribeConfig(backend="whisper.cpp", model="base.en", models_dir=tmp_path)
    assert registry.chosen(fetching)[0] == "whisper.cpp"
    assert registry.missing_model(fetching) == catalog.CATALOG["base.en"]


# ---------------------------------------------------------------- fallback


def test_a_backend_failure_falls_back_to_the_next(speech_wav: Path, tmp_path: Path) -> None:
    # A real whisper.cpp whose model file is gone by the time it loads.
    built: list[str] = []

    def factory(name: str):
        built.append(name)
        if name == "whisper.cpp":
            return WhisperCppBackend(str(tmp_path / "gone.bin"), tmp_path)
        return FasterWhisperBackend("bundled", threads=2)

    chain = registry.FallbackTranscriber(["whisper.cpp", "faster-whisper"], factory)
    seen: list[tuple[str, str, str]] = []
    chain.on_fallback = lambda *a: seen.append(a)
    result = chain.transcribe(
        audio.decode(speech_wav), TranscribeOptions(), lambda _: None, lambda: False
    )
    assert result.backend == "faster-whisper"
    assert seen and seen[0][:2] == ("whisper.cpp", "faster-whisper") and "gone" in seen[0][2]
    assert built == ["whisper.cpp", "faster-whisper"]


def test_an_abort_does_not_fall_back(speech_wav: Path, models_dir: Path) -> None:
    built: list[str] = []

    def factory(name: str):
        built.append(name)
        return WhisperCppBackend("bundled", models_dir, threads=2)

    chain = registry.FallbackTranscriber(["whisper.cpp", "faster-whisper"], factory)
    with pytest.raises(Aborted):
        chain.transcribe(
            audio.decode(speech_wav), TranscribeOptions(), lambda _: None, lambda: True
        )
    assert built == ["whisper.cpp"]


def test_when_every_backend_fails_the_job_says_so(tmp_path: Path) -> None:
    chain = registry.FallbackTranscriber(
        ["whisper.cpp", "whisper.cpp"], lambda _: WhisperCppBackend("nope", tmp_path)
    )
    with pytest.raises(BackendError, match="every backend failed"):
        chain.transcribe(np.zeros(16000, np.float32), TranscribeOptions(), print, lambda: False)


# ---------------------------------------------------------------- word timestamps


@pytest.mark.parametrize("name", ["whisper.cpp", "faster-whisper"])
def test_word_timestamps(name: str, models_dir: Path, speech_wav: Path, tmp_path: Path) -> None:
    backend = registry.build(name, TranscribeConfig(threads=2, models_dir=models_dir))
    t = backend.transcribe(
        audio.decode(speech_wav), TranscribeOptions(word_timestamps=True), print, lambda: False
    )
    for seg in t.segments:
        assert seg.words, seg
        starts = [w.start for w in seg.words]
        assert starts == sorted(starts)
        assert all(seg.start - 0.5 <= w.start <= w.end <= seg.end + 0.5 for w in seg.words)
        joined = "".join(w.text for w in seg.words)
        assert joined.split() == seg.text.split()
    outputs.write_all(t, tmp_path, "talk", ("json",))
    first = json.loads((tmp_path / "talk.json").read_text())["segments"][0]
    assert first["words"][0]["word"] == "Welcome" and 0 < first["words"][0]["probability"] <= 1
    plain = backend.transcribe(
        audio.decode(speech_wav), TranscribeOptions(), lambda _: None, lambda: False
    )
    assert all(not s.words for s in plain.segments)  # only when asked for


def test_api_words_are_attached_to_the_segment_they_start_in() -> None:
    from earwig.model import Segment, Word
    from earwig.transcribe.openai_api import attach_words

    segs = [Segment(0.0, 2.0, " Hello there."), Segment(2.0, 4.0, " Bye now.")]
    words = [Word(0.1, 0.5, "Hello"), Word(0.6, 2.1, "there."), Word(2.2, 3.0, "Bye")]
    words.append(Word(3.1, 4.2, "now."))  # runs past the end: still the last segment's
    out = attach_words(segs, words)
    assert [w.text for w in out[0].words] == ["Hello", "there."]
    assert [w.text for w in out[1].words] == ["Bye", "now."]
    assert attach_words(segs, []) == segs


# ---------------------------------------------------------------- models other tools downloaded


def test_models_other_tools_downloaded_are_found(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Hugging Face cache laid out as faster-whisper leaves it, and pywhispercpp's own models
    dir, both holding real model files (the bundled model, linked in under other names)."""
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    snapshot = hub / "models--Systran--faster-whisper-tiny.en" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    source = models.bundled_ctranslate2_dir()
    assert source is not None
    for f in source.iterdir():
        (snapshot / f.name).symlink_to(f)
    assert models.resolve_ctranslate2("tiny.en") == (snapshot, "tiny.en")
    cfg = TranscribeConfig(model="tiny.en", models_dir=tmp_path / "own")
    table = {a.name: a for a in registry.survey(cfg)}
    assert table["faster-whisper"].usable and "Hugging Face cache" in table["faster-whisper"].detail
    ggml_file, _ = models.resolve_ggml("tiny.en", tmp_path / "own")  # converted from the cache
    assert ggml_file.parent == tmp_path / "own" and ggml_file.stat().st_size > 70_000_000

    theirs = models.pywhispercpp_dir()
    assert str(theirs).startswith(str(Path.home()))  # the test's private HOME
    theirs.mkdir(parents=True)
    (theirs / "ggml-base.en.bin").symlink_to(models.resolve_ggml("bundled", models_dir)[0])
    assert models.resolve_ggml("base.en", tmp_path / "own")[0] == theirs / "ggml-base.en.bin"

    listed = {m["name"]: m for m in models.local_models(tmp_path / "own")}
    assert {"bundled", "tiny.en", "base.en", "tiny.en-converted"} <= set(listed)
    assert listed["tiny.en"]["format"] == "CTranslate2 (Hugging Face cache)"
    assert listed["tiny.en"]["size"] > 70_000_000


def test_a_damaged_ggml_file_is_refused_before_whisper_cpp_sees_it(
    tmp_path: Path, models_dir: Path
) -> None:
    """whisper.cpp "loads" such files and then takes the whole process down on first use."""
    good, _ = models.resolve_ggml("bundled", models_dir)
    ggml.validate(good)
    truncated = tmp_path / "ggml-cut.bin"
    with good.open("rb") as src:
        truncated.write_bytes(src.read(good.stat().st_size - 1000))
    garbage = tmp_path / "ggml-noise.bin"
    garbage.write_bytes(bytes(range(256)) * 100)
    for path, why in ((truncated, "truncated"), (garbage, "does not start like a ggml file")):
        backend = WhisperCppBackend(str(path), tmp_path)
        with pytest.raises(BackendError) as info:
            backend.transcribe(
                np.zeros(16000, np.float32), TranscribeOptions(), print, lambda: False
            )
        assert why in info.value.message and str(path) in info.value.message
        assert not backend.loaded


def test_q8_0_blocks_round_trip_within_half_a_step() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 64)).astype(np.float32)
    x[1] = 0.0  # an all-zero block must not divide by zero
    blocks = np.frombuffer(ggml.quantize_q8_0(x), ggml.Q8_0)
    assert len(blocks) == 8 and ggml.Q8_0.itemsize == 34  # ggml's block_q8_0
    back = (blocks["d"].astype(np.float32)[:, None] * blocks["qs"]).reshape(x.shape)
    step = np.repeat(blocks["d"].astype(np.float32), 32).reshape(x.shape)
    assert np.all(np.abs(back - x) <= step / 2 + 1e-3 * np.abs(x) + 1e-7)
    assert np.abs(blocks["qs"]).max() == 127


def test_a_q8_0_conversion_transcribes_as_well(tmp_path: Path, speech_wav: Path) -> None:
    source = models.bundled_ctranslate2_dir()
    assert source is not None
    target = ggml.convert(source, tmp_path / "ggml-tiny.en-q8_0.bin", "q8_0")
    ggml.validate(target)
    assert target.stat().st_size < 0.6 * 77_704_715  # the float16 file's size
    backend = WhisperCppBackend(str(target), tmp_path, threads=2)
    result = backend.transcribe(
        audio.decode(speech_wav), TranscribeOptions(), lambda _: None, lambda: False
    )
    assert wer(SAMPLE_TEXT, result.text) < 0.35, result.text
