"""Feeds and yt-dlp against a real HTTP server on 127.0.0.1 (nothing else is reachable)."""

from __future__ import annotations

import json

import pytest

from earwig.errors import Aborted, TransientError
from earwig.sources import feeds, ytdlp
from earwig.sources.errors import RateLimited, SourceError
from fake_youtube import FakeYoutubeChannelIE
from httpserver import LocalServer, atom, rss

T0 = 1_700_000_000


@pytest.fixture
def server():
    with LocalServer() as srv:
        yield srv


def episodes(server: LocalServer, n: int, wav: bytes) -> list[dict]:
    out = []
    for i in range(1, n + 1):
        url = server.add(f"/media/ep{i}.wav", body=wav, content_type="audio/wav")
        out.append(
            {"title": f"Episode {i}", "url": url, "date": T0 + i * 86400, "guid": f"guid-{i}"}
        )
    return out


def test_rss_items_newest_first_even_from_an_oldest_first_feed(server, second_wav) -> None:
    items = episodes(server, 3, second_wav.read_bytes())
    result = feeds.parse(rss(items), server.url("/feed.xml"))
    assert [i.title for i in result.items] == ["Episode 3", "Episode 2", "Episode 1"]
    assert result.items[0].id == "guid-3" and result.items[0].published == T0 + 3 * 86400
    assert result.title == "Test podcast"


def test_items_without_guid_are_known_by_their_enclosure(server, second_wav) -> None:
    items = episodes(server, 2, second_wav.read_bytes())
    result = feeds.parse(rss(items, guid=False))
    assert {i.id for i in result.items} == {items[0]["url"], items[1]["url"]}


def test_atom_with_enclosure_links(server, second_wav) -> None:
    items = episodes(server, 2, second_wav.read_bytes())
    result = feeds.parse(atom(items))
    assert [i.title for i in result.items] == ["Episode 2", "Episode 1"]
    assert result.items[0].url == items[1]["url"]


def test_an_html_page_is_not_a_feed() -> None:
    with pytest.raises(feeds.NotAFeed, match="HTML page"):
        feeds.parse(b"<!doctype html><html><head><title>x</title></head><body>hi</body></html>")


