"""The media-server part in-process, in seconds: real SQLite, the real queue, intake and runner
(with the in-memory transcriber of test_daemon_parts.py), real files on disk, real httpx to
loopback stand-ins of Jellyfin, Emby and Plex (tests/media_standins.py) that check keys and
record every call. Events are fed as the webhook routes hand them over (parsed payloads);
tests/integration/test_media_servers.py posts them over HTTP to a real daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from test_daemon_parts import StandIn as Transcriber
from test_daemon_parts import StandInBackends, tone, until

from earwig import config
from earwig.config import Config, OutputConfig, WatchConfig
from earwig.daemon.aborts import Aborts
from earwig.daemon.bus import Bus
from earwig.daemon.intake import Intake
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.daemon.runner import Runner
from earwig.mediaservers import payloads
from earwig.mediaservers.service import WATCHING, MediaServers
from earwig.model import Job, JobState
from earwig.store import Store
from media_standins import PAYLOADS, StandIn

KEY = "k3y-0f-the-stand-in-9d1c"
FILM_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # jellyfin/ItemAdded.json's ItemId
FILM = "/data/media/movies/Night Train (2019)/Night Train (2019).wav"


class Rig:
    """A store, queue, intake, runner and the media-server part, on temp folders."""

    def __init__(self, tmp: Path, servers: list[dict[str, Any]]) -> None:
        self.tmp = tmp
        self.library = tmp / "library"  # what the servers call /data/media
        self.library.mkdir()
        self.store = Store(tmp / "e.db")
        self.bus = Bus()
        self.events = Events(self.store, self.bus, [KEY])
        self.queue = JobQueue(self.store, self.events, lambda: RetryPolicy(3, 30.0))
        self.config: Config = dataclasses.replace(
            config.parse({"media_server": servers}),
            watch=(WatchConfig(tmp / "watched"),),
            output=OutputConfig(dir=tmp / "out"),
        )
        self.intake = Intake(self.queue, self.events, lambda w: tmp / "out")
        self.media = MediaServers(lambda: self.config, self.intake, self.queue, self.events)
        self.bus.listen(self.media.on_event)
        self.transcriber = Transcriber()
        self.runner = Runner(
            self.queue,
            self.events,
            Aborts(),
            StandInBackends(self.transcriber),
            output=lambda: self.config.output,
            unload_after=lambda: 300.0,
        )

    def file(self, theirs: str) -> Path:
        """A real audio file at the library path a server names `theirs` (each one's
        content differs: the same content twice is one job)."""
        local = self.library / theirs.removeprefix("/data/media/")
        local.parent.mkdir(parents=True, exist_ok=True)
        self.made = getattr(self, "made", 0) + 1
        return tone(local, seconds=1.0 + self.made / 100)

    def jobs(self) -> list[Job]:
        return self.store.list_jobs(limit=100)

    def logs(self) -> str:
        return "\n".join(e["message"] for e in self.store.logs(500))

    def run(self, test: Callable[[], Awaitable[None]]) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            parts = [
                asyncio.create_task(self.runner.run(stop)),
                asyncio.create_task(self.media.run(stop)),
            ]
            try:
                await test()
            finally:
                stop.set()
                self.queue.wake()
                await asyncio.wait_for(asyncio.gather(*parts), 20)

        asyncio.run(main())


def jellyfin_table(stand_in: StandIn, tmp: Path, **more: Any) -> dict[str, Any]:
    return {
        "kind": "jellyfin",
        "url": stand_in.url,
        "token_env": "EARWIG_TEST_JELLYFIN_KEY",
        "path_map": {"/data/media": str(tmp / "library")},
        "refresh_delay": "0.2s",
        **more,
    }


@pytest.fixture
def jellyfin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    monkeypatch.setenv("EARWIG_TEST_JELLYFIN_KEY", KEY)
    server = StandIn("jellyfin", KEY, {"Movies": ["/data/media/movies"]}, {FILM_ID: FILM})
    yield server
    server.stop()


def event(name: str, reader: Callable[[bytes], payloads.MediaEvent], **changes: Any):
    doc = json.loads((PAYLOADS / name).read_text())
    for key, value in changes.items():
        doc[key] = value
    return reader(json.dumps(doc).encode())


def test_an_added_film_is_transcribed_beside_itself_and_jellyfin_is_asked_once(
    tmp_path: Path, jellyfin: StandIn
) -> None:
    rig = Rig(tmp_path, [jellyfin_table(jellyfin, tmp_path)])
    film = rig.file(FILM)

    async def test() -> None:
        said = rig.media.accept(event("jellyfin/ItemAdded.json", payloads.jellyfin))
        assert said == "ItemAdded: accepted"
        job = await until(lambda: next(iter(rig.jobs()), None), "a job")
        assert job.path == str(film) and job.beside == ("srt",) and job.source == "jellyfin"
        assert job.options["media_server"]["item"] == FILM_ID
        await until(lambda: rig.store.get_job(job.id).state is JobState.DONE, "done")
        srt = film.with_name("Night Train (2019).en.srt")
        assert "heard 1 second" in srt.read_text()
        await until(jellyfin.refreshes, "a refresh")
        await asyncio.sleep(0.6)  # three delays more: no second call may follow
        [call] = jellyfin.refreshes()
        assert call.method == "POST" and call.path == f"/Items/{FILM_ID}/Refresh"
        assert call.query["metadataRefreshMode"] == ["Default"]
        assert f'Token="{KEY}"' in call.headers["Authorization"]
        [view] = rig.media.view()
        assert view["last_refresh"]["ok"] and view["reachable"] is True
        assert "queued as job" in view["last_event"]["outcome"]
        assert not rig.store.get_job(job.id).warnings

    rig.run(test)
    lookups = [r.path for r in jellyfin.requests if r.method == "GET"]
    assert f"/Items/{FILM_ID}" in lookups and "/Users" in lookups
    assert KEY not in rig.logs() and KEY not in json.dumps(rig.media.view())


def test_a_season_of_twenty_is_one_call_to_each_server(
    tmp_path: Path, jellyfin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARWIG_TEST_PLEX_KEY", "plex-" + KEY)
    plex = StandIn("plex", "plex-" + KEY, {"Movies": ["/plex/movies"], "TV": ["/plex/tv"]})
    jellyfin.libraries = {"Shows": ["/data/media/tv"]}
    tv = tmp_path / "library" / "tv"
    rig = Rig(
        tmp_path,
        [
            jellyfin_table(jellyfin, tmp_path),
            {
                "kind": "plex",
                "url": plex.url,
                "token_env": "EARWIG_TEST_PLEX_KEY",
                "path_map": {"/plex/tv": str(tv)},
                "refresh_delay": "0.2s",
            },
            {"kind": "sonarr", "path_map": {"/tv": str(tv)}},
        ],
    )
    doc = json.loads((PAYLOADS / "sonarr/ImportComplete.json").read_text())
    template = doc["episodeFiles"][0]
    doc["episodeFiles"] = []
    for n in range(1, 21):
        name = f"Season 01/Rivers and Bridges - S01E{n:02d}.wav"
        doc["episodeFiles"].append(
            template | {"relativePath": name, "path": f"/tv/Rivers and Bridges/{name}"}
        )
        rig.file(f"/data/media/tv/Rivers and Bridges/{name}")

    async def test() -> None:
        rig.media.accept(payloads.sonarr(json.dumps(doc).encode()))
        await until(lambda: len(rig.jobs()) == 20, "20 jobs")
        await until(lambda: all(j.state is JobState.DONE for j in rig.jobs()), "all done")
        await until(lambda: jellyfin.refreshes() and plex.refreshes(), "both told")
        await asyncio.sleep(0.8)  # four delays: nothing more follows

    try:
        rig.run(test)
        [jf] = jellyfin.refreshes()
        assert jf.method == "POST" and jf.path == "/Library/Media/Updated"
        assert sorted(u["Path"] for u in jf.json()["Updates"]) == [
            f"/data/media/tv/Rivers and Bridges/Season 01/Rivers and Bridges - S01E{n:02d}.wav"
            for n in range(1, 21)
        ]
        assert f'Token="{KEY}"' in jf.headers["Authorization"]
        [px] = plex.refreshes()
        assert (px.method, px.path) == ("GET", "/library/sections/2/refresh")
        assert px.query["path"] == ["/plex/tv/Rivers and Bridges/Season 01"]
        assert px.headers["X-Plex-Token"] == "plex-" + KEY and "X-Plex-Token" not in px.query
    finally:
        plex.stop()


def test_a_refused_key_is_a_warning_on_the_job_and_in_status(
    tmp_path: Path, jellyfin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARWIG_TEST_JELLYFIN_KEY", "not-the-key")
    movies = tmp_path / "library" / "movies"
    rig = Rig(
        tmp_path,
        [
            jellyfin_table(jellyfin, tmp_path),
            {"kind": "radarr", "path_map": {"/movies": str(movies)}},
        ],
    )
    film = rig.file(FILM)

    async def test() -> None:
        radarr = event("radarr/Download.json", payloads.radarr)
        rig.media.accept(
            dataclasses.replace(radarr, paths=(radarr.paths[0].replace(".mkv", ".wav"),))
        )
        job = await until(lambda: next(iter(rig.jobs()), None), "a job")
        assert job.path == str(film)
        warned = await until(lambda: rig.store.get_job(job.id).warnings, "a warning")
        assert rig.store.get_job(job.id).state is JobState.DONE  # never a failed job
        assert warned == (
            "Jellyfin was not told of the new subtitles: Jellyfin refused earwig's key (401): "
            "check the key in EARWIG_TEST_JELLYFIN_KEY",
        )
        jellyfin_view = rig.media.view()[0]
        assert "refused earwig's key (401)" in jellyfin_view["error"]
        assert jellyfin_view["last_refresh"]["ok"] is False

    rig.run(test)
    assert len(jellyfin.refreshes()) == 1  # a refused key is not asked again and again
    assert "not-the-key" not in rig.logs()


def test_a_server_that_is_down_a_moment_is_asked_again(tmp_path: Path, jellyfin: StandIn) -> None:
    jellyfin.fail_refreshes = 1
    rig = Rig(tmp_path, [jellyfin_table(jellyfin, tmp_path)])
    rig.file(FILM)

    async def test() -> None:
        rig.media.accept(event("jellyfin/ItemAdded.json", payloads.jellyfin))
        await until(lambda: len(jellyfin.refreshes()) == 2, "a second try")
        await until(lambda: (rig.media.view()[0]["last_refresh"] or {}).get("ok"), "ok")
        assert not rig.jobs()[0].warnings
        assert "answered 503" in rig.logs() and "tries again" in rig.logs()

    rig.run(test)


def test_an_unmapped_path_is_refused_with_a_clear_warning(tmp_path: Path) -> None:
    rig = Rig(tmp_path, [{"kind": "sonarr", "path_map": {"/tv": str(tmp_path / "library")}}])
    outside = tmp_path / "elsewhere" / "Show - S01E01.wav"
    outside.parent.mkdir()
    tone(outside, 1.0)

    async def test() -> None:
        for path in ("/downloads/Show - S01E01.wav", str(outside), "/tv/../elsewhere/x.wav"):
            sonarr = event("sonarr/Download.json", payloads.sonarr)
            rig.media.accept(dataclasses.replace(sonarr, paths=(path,)))
        await until(lambda: rig.logs().count("lies in no library earwig knows") == 3, "3 warnings")

    rig.run(test)
    assert rig.jobs() == []  # nothing outside the libraries is opened, queued or probed
    logs = rig.logs()
    assert "Sonarr named /downloads/Show - S01E01.wav, which lies in no library" in logs
    assert "add a path_map to its [[media_server]] table" in logs
    assert "refused" in rig.media.view()[0]["last_event"]["outcome"]


def test_a_mapped_path_that_is_not_there_is_a_failed_job_that_says_why(tmp_path: Path) -> None:
    rig = Rig(tmp_path, [{"kind": "sonarr", "path_map": {"/tv": str(tmp_path / "library")}}])

    async def test() -> None:
        rig.media.accept(event("sonarr/Download.json", payloads.sonarr))
        job = await until(lambda: next(iter(rig.jobs()), None), "a job")
        assert job.state is JobState.FAILED
        assert job.error is not None and "which maps to" in job.error
        assert "does not exist here" in job.error
        assert job.hint is not None and "path_map" in job.hint and "earwig retry" in job.hint

    rig.run(test)


def test_a_play_moves_a_waiting_file_to_the_front_and_tests_are_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARWIG_TEST_EMBY_KEY", KEY)
    emby = StandIn("emby", KEY, {"Movies": ["/data/media/movies"]})
    rig = Rig(
        tmp_path,
        [
            {
                "kind": "emby",
                "url": emby.url,
                "token_env": "EARWIG_TEST_EMBY_KEY",
                "path_map": {"/data/media": str(tmp_path / "library")},
                "refresh": False,
            }
        ],
    )
    film = rig.file(FILM)
    other = rig.file("/data/media/movies/Other/Other.wav")
    rig.queue.paused = True  # nothing runs: the order is what is looked at

    def queued(path: str) -> bool:
        return any(j.path == path for j in rig.jobs())

    async def test() -> None:
        assert rig.media.accept(event("emby/system.notificationtest.json", payloads.emby)) == (
            "earwig received Emby's test"
        )
        added = event("emby/library.new.json", payloads.emby)
        for path in (other, film):
            theirs = "/data/media/" + str(path.relative_to(rig.library))
            rig.media.accept(dataclasses.replace(added, paths=(theirs,)))
            await until(partial(queued, str(path)), "queued")
        first = rig.store.next_queued(1e12)
        assert first is not None and first.path == str(other)
        play = event("emby/playback.start.json", payloads.emby)
        theirs = "/data/media/" + str(film.relative_to(rig.library))
        rig.media.accept(dataclasses.replace(play, paths=(theirs,)))

        def front() -> Job | None:
            return rig.store.next_queued(1e12)

        await until(lambda: (front() or first).path == str(film), "the played first")
        assert (front() or first).priority == WATCHING

    try:
        rig.run(test)
    finally:
        emby.stop()
    assert emby.refreshes() == []  # refresh = false


def test_a_subtitled_film_is_left_alone_as_a_watched_beside_folder_would(
    tmp_path: Path, jellyfin: StandIn
) -> None:
    rig = Rig(tmp_path, [jellyfin_table(jellyfin, tmp_path)])
    film = rig.file(FILM)
    film.with_name("Night Train (2019).en.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHi\n")
    rig.config = dataclasses.replace(
        rig.config, transcribe=dataclasses.replace(rig.config.transcribe, language="en")
    )

    async def test() -> None:
        rig.media.accept(event("jellyfin/ItemAdded.json", payloads.jellyfin))
        job = await until(lambda: next(iter(rig.jobs()), None), "a job")
        assert job.state is JobState.CANCELLED
        assert job.hint is not None and "subtitle file" in job.hint

    rig.run(test)
    assert jellyfin.refreshes() == []
    shutil.rmtree(rig.library)
