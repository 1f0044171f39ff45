"""Media servers end to end: a real daemon, the bundled model, real video files made with
PyAV, and loopback stand-ins of Jellyfin and Plex written from their documented APIs
(tests/media_standins.py; no real server can run here), which check keys and record every
call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Home, make_video
from helpers import DaemonProcess, run_cli, wait_for
from media_standins import StandIn

KEY = "jf-key-5b7e1c0d9a"


@pytest.fixture
def jellyfin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    monkeypatch.setenv("EARWIG_JELLYFIN_KEY", KEY)
    server = StandIn("jellyfin", KEY, {"Movies": ["/data/media/movies"], "Shows": ["/data/tv"]}, {})
    yield server
    server.stop()


@pytest.fixture
def plex(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    monkeypatch.setenv("EARWIG_PLEX_KEY", "not-the-plex-token")
    server = StandIn("plex", "the-plex-token", {"Films": ["/plex/films"]}, {})
    yield server
    server.stop()


def media_tables(home: Home, jellyfin: StandIn, plex: StandIn | None = None) -> str:
    text = f"""
[[media_server]]
kind = "jellyfin"
url = "{jellyfin.url}"
token_env = "EARWIG_JELLYFIN_KEY"
path_map = {{ "/data/media" = "{home.root / "library"}" }}
refresh_delay = "0.5s"
"""
    if plex is not None:
        text += f"""
[[media_server]]
kind = "plex"
url = "{plex.url}"
token_env = "EARWIG_PLEX_KEY"
path_map = [["/plex/films", "{home.root / "library" / "movies"}"]]
"""
    return text


def test_the_servers_are_checked_shown_in_status_and_their_folders_mapped(
    home: Home, jellyfin: StandIn, plex: StandIn
) -> None:
    (home.root / "library" / "movies").mkdir(parents=True)
    home.write_config(extra=media_tables(home, jellyfin, plex))
    daemon = home.daemon().start()
    try:
        test = run_cli(home.config, "media-servers", "test")
        assert test.returncode == 1, test  # Plex refuses its token
        out = test.stdout
        assert f"jellyfin ({'jellyfin'} {jellyfin.url}): Jellyfin 10.11.0 (jellyfin)" in out
        movies = home.root / "library" / "movies"
        assert f"Movies: /data/media/movies -> {movies} (readable)" in out
        assert "Shows: /data/tv -> not here, and no path_map pair covers it: add one" in out
        assert "Plex refused earwig's key (401): check the key in EARWIG_PLEX_KEY" in out
        assert f"path_map: /plex/films -> {movies} (readable)" in out
        status = run_cli(home.config, "status")
        assert f"media    jellyfin (jellyfin {jellyfin.url}): Jellyfin 10.11.0" in status.stdout
        assert "media    plex" in status.stdout and "refused earwig's key" in status.stdout
        raw = run_cli(home.config, "status", "--json").stdout
        views = {v["name"]: v for v in json.loads(raw)["media_servers"]}
        assert views["jellyfin"]["reachable"] is True and views["jellyfin"]["error"] is None
        assert views["plex"]["reachable"] is True  # it answered, but said no
        assert KEY not in raw and "not-the-plex-token" not in raw
    finally:
        daemon.stop()
    assert KEY not in daemon.log() and "not-the-plex-token" not in daemon.log()
    seen = [r for r in jellyfin.requests if r.path == "/System/Info"]
    assert seen and all(f'Token="{KEY}"' in r.headers["Authorization"] for r in seen)


def test_a_watched_beside_folder_in_a_library_has_its_server_told(
    home: Home, jellyfin: StandIn, speech_wav: Path
) -> None:
    """No webhook at all: a library folder earwig watches with output = "beside" gets
    its subtitles, and the server that holds the folder is asked to look."""
    library = home.root / "library" / "movies" / "Night Train (2019)"
    library.mkdir(parents=True)
    home.write_config(
        extra=f"""
[[watch]]
path = "{home.root / "library"}"
output = "beside"
"""
        + media_tables(home, jellyfin)
    )
    daemon: DaemonProcess = home.daemon().start()
    try:
        film = make_video(speech_wav, library / "Night Train (2019).mkv")
        wait_for(jellyfin.refreshes, 240, what="a refresh")
        subtitle = library / "Night Train (2019).en.srt"
        assert subtitle.exists()
        [call] = jellyfin.refreshes()
        assert (call.method, call.path) == ("POST", "/Library/Media/Updated")
        assert call.json() == {
            "Updates": [
                {
                    "Path": "/data/media/movies/Night Train (2019)/Night Train (2019).mkv",
                    "UpdateType": "Modified",
                }
            ]
        }
        assert f'Token="{KEY}"' in call.headers["Authorization"]
        assert film.exists()
    finally:
        daemon.stop()
