"""Who may read what earwig writes: outputs follow the umask (or `[output] mode`), secrets
stay 0600 whatever the umask. Fast and in-process; tests/integration/test_two_users.py does
the same with two real users and a real daemon."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from earwig import config, config_edit, outputs, subtitles
from earwig.errors import ConfigError
from earwig.model import Segment, Transcript


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test (and put the old one back)."""
    old = os.umask(0o022)

    def set_umask(value: int) -> None:
        os.umask(value)

    try:
        yield set_umask
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


TRANSCRIPT = Transcript(
    segments=(Segment(0.0, 1.5, "Hello there."),),
    language="en",
    duration=1.5,
    backend="test",
    model="test",
)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(umask, tmp_path: Path, mask: int, expected: int) -> None:
    umask(mask)
    written = outputs.write_all(TRANSCRIPT, tmp_path, "talk", ("txt", "srt", "json"))
    assert [mode(p) for p in written] == [expected] * 3
    film = tmp_path / "Film.mkv"
    film.write_bytes(b"")
    (srt,) = subtitles.write_beside(TRANSCRIPT, film, ("srt",), ())
    assert srt.name == "Film.en.srt" and mode(srt) == expected


def test_output_mode_overrides_the_umask(umask, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    umask(0o077)  # the narrowest a service might run with
    (txt,) = outputs.write_all(TRANSCRIPT, tmp_path, "talk", ("txt",), mode=0o644)
    assert mode(txt) == 0o644
    umask(0o000)  # the widest: the mode is still exactly what was asked
    (txt,) = outputs.write_all(TRANSCRIPT, tmp_path, "talk", ("txt",), mode=0o640)
    assert mode(txt) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["talk.txt"]  # no temporary file left


def test_the_config_stays_private_whatever_the_umask(umask, tmp_path: Path) -> None:
    umask(0o000)
    path = tmp_path / "config.toml"
    config_edit.add_subscription(path, {"name": "news", "url": "https://example.org/feed.xml"})
    assert mode(path) == 0o600
    outputs.write_atomic(tmp_path / "other.toml", "", outputs.PRIVATE)
    assert mode(tmp_path / "other.toml") == 0o600


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    (tmp_path / "a.txt").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OSError):
        outputs.write_atomic(tmp_path / "a.txt", "text")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.parametrize(
    ("value", "expected"), [("0644", 0o644), ("640", 0o640), (0o600, 0o600), (" 0664 ", 0o664)]
)
def test_output_mode_in_the_config(tmp_path: Path, value: object, expected: int) -> None:
    assert config.parse({"output": {"mode": value}}, tmp_path / "c.toml").output.mode == expected


@pytest.mark.parametrize("value", ["0400", "rw-r--r--", 644, "0o644", True, "1644"])
def test_a_wrong_output_mode_is_refused_plainly(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse({"output": {"mode": value}}, tmp_path / "c.toml")
    assert "[output] mode" in caught.value.message
    assert "octal" in (caught.value.hint or "")


def test_no_mode_means_the_umask(tmp_path: Path) -> None:
    assert config.parse({}, tmp_path / "c.toml").output.mode is None


def test_the_daemon_writes_with_output_mode(umask, tmp_path: Path) -> None:
    """The daemon's one way out (daemon/delivery.py) carries [output] mode to both kinds of
    output: transcripts in a folder and subtitles beside a film."""
    from earwig.daemon import delivery
    from earwig.model import Job

    umask(0o077)
    output = config.OutputConfig(dir=tmp_path / "out", formats=("txt",), mode=0o644)
    job = Job(id=1, source="watch", title="talk.wav", path=str(tmp_path / "talk.wav"))
    job = dataclasses.replace(job, output_base="talk")  # named already: no store asked
    plan = delivery.plan(job, None, output)  # type: ignore[arg-type]
    (txt,) = delivery.write(plan, TRANSCRIPT)
    film = dataclasses.replace(job, path=str(tmp_path / "Film.mkv"), beside=("srt",))
    (srt,) = delivery.write(delivery.plan(film, None, output), TRANSCRIPT)  # type: ignore[arg-type]
    assert (txt.name, mode(txt), srt.name, mode(srt)) == ("talk.txt", 0o644, "Film.en.srt", 0o644)