def test_a_truncated_feed_gives_what_it_has_and_says_so(server, second_wav) -> None:
    body = rss(episodes(server, 3, second_wav.read_bytes()))
    result = feeds.parse(body[: len(body) // 2], "http://x/feed")
    assert 1 <= len(result.items) < 3 and "not well-formed" in result.problems[0]
    with pytest.raises(SourceError, match="malformed"):
        feeds.parse(body[:120], "http://x/feed")  # nothing recoverable in it


def test_conditional_get_returns_304_without_a_body(server, second_wav) -> None:
    body = rss(episodes(server, 2, second_wav.read_bytes()))
    url = server.add(
        "/feed.xml",
        body=body,
        content_type="application/rss+xml",
        etag='"v1"',
        last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
    )
    first = feeds.fetch(url, None, None, timeout=5)
    assert first.status == 200 and len(first.items) == 2 and first.etag == '"v1"'
    again = feeds.fetch(url, first.etag, first.modified, timeout=5)
    assert again.status == 304 and again.items == []
    assert server.count("/feed.xml") == 2 and server.media_requests() == 0
    last = server.requests[-1].headers
    assert last["If-None-Match"] == '"v1"'


def test_feed_http_errors_are_classified(server) -> None:
    with pytest.raises(SourceError, match="404"):
        feeds.fetch(server.url("/nope.xml"), None, None, timeout=5)
    server.add("/busy.xml", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as info:
        feeds.fetch(server.url("/busy.xml"), None, None, timeout=5)
    assert info.value.retry_after == 120
    server.add("/down.xml", status=503)
    with pytest.raises(TransientError):
        feeds.fetch(server.url("/down.xml"), None, None, timeout=5)
    with pytest.raises(TransientError):
        feeds.fetch("http://127.0.0.1:9/feed.xml", None, None, timeout=5)


def test_download_lands_inside_the_directory_with_progress(server, tmp_path, long_wav) -> None:
    data = long_wav.read_bytes()
    url = server.add("/media/talk.wav", body=data, content_type="audio/wav")
    seen: list[dict] = []
    got = ytdlp.download(url, tmp_path / "job1", seen.append, lambda: False, timeout=5)
    assert got.path.parent == (tmp_path / "job1").resolve()
    assert got.path.read_bytes() == data and got.size == len(data)
    assert seen and seen[-1]["downloaded"] == len(data)


def test_a_404_fails_at_once_as_permanent(server, tmp_path) -> None:
    with pytest.raises(SourceError) as info:
        ytdlp.download(server.url("/media/missing.mp3"), tmp_path, print, lambda: False)
    assert "404" in info.value.message and info.value.permanent
    assert server.count("/media/missing.mp3") == 1


def test_unreachable_host_is_transient(tmp_path) -> None:
    with pytest.raises(TransientError):
        ytdlp.download("http://127.0.0.1:9/x.mp3", tmp_path, print, lambda: False, timeout=3)


def test_a_stalled_download_times_out_and_resumes_with_a_range(server, tmp_path, long_wav):
    data = long_wav.read_bytes()
    url = server.add(
        "/media/stall.wav", body=data, content_type="audio/wav", stall_after=len(data) // 3
    )
    got = ytdlp.download(url, tmp_path, lambda p: None, lambda: False, timeout=2, retries=3)
    assert got.path.read_bytes() == data
    ranges = [r.headers.get("Range") for r in server.requests if r.path == "/media/stall.wav"]
    resumed = [int(r[6:].split("-")[0]) for r in ranges if r]
    assert resumed and 0 < resumed[0] <= len(data) // 3, ranges  # continued, not restarted


def test_abort_stops_a_download(server, tmp_path, long_wav) -> None:
    url = server.add("/media/a.wav", body=long_wav.read_bytes(), content_type="audio/wav")
    with pytest.raises(Aborted):
        ytdlp.download(url, tmp_path, lambda p: None, lambda: True)


def test_youtube_shaped_channel_listing(server, tmp_path, second_wav) -> None:
    """YouTube cannot be reached here: a YouTube-shaped extractor lists a local channel."""
    videos = [
        {
            "id": f"vid{i:08d}xx",
            "title": f"Video {i}",
            "media": server.add(
                f"/media/v{i}.wav", body=second_wav.read_bytes(), content_type="audio/wav"
            ),
        }
        for i in range(5, 0, -1)
    ]
    server.add(
        "/youtube/@chan/videos.json",
        body=json.dumps(videos).encode(),
        content_type="application/json",
    )
    items = ytdlp.list_entries(
        server.url("/youtube/@chan/videos"), 3, extractors=[FakeYoutubeChannelIE()]
    )
    assert [i.id for i in items] == [
        "youtube vid00000005xx",
        "youtube vid00000004xx",
        "youtube vid00000003xx",
    ]
    assert items[0].title == "Video 5" and items[0].url.endswith("/media/v5.wav")
    assert server.media_requests() == 0  # listing downloads nothing
    got = ytdlp.download(items[0].url, tmp_path, lambda p: None, lambda: False)
    assert got.size == len(second_wav.read_bytes())


def test_nothing_escapes_the_directory_whatever_the_title(server, tmp_path, second_wav) -> None:
    url = server.add(
        "/media/" + "x" * 150 + ".wav", body=second_wav.read_bytes(), content_type="audio/wav"
    )
    got = ytdlp.download(url, tmp_path / "d", lambda p: None, lambda: False)
    assert got.path.parent == (tmp_path / "d").resolve() and len(got.path.name) <= 110


def test_network_failures_are_said_plainly_without_the_libraries_retry_count(tmp_path) -> None:
    """Issue 39, item 10: no "HTTPConnection(host=..., port=...)", no "Giving up after 2
    retries" while earwig is about to try again: what went wrong, in words."""
    for url, said in (
        ("http://127.0.0.1:9/x.mp3", "the server refused the connection"),
        ("http://no-such-host.invalid/x.mp3", "its host name could not be found"),
    ):
        with pytest.raises(TransientError) as info:
            ytdlp.download(url, tmp_path, print, lambda: False, timeout=3, retries=1)
        assert info.value.message.startswith(f"{url}: {said}"), info.value.message
        assert "Giving up" not in info.value.message and "Connection(" not in info.value.message
        assert info.value.hint == "a network problem: earwig tries again later"
