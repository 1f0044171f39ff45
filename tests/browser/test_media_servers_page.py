"""The Status view's media servers, in a real Chromium against a real daemon that talks to a
loopback Jellyfin stand-in (tests/media_standins.py): each server with its state, and the
Test button listing its library folders and where each lies here."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from conftest import Home
from media_standins import StandIn

from .conftest import Web, log_in, new_page


def test_status_shows_each_media_server_and_tests_its_folders(
    browser: Any, tmp_path: Path, models_dir: Path, screens: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARWIG_PAGE_JELLYFIN_KEY", "page-key-1")
    jellyfin = StandIn(
        "jellyfin", "page-key-1", {"Movies": ["/data/movies"], "Shows": ["/data/tv"]}
    )
    monkeypatch.setenv("EARWIG_PAGE_EMBY_KEY", "wrong")
    emby = StandIn("emby", "the-emby-key", {})
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    home = Home(tmp_path / "earwig", runtime, models_dir)
    movies = tmp_path / "movies"
    movies.mkdir()
    home.write_config(
        http='listen = "127.0.0.1:0"',
        extra=f"""
[[media_server]]
kind = "jellyfin"
url = "{jellyfin.url}"
token_env = "EARWIG_PAGE_JELLYFIN_KEY"
path_map = {{ "/data/movies" = "{movies}" }}

[[media_server]]
kind = "emby"
url = "{emby.url}"
token_env = "EARWIG_PAGE_EMBY_KEY"
""",
    )
    daemon = home.daemon().start()
    page = new_page(browser)
    try:
        web = Web(daemon, home)
        log_in(page, web)
        page.goto(web.url + "/#status")
        card = page.locator("#media-card")
        card.filter(has_text="Jellyfin 10.11.0").wait_for(timeout=60_000)
        card.filter(has_text="Emby refused earwig's key (401)").wait_for(timeout=60_000)
        assert "refused" in card.locator(".media-server").nth(1).locator(".badge").inner_text()
        card.get_by_role("button", name="Test").click()
        card.filter(has_text=f"Movies: /data/movies → {movies}").wait_for(timeout=60_000)
        assert "Shows: /data/tv → /data/tv (earwig cannot read it)" in card.inner_text()
        page.screenshot(path=str(screens / "status-media-servers-desktop-light.png"))
        assert "page-key-1" not in page.content()
        assert not page.errors
    finally:
        page.context.close()
        daemon.stop()
        jellyfin.stop()
        emby.stop()
        shutil.rmtree(runtime, ignore_errors=True)
