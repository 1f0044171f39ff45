"""A language given by the user or a subscription is a hint: pure parts of transcribe/spoken.py
(pieces into runs) and the subscription key that carries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from earwig import config
from earwig.errors import ConfigError
from earwig.transcribe.spoken import Piece, pieces_of, runs


def test_runs_follow_the_audio_and_a_hint_yields_only_to_clear_evidence() -> None:
    found = [
        Piece(0.0, 10.0, "en", 0.97),
        Piece(10.5, 20.0, "de", 0.98),  # clearly German
        Piece(20.5, 30.0, "nl", 0.6),  # unsure: the hint wins
    ]
    free = runs(found, 31.0)
    assert [(r.language, r.start, r.end) for r in free] == [
        ("en", 0.0, 10.25), ("de", 10.25, 20.25), ("nl", 20.25, 31.0),
    ]  # fmt: skip
    hinted = runs(found, 31.0, hint="en")
    assert [r.language for r in hinted] == ["en", "de", "en"]
    assert hinted[1].overrides == "en" and hinted[2].overrides is None


def test_speech_is_cut_into_pieces_at_pauses() -> None:
    spans = [(0.0, 3.0), (3.5, 6.0), (6.4, 9.0), (9.5, 40.0), (41.0, 42.0)]
    pieces = pieces_of(spans)
    assert pieces[0] == [(0.0, 3.0), (3.5, 6.0), (6.4, 9.0)]  # short stretches joined
    assert all(p[-1][1] - p[0][0] <= 30.0 for p in pieces)  # a long one cut in equal parts
    assert pieces[-1][-1] == (41.0, 42.0)  # a short tail joins the piece before


def test_a_subscription_language_is_checked_like_the_config_one(tmp_path: Path) -> None:
    sub = {"name": "pod", "url": "https://example.org/feed.xml", "language": "de"}
    cfg = config.parse({"subscription": [sub]}, tmp_path / "config.toml")
    assert cfg.subscriptions[0].language == "de"
    with pytest.raises(ConfigError, match='write "de"'):
        config.parse({"subscription": [{**sub, "language": "german"}]}, tmp_path / "c.toml")
