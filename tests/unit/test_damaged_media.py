"""Nothing silently wrong: a file cut short or damaged in the middle is still transcribed as far
as it goes, and says where it went wrong (real files: eSpeak speech, encoded with PyAV, then
cut or overwritten)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import encode
from earwig.formatting import clock
from earwig.transcribe import audio


@pytest.fixture(scope="module")
def mp3(long_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode(long_wav, tmp_path_factory.mktemp("damaged") / "long.mp3", "mp3")


def read(path: Path) -> tuple[float, list[str]]:
    notes: list[str] = []
    samples = sum(len(w.samples) for w in audio.windows(path, notes=notes))
    return samples / 16000, notes


def test_a_whole_file_has_no_notes(mp3: Path, long_wav: Path) -> None:
    assert read(mp3)[1] == [] and read(long_wav)[1] == []


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_a_cut_file_says_where_its_audio_ends(
    kind: str, mp3: Path, long_wav: Path, tmp_path: Path
) -> None:
    whole = (mp3 if kind == "mp3" else long_wav).read_bytes()
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(whole[: len(whole) // 2])
    seconds, notes = read(cut)
    full, _ = read(mp3 if kind == "mp3" else long_wav)
    (note,) = notes
    assert f"the audio ends at {clock(seconds)}" in note, note
    assert f"lasts {clock(full)}" in note and "truncated" in note


def test_a_damaged_middle_is_named(mp3: Path, tmp_path: Path) -> None:
    data = bytearray(mp3.read_bytes())
    third = len(data) // 3
    data[third : third + 20000] = b"\xff\x00" * 10000
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(bytes(data))
    _, notes = read(damaged)
    full, _ = read(mp3)
    (note,) = notes
    assert "could not be decoded at 00:" in note and "gap" in note, note
    at = note.split(" at ")[1].split(",")[0].split(":")
    assert abs(int(at[0]) * 60 + int(at[1]) - full / 3) < 3, (note, full)
