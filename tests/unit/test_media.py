"""Names: media detection and safe file stems that can never be paths."""

from __future__ import annotations

import pytest

from earwig.media import MAX_STEM, MAX_STEM_BYTES, is_media_name, safe_stem


@pytest.mark.parametrize("name", ["a.mp3", "B.WAV", "talk.m4a", "clip.mkv", "x.opus"])
def test_media_names(name: str) -> None:
    assert is_media_name(name)


@pytest.mark.parametrize("name", ["notes.txt", "a.mp3.part", "README", "cover.jpg"])
def test_not_media_names(name: str) -> None:
    assert not is_media_name(name)


@pytest.mark.parametrize(
    "raw",
    ["../../etc/passwd", "/abs/path", "a\\b", "..", ".hidden", "con:tr\x00ol\x1f", "   ", ""],
)
def test_safe_stem_never_yields_a_path(raw: str) -> None:
    stem = safe_stem(raw)
    assert stem and "/" not in stem and "\\" not in stem and "\x00" not in stem
    assert not stem.startswith(".") and stem not in (".", "..")


def test_safe_stem_limits_length_and_keeps_unicode() -> None:
    assert len(safe_stem("e" * 300)) == MAX_STEM
    # and its bytes: 120 characters of 3-byte letters would pass a file name's 255 bytes
    assert len(safe_stem("é" * 300).encode()) <= MAX_STEM_BYTES
    assert len(safe_stem("語" * 300).encode()) <= MAX_STEM_BYTES
    assert safe_stem("Épisode 12: «Über» Grüße") == "Épisode 12 «Über» Grüße"
