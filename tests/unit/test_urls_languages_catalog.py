"""The small pure modules: URLs, Whisper's languages, the model catalog, transcript review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from earwig import languages, urls
from earwig.model import Segment, Transcript
from earwig.transcribe import catalog, quality


@pytest.mark.parametrize(
    "text",
    ["http://[::1", "http://host:99999/x", "ftp://host/x", "http://", "https:// a.b/", "", "x"],
)
def test_broken_urls_are_refused_not_raised(text: str) -> None:
    assert urls.is_url(text) is False


def test_good_urls() -> None:
    assert urls.is_url("https://example.org/feed.xml")
    assert urls.is_url("http://[::1]:8080/a.mp3")


@pytest.mark.parametrize(
    "url", ["http://127.1/a", "http://2130706433/a", "http://localhost:80/a", "http://127.0.0.1/"]
)
def test_one_spelling_per_host(url: str) -> None:
    assert urls.host(url) == "127.0.0.1"


def test_credentials_are_taken_out_of_urls() -> None:
    assert urls.without_credentials("http://bob:s3cret@box:8000/v1") == "http://box:8000/v1"
    assert urls.without_credentials("http://box/v1") == "http://box/v1"


def test_language_names_get_a_hint_with_the_code() -> None:
    assert languages.check_language("de") == "de"
    assert languages.check_language("auto") is None
    with pytest.raises(ValueError, match='write "de"'):
        languages.check_language("german")
    with pytest.raises(ValueError, match='write "fr"'):
        languages.check_language("FR")
    with pytest.raises(ValueError, match="language codes"):
        languages.check_language("xx")


def test_our_tables_are_faster_whispers() -> None:
    """Names and codes mean the same in earwig and in faster-whisper (kept here without
    importing it, so the config and `earwig models` stay light)."""
    code = (
        "import faster_whisper, faster_whisper.tokenizer as t;"
        "print(repr((faster_whisper.available_models(), t._LANGUAGE_CODES)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, codes = eval(out.stdout)
    assert list(catalog.CATALOG) == list(names)
    assert set(languages.LANGUAGES) == set(codes)
    from faster_whisper.utils import _MODELS

    assert {n: e.repo for n, e in catalog.CATALOG.items()} == _MODELS


def test_the_cache_is_found_where_huggingface_hub_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = "from huggingface_hub import constants; print(constants.HF_HUB_CACHE)"

    def theirs() -> Path:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        return Path(out.stdout.strip())

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert catalog.hub_cache() == theirs() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    assert catalog.hub_cache() == theirs()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "direct"))
    assert catalog.hub_cache() == theirs()


def test_a_half_downloaded_snapshot_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snap = tmp_path / "models--Systran--faster-whisper-base" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (snap / name).write_text("{}")
    assert catalog.cached(catalog.CATALOG["base"]) is None  # model.bin never arrived
    (snap / "model.bin").write_bytes(b"x")
    assert catalog.cached(catalog.CATALOG["base"]) == snap
    assert catalog.cached(catalog.CATALOG["large-v3"]) is None
    assert catalog.cached(catalog.CATALOG["distil-large-v3"]) is None  # not mistaken for it


def _t(segments: list[Segment], speech: float | None, **kw: Any) -> Transcript:
    return Transcript(tuple(segments), "en", 60.0, "faster-whisper", "x", speech=speech, **kw)


def test_review_flags_missing_text_unsure_text_and_loops() -> None:
    few = _t([Segment(0, 5, "the the", avg_logprob=-2.6, compression_ratio=0.5)], speech=30.0)
    (warning,) = quality.review(few, "bundled", english_only=True).warnings
    assert "only 2 words for 30s of speech" in warning and "unsure" in warning
    assert "English-only" in warning and "earwig models pull base" in warning
    loop = _t([Segment(0, 30, "a hunt. " * 20, avg_logprob=-0.5, compression_ratio=5.0)], None)
    (warning,) = quality.review(loop, "base", english_only=False).warnings
    assert "repeats itself" in warning and "English-only" not in warning
    said_thrice = _t(
        [Segment(0, 30, "we meet. " * 3, avg_logprob=-0.15, compression_ratio=3.2)], None
    )
    assert quality.review(said_thrice, "bundled", english_only=True).warnings == ()
    fine = _t(
        [Segment(0, 20, " ".join(["word"] * 60), avg_logprob=-0.3, compression_ratio=1.4)], 20.0
    )
    assert quality.review(fine, "bundled", english_only=True).warnings == ()
    unsure_language = _t(
        [Segment(0, 20, "bonjour " * 50, avg_logprob=-0.3)], 20.0, language_probability=0.3
    )
    (warning,) = quality.review(unsure_language, "base", english_only=False).warnings
    assert "hard to tell" in warning


def test_the_kind_of_a_job_says_where_it_came_from() -> None:
    from earwig import formatting
    from earwig.protocol import JobView

    def view(**fields: str) -> JobView:
        return cast(JobView, fields)  # only the fields kind() reads

    assert formatting.kind(view(source="inbox", title="not a url")) == "url"  # a bad line
    assert formatting.kind(view(source="inbox", url="https://e.org/a.mp3")) == "url"
    assert formatting.kind(view(source="watch", path="/a.wav")) == "file"
    assert formatting.kind(view(source="subscription", subscription="pod")) == "sub"
