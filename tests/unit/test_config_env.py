"""EARWIG_<SECTION>_<KEY>: a config key from the environment (a container's `-e`), over the
file, checked like the file and named in its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from earwig import config
from earwig.errors import ConfigError


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[http]\nlisten = "127.0.0.1:8327"\ntrust = ["10.1.0.0/16"]\n')
    return path


def test_a_variable_wins_over_the_file(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("EARWIG_HTTP_LISTEN", "0.0.0.0:8327")
    monkeypatch.setenv("EARWIG_HTTP_TRUST", "192.168.1.0/24, 10.0.0.5")
    monkeypatch.setenv("EARWIG_HTTP_HOSTS", '["earwig", "nas.local"]')
    cfg = config.load(config_file)
    assert cfg.http.listen == "0.0.0.0:8327"
    assert cfg.http.trust == ("192.168.1.0/24", "10.0.0.5")
    assert cfg.http.hosts == ("earwig", "nas.local")


def test_the_file_stands_where_no_variable_is_set(config_file: Path) -> None:
    cfg = config.load(config_file)
    assert cfg.http.listen == "127.0.0.1:8327" and cfg.http.trust == ("10.1.0.0/16",)


def test_values_are_read_as_the_key_takes_them(config_file: Path, monkeypatch) -> None:
    for name, value in {
        "EARWIG_TRANSCRIBE_THREADS": "4",
        "EARWIG_TRANSCRIBE_MODEL": "base",
        "EARWIG_TRANSCRIBE_VAD": "true",
        "EARWIG_TRANSCRIBE_SPEAKERS": "2",
        "EARWIG_TRANSCRIBE_BATCHED": "auto",
        "EARWIG_DOWNLOADS_KEEP_MEDIA": "forever",
        "EARWIG_DAEMON_SHUTDOWN_GRACE": "90",
        "EARWIG_DAEMON_RETRY_BACKOFF": "2m",
        "EARWIG_DAEMON_DATABASE": "/data/earwig.db",
        "EARWIG_OUTPUT_FORMATS": "txt,srt",
        "EARWIG_OUTPUT_MODE": "0640",
        "EARWIG_HTTP_KEEP": "false",
    }.items():
        monkeypatch.setenv(name, value)
    cfg = config.load(config_file)
    t = cfg.transcribe
    assert (t.threads, t.model, t.vad, t.speakers, t.batched) == (4, "base", True, 2, "auto")
    assert cfg.downloads.keep_media is None
    assert cfg.daemon.shutdown_grace == 90 and cfg.daemon.retry_backoff == 120
    assert cfg.daemon.database == Path("/data/earwig.db")
    assert cfg.output.formats == ("txt", "srt") and cfg.output.mode == 0o640
    assert cfg.http.keep is False


def test_an_empty_listen_turns_http_off(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("EARWIG_HTTP_LISTEN", "")
    assert config.load(config_file).http.listen == ""


def test_variables_apply_without_a_config_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EARWIG_HTTP_TRUST", "172.16.0.0/12")
    monkeypatch.setenv("EARWIG_DAEMON_SOCKET", str(tmp_path / "run" / "e.sock"))
    cfg = config.load()  # the default path, which does not exist in this home
    assert cfg.path is None and cfg.http.trust == ("172.16.0.0/12",)
    assert cfg.socket_path == tmp_path / "run" / "e.sock"
    # clients find the daemon even when the file is broken
    assert config.socket_path_despite_errors() == tmp_path / "run" / "e.sock"


def test_a_wrong_value_names_the_variable(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("EARWIG_HTTP_TRUST", "everyone")
    with pytest.raises(ConfigError) as caught:
        config.load(config_file)
    assert caught.value.message == "EARWIG_HTTP_TRUST='everyone' is not valid"
    assert "192.168.1.0/24" in caught.value.hint


def test_a_misspelt_key_is_refused_with_the_nearest(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("EARWIG_HTTP_TRSUT", "10.0.0.0/8")
    with pytest.raises(ConfigError) as caught:
        config.load(config_file)
    assert "EARWIG_HTTP_TRSUT" in caught.value.message
    assert caught.value.hint == "did you mean EARWIG_HTTP_TRUST?"


def test_other_earwig_variables_are_left_alone(config_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("EARWIG_JOB_STATE", "done")  # what hooks receive
    monkeypatch.setenv("EARWIG_SOURCE", "/x.wav")
    assert config.load(config_file).http.listen == "127.0.0.1:8327"
