"""Config: defaults without a file, every key validated, errors that name file and key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from earwig import config
from earwig.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_no_file_means_defaults(tmp_path: Path) -> None:
    cfg = config.load()
    assert cfg.path is None
    assert cfg.watch[0].path == Path.home() / "Transcribe"
    assert cfg.output.dir == Path.home() / "Transcripts"
    assert cfg.transcribe.backend == "auto" and cfg.transcribe.model == "bundled"
    assert set(cfg.output.formats) == {"txt", "srt", "vtt", "tsv", "json"}


def test_example_config_is_valid_and_complete() -> None:
    """config.example.toml loads as it is, and documents every option there is."""
    example = Path(__file__).parents[2] / "src" / "earwig" / "config.example.toml"
    cfg = config.load(example)
    assert cfg.transcribe == config.TranscribeConfig()
    assert cfg.downloads == config.DownloadsConfig()
    assert cfg.http == config.HttpConfig()
    assert cfg.watch[0].ignore == config.DEFAULT_IGNORE
    text = example.read_text()
    tables = (config.WatchConfig, config.SubscriptionConfig, config.ServerConfig)
    for cls in (*config.SECTIONS.values(), *tables):
        for key in config.schema(cls):
            documented = f"{key} =" in text or f"[[transcribe.{key}]]" in text
            assert documented, f"config.example.toml does not document {key}"


def test_the_top_level_example_is_the_shipped_one() -> None:
    """The project's top level holds config.example.toml, as its layout promises; the one
    that ships (and that `earwig config example` prints) is src/earwig's, this its copy."""
    root = Path(__file__).parents[2]
    shipped = (root / "src" / "earwig" / "config.example.toml").read_text(encoding="utf-8")
    copy = (root / "config.example.toml").read_text(encoding="utf-8")
    assert copy == shipped, "run: cp src/earwig/config.example.toml config.example.toml"


