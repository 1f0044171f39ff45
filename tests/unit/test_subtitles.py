"""Subtitles beside the media: the names media servers read, and what counts as subtitled
(files beside a real video made with PyAV, and a real embedded stream muxed by FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_video
from earwig import subtitles
from earwig.model import Segment, Transcript


@pytest.mark.parametrize(
    ("tag", "code"),
    [("en", "en"), ("eng", "en"), ("en-US", "en"), ("pt_BR", "pt"), ("ger", "de"),
     ("und", None), ("forced", None), ("", None), ("klingon", None)],
)  # fmt: skip
def test_language_tags_become_two_letter_codes(tag: str, code: str | None) -> None:
    assert subtitles.code(tag) == code


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory, second_wav: Path) -> Path:
    return make_video(second_wav, tmp_path_factory.mktemp("v") / "clip.mkv")


def test_what_counts_as_subtitled(tmp_path: Path, video: Path) -> None:
    movie = tmp_path / "Movie (2019).mkv"
    movie.write_bytes(video.read_bytes())
    assert subtitles.already_subtitled(movie, None) is None
    # a forced-only subtitle is not a full one; another film's subtitle is not this one's
    (tmp_path / "Movie (2019).en.forced.srt").write_text("x")
    (tmp_path / "Movie (2019) - Extras.en.srt").write_text("x")
    assert subtitles.already_subtitled(movie, None) is None
    # a subtitle in another language counts only while the language is unknown
    (tmp_path / "Movie (2019).fr.srt").write_text("x")
    assert subtitles.already_subtitled(movie, "en") is None
    assert "fr" in (subtitles.already_subtitled(movie, None) or "")
    (tmp_path / "Movie (2019).eng.sdh.srt").write_text("x")
    assert "en" in (subtitles.already_subtitled(movie, "en") or "")


def test_an_embedded_stream_counts_and_its_language_is_read(
    tmp_path: Path, second_wav: Path
) -> None:
    tagged = make_video(second_wav, tmp_path / "tagged.mkv", subtitle_language="ger")
    assert subtitles.embedded(tagged) == (["de"], None)
    assert subtitles.already_subtitled(tagged, "en") is None  # German subtitles, English audio
    assert "embedded" in (subtitles.already_subtitled(tagged, "de") or "")


def test_earwig_never_replaces_a_subtitle_it_did_not_write(tmp_path: Path, video: Path) -> None:
    movie = tmp_path / "Film.mkv"
    movie.write_bytes(video.read_bytes())
    t = Transcript((Segment(0.0, 1.0, "Hello."),), "en", 1.0, "faster-whisper", "tiny.en")
    first = subtitles.write_beside(t, movie, ("srt", "vtt"), owned=())
    assert [p.name for p in first] == ["Film.en.srt", "Film.en.vtt"]
    again = subtitles.write_beside(t, movie, ("srt",), owned=[str(first[0])])
    assert again == [first[0]]  # its own file is replaced
    theirs = subtitles.write_beside(t, movie, ("srt",), owned=())
    assert [p.name for p in theirs] == ["Film.earwig.en.srt"]
