"""Backends through the real daemon and CLI: whisper.cpp pinned, fallback, `earwig transcribe`,
`earwig backends` and `earwig models`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol as p
from earwig.speech import SAMPLE_TEXT
from earwig.transcribe.models import bundled_ctranslate2_dir
from helpers import run_cli, wer


def test_the_daemon_runs_whisper_cpp_when_pinned(home: Home, speech_wav: Path) -> None:
    home.write_config(transcribe='backend = "whisper.cpp"')
    daemon = home.daemon().start()
    try:
        assert daemon.call(p.GetStatus())["backend"]["name"] == "whisper.cpp"
        shutil.copy(speech_wav, home.watch / "meeting.wav")
        (job,) = daemon.wait_idle(1)
    finally:
        daemon.kill()
    assert job["state"] == "done", job
    assert job["backend"] == "whisper.cpp" and "ggml" in (job["model"] or "")
    assert wer(SAMPLE_TEXT, (home.out / "meeting.txt").read_text()) < 0.35
    assert (home.models / "ggml-tiny.en-bundled.bin").is_file()


def test_a_backend_failure_hands_the_job_to_the_next(
    home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    # A model directory faster-whisper loads but whisper.cpp cannot be given: one token of its
    # vocabulary is not GPT-2 byte-level text, so the ggml conversion fails.
    model = tmp_path / "odd-model"
    model.mkdir()
    source = bundled_ctranslate2_dir()
    assert source is not None
    for f in source.iterdir():
        if f.name != "vocabulary.txt":
            (model / f.name).symlink_to(f)
    tokens = (source / "vocabulary.txt").read_text().split("\n")
    tokens[0] = "€" + tokens[0]
    (model / "vocabulary.txt").write_text("\n".join(tokens))
    home.write_config(transcribe=f'backend = "whisper.cpp"\nmodel = "{model}"')
    daemon = home.daemon().start()
    try:
        shutil.copy(speech_wav, home.watch / "meeting.wav")
        (job,) = daemon.wait_idle(1)
        logs = run_cli(home.config, "logs", "-n", "50").stdout
    finally:
        daemon.kill()
    assert job["state"] == "done" and job["backend"] == "faster-whisper", job
    assert "whisper.cpp failed on meeting.wav" in logs and "trying faster-whisper" in logs
    assert "byte-level" in logs  # the reason, not just the fact
    assert json.loads((home.out / "meeting.json").read_text())["backend"] == "faster-whisper"


def test_corrupt_media_does_not_fall_back(home: Home, tmp_path: Path) -> None:
    home.write_config(transcribe='backend = "whisper.cpp"')
    daemon = home.daemon().start()
    try:
        (home.watch / "broken.mp3").write_bytes(b"ID3" + bytes(range(256)) * 40)
        (job,) = daemon.wait_idle(1)
        logs = run_cli(home.config, "logs", "-n", "50").stdout
    finally:
        daemon.kill()
    assert job["state"] == "failed" and "broken.mp3" in (job["error"] or "")
    assert "trying" not in logs


def test_transcribe_without_the_daemon(home: Home, speech_wav: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio at all\n" * 100)
    out_dir = tmp_path / "out"
    result = run_cli(
        home.config,
        "transcribe",
        str(speech_wav),
        str(notes),
        "--backend",
        "whisper.cpp",
        "--format",
        "json",
        "--format",
        "srt",
        "--output-dir",
        str(out_dir),
        timeout=300,  # two transcriptions on a loaded machine
    )
    assert result.returncode == 1  # one of the two failed
    (error,) = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert error.count("notes.wav") == 1, error  # not "error: notes.wav: cannot read notes.wav"
    assert "playable" in result.stdout + result.stderr  # the hint, not a traceback
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["meeting.json", "meeting.srt"]
    doc = json.loads((out_dir / "meeting.json").read_text())
    assert doc["backend"] == "whisper.cpp"
    assert wer(SAMPLE_TEXT, " ".join(s["text"] for s in doc["segments"])) < 0.35

    ok = run_cli(
        home.config, "transcribe", str(speech_wav), "--output-dir", str(out_dir), timeout=300
    )
    assert ok.returncode == 0, ok.stderr
    bad = run_cli(home.config, "transcribe", str(speech_wav), "--backend", "gpu-magic")
    assert bad.returncode == 2 and "gpu-magic" in bad.stderr


def test_backends_and_models_listings(home: Home, tmp_path: Path) -> None:
    out = run_cli(home.config, "backends", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["chain"] == ["faster-whisper", "whisper.cpp"]
    rows = {r["name"]: r for r in info["backends"]}
    assert rows["faster-whisper"]["role"] == "used" and rows["whisper.cpp"]["role"] == "fallback"
    assert not rows["openai"]["usable"] and "api_base_url" in rows["openai"]["detail"]

    target = tmp_path / "tiny.bin"
    conv = run_cli(home.config, "models", "convert", "--output", str(target))
    assert conv.returncode == 0 and target.stat().st_size > 70_000_000, conv.stderr
    listing = json.loads(run_cli(home.config, "models", "--json").stdout)
    names = {m["name"]: m for m in listing["installed"]}
    assert names["bundled"]["size"] > 70_000_000 and "CTranslate2" in names["bundled"]["format"]
    assert names["bundled"]["languages"] == "English only"
    assert {"base", "small", "turbo", "large-v3"} <= {m["name"] for m in listing["available"]}


def test_bench_measures_each_backend_and_pins_the_fastest(home: Home) -> None:
    out = run_cli(home.config, "backends", "--bench", "--pin", "--json", timeout=300)  # two
    # backends loaded and timed on a loaded machine: the deadline is generous, never a timing
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout.splitlines()[0])["backends"]}
    timed = {n: r["bench"] for n, r in rows.items() if "bench" in r}
    assert set(timed) == {"faster-whisper", "whisper.cpp"}
    for b in timed.values():
        assert b["rtf"] > 0 and b["peak_rss"] > 50_000_000 and "weekly meeting" in b["text"].lower()
    fastest = min(timed, key=lambda n: timed[n]["rtf"])
    assert f'backend = "{fastest}"' in home.config.read_text()
    assert "models_dir" in home.config.read_text()  # the rest of the file is kept


def test_a_damaged_model_fails_the_job_and_the_daemon_stays_up(
    home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "ggml-small.en.bin"
    damaged.write_bytes(b"lmgg" + bytes(4096))  # the magic, then nothing a model needs
    home.write_config(transcribe=f'backend = "whisper.cpp"\nmodel = "{damaged}"')
    daemon = home.daemon().start()
    try:
        shutil.copy(speech_wav, home.watch / "meeting.wav")
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "failed" and str(damaged) in (job["error"] or ""), job
        assert "earwig models convert" in (job["hint"] or "")
        assert daemon.proc is not None and daemon.proc.poll() is None  # still running
        assert daemon.call(p.GetStatus())["backend"]["name"] == "whisper.cpp"
    finally:
        daemon.kill()


def test_backends_table_shows_brackets_as_written(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hints such as pip install 'earwig[openai]' and paths with brackets are text, not markup."""
    monkeypatch.setenv("COLUMNS", "400")  # one line per row, so the text can be matched
    home.write_config(transcribe='model = "/no/such/model[bold]x"')
    out = run_cli(home.config, "backends")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if "│ faster-whisper" in line]
    assert rows and "model[bold]x" in rows[0], out.stdout
    assert "/no/such/model[bold]x" in out.stdout.splitlines()[0]  # the title