def test_values_are_parsed_and_paths_resolved_against_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[daemon]
database = "db/e.db"
stable_after = "1.5s"
shutdown_grace = "2m"
[transcribe]
language = "de"
beam_size = 2
[output]
dir = "~/out"
formats = ["txt", "json"]
[[watch]]
path = "podcasts"
recursive = false
[[watch]]
path = "/abs/lectures"
output_dir = "lecture-notes"
""",
    )
    cfg = config.load(path)
    assert cfg.daemon.database == tmp_path / "db/e.db"
    assert cfg.daemon.stable_after == 1.5 and cfg.daemon.shutdown_grace == 120
    assert cfg.transcribe.language == "de" and cfg.transcribe.beam_size == 2
    assert cfg.output.dir == Path.home() / "out"
    assert cfg.output.formats == ("txt", "json")
    assert [w.path for w in cfg.watch] == [tmp_path / "podcasts", Path("/abs/lectures")]
    assert cfg.watch[0].recursive is False
    assert cfg.output_dir_for(cfg.watch[1]) == tmp_path / "lecture-notes"
    assert cfg.output_dir_for(cfg.watch[0]) == cfg.output.dir


def test_language_auto_means_detect(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, '[transcribe]\nlanguage = "auto"\n'))
    assert cfg.transcribe.language is None


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[daemon]\nlog_level = "info"\nstable_after = \n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(path) in info.value.message
    assert "line 3" in info.value.message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, "[transcribe]\nbeam = 3\n"))
    assert "'beam'" in info.value.message and "[transcribe]" in info.value.message
    assert "beam_size" in info.value.hint


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'watched'"):
        config.load(write(tmp_path, '[[watched]]\npath = "x"\n'))


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[transcribe]\nbeam_size = "five"\n', "beam_size", "whole number"),
        ('[transcribe]\nbackend = "gpu-magic"\n', "backend", "faster-whisper"),
        ('[output]\nformats = ["txt", "docx"]\n', "formats", "srt"),
        ('[daemon]\nstable_after = "soon"\n', "stable_after", "duration"),
        ("[[watch]]\npath = 'x'\nrecursive = 'yes'\n", "recursive", "true or false"),
        ('[transcribe]\nlanguage = "English"\n', "language", "language code"),
    ],
)
def test_wrong_values_say_what_was_expected(tmp_path: Path, text: str, key: str, expected: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(path) in info.value.message and key in info.value.message
    assert expected in info.value.hint


def test_watch_without_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a path"):
        config.load(write(tmp_path, "[[watch]]\nrecursive = true\n"))


def test_explicit_missing_file_is_an_error(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")
    monkeypatch.setenv("EARWIG_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        config.load()


def test_env_var_selects_the_file(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "[transcribe]\nbeam_size = 1\n")
    monkeypatch.setenv("EARWIG_CONFIG", str(path))
    assert config.load().transcribe.beam_size == 1


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (5, 5.0),
        ("90", 90.0),
        ("2s", 2.0),
        ("10m", 600.0),
        ("6h", 21600.0),
        ("7d", 604800.0),
        ("0.5s", 0.5),
    ],
)
def test_durations(raw, seconds) -> None:
    assert config.parse_duration(raw) == seconds


def test_socket_defaults_to_xdg_runtime_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert config.load().socket_path == tmp_path / "earwig" / "earwig.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    cfg = config.load()
    assert cfg.socket_path == cfg.daemon.state_dir / "run" / "earwig.sock"


def test_subscriptions_and_downloads(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            """
[downloads]
keep_media = "forever"
[[subscription]]
name = "pod"
url = "https://example.org/feed.xml"
cron = "0 7 * * *"
since = 2026-01-31
[[subscription]]
name = "chan"
url = "https://www.youtube.com/@someone/videos"
every = "1h"
kind = "ytdlp"
""",
        )
    )
    assert cfg.downloads.keep_media is None
    pod, chan = cfg.subscriptions
    assert pod.cron == "0 7 * * *" and pod.since is not None and pod.interval == 6 * 3600
    assert chan.interval == 3600 and chan.kind == "ytdlp" and chan.backfill == 3
    assert cfg.inbox_path == cfg.watch[0].path / "inbox.txt"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[subscription]]\nname = "a"\n', "needs a name and a url"),
        ('[[subscription]]\nname = "a"\nurl = "ftp://x"\n', "http"),
        ('[[subscription]]\nname = "a"\nurl = "http://x"\ncron = "every day"\n', "crontab"),
        (
            '[[subscription]]\nname = "a"\nurl = "http://x"\nevery = "1h"\ncron = "0 7 * * *"\n',
            "both",
        ),
        (
            '[[subscription]]\nname = "a"\nurl = "http://x"\n[[subscription]]\nname = "a"\n'
            'url = "http://y"\n',
            "two subscriptions",
        ),
        ('[downloads]\nkeep_media = "sometimes"\n', "forever"),
    ],
)
def test_bad_subscriptions_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, body))
    assert message in str(info.value)


def test_hook_commands_are_argument_lists_never_shell_strings(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            """
[hooks]
on_done = "notify-me --title 'a b' $HOME; rm -rf /"
on_fail = ["/bin/echo", "x y"]
""",
        )
    )
    assert cfg.hooks.on_done == ("notify-me", "--title", "a b", "$HOME;", "rm", "-rf", "/")
    assert cfg.hooks.on_fail == ("/bin/echo", "x y")
    with pytest.raises(ConfigError, match="on_done"):
        config.load(write(tmp_path, "[hooks]\non_done = []\n"))


def test_every_key_is_declared_once_with_its_converter() -> None:
    """The schemas are read from the dataclasses: no key without a converter, none twice."""
    for cls in (*config.SECTIONS.values(), config.WatchConfig, config.SubscriptionConfig):
        names = [f.name for f in dataclasses.fields(cls)]
        assert set(config.schema(cls)) == set(names), cls


def test_a_reload_reports_what_it_applied_and_what_needs_a_restart(tmp_path: Path) -> None:
    from earwig.daemon.app import reload_report

    old = config.load(write(tmp_path, "[downloads]\nconcurrency = 2\n"))
    new = config.parse(
        {
            "downloads": {"concurrency": 4, "timeout": "10s"},
            "transcribe": {"unload_after": "1m", "beam_size": 2},
            "daemon": {"max_attempts": 5},
        },
        tmp_path / "c.toml",
    )
    changed, restart = reload_report(old, new)
    assert set(changed) == {
        "[downloads] timeout",
        "[transcribe] unload_after",
        "[daemon] max_attempts",
    }
    assert set(restart) == {"[downloads] concurrency", "[transcribe] beam_size"}
    assert reload_report(old, old) == ([], [])
