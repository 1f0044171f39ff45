"""Media servers end to end: a real daemon, the bundled model, real video files made with
PyAV, and loopback stand-ins of Jellyfin and Plex written from their documented APIs
(tests/media_standins.py; no real server can run here), which check keys and record every
call."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SECOND_TEXT, Home, make_video
from earwig import protocol as p
from earwig.mediaservers.payloads import MAX_BODY
from earwig.speech import SAMPLE_TEXT, synthesize
from helpers import DaemonProcess, run_cli, wait_for, wer
from media_standins import PAYLOADS, StandIn

KEY = "jf-key-5b7e1c0d9a"


def video(wav: Path, dst: Path, audio_delay: float = 0.0) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    return make_video(wav, dst, audio_delay=audio_delay)


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


# ---------------------------------------------------------------- webhooks in, over HTTP


FILM_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # the ItemId of jellyfin/ItemAdded.json
PLEX_KEY = "plex-token-77aa"


class Hooks:
    """One daemon with HTTP and every kind of table, for the webhook tests of this module:
    Jellyfin (the right key) holds /data/media, a second Jellyfin "attic" whose key is wrong
    holds /attic, Plex holds /plex; Sonarr sees the shows at /tv, Radarr the attic's films
    at /movies. 127.0.0.2 is a trusted network."""

    def __init__(self, root: Path, home: Home, speech_wav: Path) -> None:
        self.root = root
        self.library = root / "library"  # Jellyfin's /data/media, Plex's /plex
        self.attic = root / "attic"
        for folder in (self.library / "movies", self.library / "tv", self.attic / "movies"):
            folder.mkdir(parents=True)
        self.jellyfin = StandIn(
            "jellyfin", KEY, {"Movies": ["/data/media/movies"], "Shows": ["/data/media/tv"]}
        )
        self.attic_server = StandIn("jellyfin", "the-attic-key", {"Attic": ["/attic/movies"]})
        self.plex = StandIn("plex", PLEX_KEY, {"Films": ["/plex/movies"], "TV": ["/plex/tv"]})
        self.film = video(
            speech_wav, self.library / "movies" / "Night Train (2019)" / "Night Train (2019).mkv"
        )
        self.jellyfin.items[FILM_ID] = (
            "/data/media/movies/Night Train (2019)/Night Train (2019).mkv"
        )
        home.write_config(
            http='listen = "127.0.0.1:0"\ntrust = ["127.0.0.2/32"]',
            extra=f"""
[[media_server]]
kind = "jellyfin"
url = "{self.jellyfin.url}"
token_env = "EARWIG_JELLYFIN_KEY"
path_map = {{ "/data/media" = "{self.library}" }}
refresh_delay = "1s"

[[media_server]]
kind = "jellyfin"
name = "attic"
url = "{self.attic_server.url}"
token_env = "EARWIG_ATTIC_KEY"
path_map = {{ "/attic" = "{self.attic}" }}
refresh_delay = "1s"

[[media_server]]
kind = "plex"
url = "{self.plex.url}"
token_env = "EARWIG_PLEX_KEY"
path_map = {{ "/plex" = "{self.library}" }}
refresh_delay = "1s"

[[media_server]]
kind = "sonarr"
path_map = {{ "/tv" = "{self.library / "tv"}" }}

[[media_server]]
kind = "radarr"
path_map = {{ "/movies" = "{self.attic / "movies"}" }}

[[media_server]]
kind = "bazarr"
path_map = {{ "/bazarr" = "{self.library}" }}
""",
        )
        self.daemon = home.daemon().start()
        info = self.daemon.http()
        self.url, self.token = info["url"].rstrip("/"), info["token"]
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def post(self, sender: str, name: str | None = None, **kw: Any) -> httpx.Response:
        if name is not None:
            kw.setdefault("content", (PAYLOADS / name).read_bytes())
        return self.client.post(f"/hooks/{self.token}/{sender}", **kw)

    def jobs(self) -> list[dict[str, Any]]:
        return [dict(j) for j in self.daemon.call(p.ListJobs(limit=200))["jobs"]]

    def view(self, name: str) -> dict[str, Any]:
        views = self.daemon.call(p.GetStatus())["media_servers"]
        return next(dict(v) for v in views if v["name"] == name)

    def stop(self) -> None:
        self.client.close()
        self.daemon.stop()
        for server in (self.jellyfin, self.attic_server, self.plex):
            server.stop()


@pytest.fixture(scope="module")
def hooks(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path, speech_wav: Path
) -> Iterator[Hooks]:
    root = tmp_path_factory.mktemp("hooks")
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    with pytest.MonkeyPatch.context() as mp:
        (root / "home").mkdir()
        mp.setenv("HOME", str(root / "home"))
        mp.delenv("XDG_RUNTIME_DIR", raising=False)
        mp.setenv("EARWIG_JELLYFIN_KEY", KEY)
        mp.setenv("EARWIG_ATTIC_KEY", "not-the-attic-key")
        mp.setenv("EARWIG_PLEX_KEY", PLEX_KEY)
        rig = Hooks(root, Home(root / "earwig", runtime, models_dir), speech_wav)
    try:
        yield rig
    finally:
        rig.stop()
        shutil.rmtree(runtime, ignore_errors=True)
        log = rig.daemon.log()
        for secret in (KEY, "not-the-attic-key", PLEX_KEY, rig.token):
            assert secret not in log


def test_jellyfin_item_added_answered_at_once_transcribed_beside_and_refreshed_once(
    hooks: Hooks,
) -> None:
    hooks.jellyfin.gate.clear()  # the server is slow to say where the item is...
    try:
        answer = hooks.post(
            "jellyfin",
            "jellyfin/ItemAdded.json",
            headers={"Content-Type": "text/plain; charset=utf-8"},  # the plugin's default
        )
        # ...and the webhook is answered meanwhile: the work comes after
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"status": "accepted", "message": "ItemAdded: accepted"}
        assert not [j for j in hooks.jobs() if j["source"] == "jellyfin"]
    finally:
        hooks.jellyfin.gate.set()
    job = wait_for(
        lambda: next((j for j in hooks.jobs() if j["source"] == "jellyfin"), None), 60, what="job"
    )
    assert job["path"] == str(hooks.film) and job["beside"] == ["srt"]
    wait_for(hooks.jellyfin.refreshes, 240, what="the refresh")
    subtitle = hooks.film.with_name("Night Train (2019).en.srt")
    assert wer(SAMPLE_TEXT, " ".join(t for _, t in srt_cues(subtitle.read_text()))) < 0.35
    [call] = hooks.jellyfin.refreshes()
    assert (call.method, call.path) == ("POST", f"/Items/{FILM_ID}/Refresh")
    assert call.query["metadataRefreshMode"] == ["Default"]
    assert f'Token="{KEY}"' in call.headers["Authorization"]
    view = hooks.view("jellyfin")
    assert view["last_refresh"]["ok"] and view["last_event"]["what"] == "ItemAdded Night Train"
    # Plex holds the same library (its path_map covers the film): told too, by a partial scan
    # of the film's folder (no ratingKey: the event was Jellyfin's); the attic holds nothing
    wait_for(hooks.plex.refreshes, 60, what="Plex told")
    [plex] = hooks.plex.refreshes()
    assert (plex.method, plex.path) == ("GET", "/library/sections/1/refresh")
    assert plex.query["path"] == ["/plex/movies/Night Train (2019)"]
    assert hooks.attic_server.refreshes() == []


def test_a_season_from_sonarr_is_one_refresh_per_server(hooks: Hooks) -> None:
    season = hooks.library / "tv" / "Rivers and Bridges" / "Season 01"
    season.mkdir(parents=True)
    doc = json.loads((PAYLOADS / "sonarr/ImportComplete.json").read_text())
    template, doc["episodeFiles"] = doc["episodeFiles"][0], []
    for n in range(1, 21):
        name = f"Rivers and Bridges - S01E{n:02d}.mkv"
        wav = synthesize(f"Episode {n}. The river is wide here.", hooks.root / f"e{n}.wav")
        make_video(wav, season / name)
        doc["episodeFiles"].append(
            template
            | {
                "relativePath": f"Season 01/{name}",
                "path": f"/tv/Rivers and Bridges/Season 01/{name}",
            }
        )
    before_jf, before_plex = len(hooks.jellyfin.refreshes()), len(hooks.plex.refreshes())
    answer = hooks.post("sonarr", json=doc)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: len([j for j in hooks.jobs() if j["source"] == "sonarr"]) == 20, 60, what="20")
    wait_for(
        lambda: all(j["state"] == "done" for j in hooks.jobs() if j["source"] == "sonarr"),
        600,
        what="the season transcribed",
    )
    wait_for(
        lambda: hooks.view("jellyfin")["pending"] == 0 and hooks.view("plex")["pending"] == 0,
        60,
        what="the batches sent",
    )
    [jf] = hooks.jellyfin.refreshes()[before_jf:]
    assert (jf.method, jf.path) == ("POST", "/Library/Media/Updated")
    assert sorted(u["Path"] for u in jf.json()["Updates"]) == [
        f"/data/media/tv/Rivers and Bridges/Season 01/Rivers and Bridges - S01E{n:02d}.mkv"
        for n in range(1, 21)
    ]
    [px] = hooks.plex.refreshes()[before_plex:]
    assert (px.method, px.path) == ("GET", "/library/sections/2/refresh")
    assert px.query["path"] == ["/plex/tv/Rivers and Bridges/Season 01"]
    assert px.headers["X-Plex-Token"] == PLEX_KEY
    assert len(list(season.glob("*.en.srt"))) == 20


def test_a_refused_key_warns_on_the_job_and_in_status(hooks: Hooks, speech_wav: Path) -> None:
    film = video(speech_wav, hooks.attic / "movies" / "Attic (1999)" / "Attic (1999).mkv")
    doc = json.loads((PAYLOADS / "radarr/Download.json").read_text())
    doc["movieFile"]["path"] = "/movies/Attic (1999)/Attic (1999).mkv"
    assert hooks.post("radarr", json=doc).status_code == 202
    job = wait_for(
        lambda: next((j for j in hooks.jobs() if j["path"] == str(film)), None), 60, what="job"
    )
    warned = wait_for(
        lambda: hooks.daemon.call(p.GetJob(id=job["id"]))["job"]["warnings"], 240, what="warning"
    )
    assert hooks.daemon.call(p.GetJob(id=job["id"]))["job"]["state"] == "done"
    assert warned == [
        "Jellyfin was not told of the new subtitles: Jellyfin refused earwig's key (401): "
        "check the key in EARWIG_ATTIC_KEY"
    ]
    assert "refused earwig's key (401)" in hooks.view("attic")["error"]
    status = run_cli(hooks.daemon.config_path, "status").stdout
    assert "media    attic (jellyfin" in status and "refused earwig's key (401)" in status
    assert film.with_name("Attic (1999).en.srt").exists()


def test_an_unmapped_path_is_a_clear_warning_and_nothing_is_opened(hooks: Hooks) -> None:
    doc = json.loads((PAYLOADS / "sonarr/Download.json").read_text())
    doc["episodeFile"]["path"] = "/downloads/complete/Show.S01E01/Show.S01E01.mkv"
    jobs_before = len(hooks.jobs())
    assert hooks.post("sonarr", json=doc).status_code == 202
    warning = (
        "Sonarr named /downloads/complete/Show.S01E01/Show.S01E01.mkv, which lies in no "
        "library earwig knows"
    )
    wait_for(lambda: warning in hooks.daemon.log(), 60, what="the warning")
    assert "add a path_map to its [[media_server]] table" in hooks.daemon.log()
    assert "refused" in hooks.view("sonarr")["last_event"]["outcome"]
    assert len(hooks.jobs()) == jobs_before


def test_the_senders_tests_are_answered(hooks: Hooks) -> None:
    for sender in ("sonarr", "radarr"):
        answer = hooks.post(
            sender, f"{sender}/Test.json", headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["message"] == f"earwig received {sender.title()}'s test"
    # Emby 4.8: the JSON in the multipart part `data`
    data = (PAYLOADS / "emby/system.notificationtest.json").read_text()
    answer = hooks.post("emby", files={"data": (None, data)})
    assert answer.status_code == 200 and answer.json()["message"] == "earwig received Emby's test"
    # Sonarr may be set to PUT
    put = hooks.client.put(
        f"/hooks/{hooks.token}/sonarr", content=(PAYLOADS / "sonarr/Test.json").read_bytes()
    )
    assert put.status_code == 200
    assert "its test event reached earwig" in hooks.daemon.log()


def test_plex_multipart_with_its_thumbnail_queues_and_refreshes_the_item(
    hooks: Hooks, second_wav: Path
) -> None:
    film = video(second_wav, hooks.library / "movies" / "Morning (2020)" / "Morning (2020).mkv")
    hooks.plex.items["501"] = "/plex/movies/Morning (2020)/Morning (2020).mkv"
    doc = json.loads((PAYLOADS / "plex/library.new.json").read_text())
    doc["Metadata"] |= {"ratingKey": "501", "title": "Morning"}
    before = len(hooks.plex.refreshes())
    answer = hooks.post(
        "plex",
        files={
            "payload": (None, json.dumps(doc)),
            "thumb": ("thumb.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 2000, "image/jpeg"),
        },
        headers={"User-Agent": "PlexMediaServer/1.41.0"},
    )
    assert answer.status_code == 202, answer.text
    wait_for(lambda: len(hooks.plex.refreshes()) > before, 240, what="the Plex refresh")
    calls = [(c.method, c.path) for c in hooks.plex.refreshes()[before:]]
    assert calls == [("PUT", "/library/metadata/501/refresh")]
    assert film.with_name("Morning (2020).en.srt").exists()


def test_the_token_or_a_trusted_network_and_bad_bodies_refused(hooks: Hooks) -> None:
    test = (PAYLOADS / "sonarr/Test.json").read_bytes()
    assert hooks.client.post("/hooks/sonarr", content=test).status_code == 401
    assert hooks.client.post("/hooks/not-the-token/sonarr", content=test).status_code == 401
    assert hooks.client.post(f"/t/{hooks.token}/hooks/sonarr", content=test).status_code == 200
    trusted = httpx.Client(
        base_url=hooks.url, transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30
    )
    with trusted:
        assert trusted.post("/hooks/sonarr", content=test).status_code == 200
    bad = hooks.post(
        "jellyfin",
        json={"NotificationType": "ItemAdded", "ItemType": "Movie", "ItemId": "../System/Restart"},
    )
    assert bad.status_code == 400
    assert "not one it would send" in bad.json()["error"]["message"]
    assert hooks.post("kodi", content=b"{}").status_code == 404
    assert hooks.post("sonarr", content=b"x" * (MAX_BODY + 10)).status_code == 413


# ---------------------------------------------------------------- Bazarr, and late audio


def srt_cues(text: str) -> list[tuple[float, str]]:
    """(start seconds, text) of each cue of an SRT."""
    found = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        h, m, rest = lines[1].split(" --> ")[0].split(":")
        sec, ms = rest.split(",")
        found.append((int(h) * 3600 + int(m) * 60 + int(sec) + int(ms) / 1000, " ".join(lines[2:])))
    return found


def bazarr_pcm(video: Path) -> bytes:
    """The audio as Bazarr's Whisper provider extracts it (whisperai.py encode_audio_stream):
    ffmpeg, s16le mono 16 kHz, aresample=async=1, with no padding at the start."""
    import subprocess

    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-threads", "0", "-i", str(video)]
    command += ["-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", "16000"]
    command += ["-af", "aresample=async=1", "-"]
    return subprocess.run(command, capture_output=True, check=True).stdout


def bazarr_asr(hooks: Hooks, pcm: bytes, video_file: str | None) -> httpx.Response:
    """POST /asr exactly as Bazarr builds it: the token in the base URL (Bazarr can be given
    only an endpoint), encode=false, the part `audio_file` with no Content-Type."""
    params = {"task": "transcribe", "language": "en", "output": "srt", "encode": "false"}
    if video_file is not None:
        params["video_file"] = video_file
    return hooks.client.post(
        f"/t/{hooks.token}/asr", params=params, files={"audio_file": ("audio_file", pcm)}
    )


def test_bazarr_pcm_with_a_late_audio_videos_name_lands_cues_where_the_speech_is(
    hooks: Hooks, speech_wav: Path
) -> None:
    film = video(speech_wav, hooks.library / "movies" / "Late (2021)" / "Late (2021).mkv", 3.0)
    pcm = bazarr_pcm(film)
    answer = bazarr_asr(hooks, pcm, "/bazarr/movies/Late (2021)/Late (2021).mkv")
    assert answer.status_code == 200, answer.text
    cues = srt_cues(answer.text)
    job = next(j for j in hooks.jobs() if j["title"] == "Late (2021).mkv")  # named by the file
    assert job["source"] == "api"
    # the same audio again without the video's name: answered from that job, on its own clock
    plain = srt_cues(bazarr_asr(hooks, pcm, None).text)
    assert plain[0][0] < 1.0
    assert 2.9 <= cues[0][0] <= plain[0][0] + 3.1  # 3 s later: where the speech is in the film
    assert [round(c[0] - p[0], 2) for c, p in zip(cues, plain, strict=True)] == [3.0] * len(cues)
    assert wer(SAMPLE_TEXT, " ".join(t for _, t in cues)) < 0.35
    assert "Late (2021).mkv: its audio starts 3.000s in" in hooks.daemon.log()
    # a video_file outside every library is not opened: the answer keeps the audio's clock
    outside = bazarr_asr(hooks, pcm, str(film).replace("library", "elsewhere"))
    assert srt_cues(outside.text)[0][0] == plain[0][0]
    assert "lies in no library earwig knows: its subtitles keep the audio's clock" in (
        hooks.daemon.log()
    )


def test_a_late_audio_file_from_a_webhook_gets_its_subtitles_on_the_films_clock(
    hooks: Hooks, second_wav: Path
) -> None:
    film = video(second_wav, hooks.library / "tv" / "Late Show" / "Late Show - S01E01.mkv", 3.0)
    doc = json.loads((PAYLOADS / "sonarr/Download.json").read_text())
    doc["episodeFile"]["path"] = "/tv/Late Show/Late Show - S01E01.mkv"
    assert hooks.post("sonarr", json=doc).status_code == 202
    subtitle = film.with_name("Late Show - S01E01.en.srt")
    wait_for(subtitle.exists, 240, what="the subtitle")
    cues = srt_cues(subtitle.read_text())
    assert 2.9 <= cues[0][0] <= 4.0
    assert wer(SECOND_TEXT, " ".join(t for _, t in cues)) < 0.35


def test_asr_diarize_labels_speakers_as_whisperx_does(hooks: Hooks, tmp_path: Path) -> None:
    from conftest import conversation

    talk = tmp_path / "talk.wav"
    conversation(talk)
    params = {"output": "srt", "diarize": "true", "min_speakers": "3", "max_speakers": "3"}
    answer = hooks.client.post(
        f"/t/{hooks.token}/asr",
        params=params,
        files={"audio_file": ("talk.wav", talk.read_bytes())},
    )
    assert answer.status_code == 200, answer.text
    texts = [t for _, t in srt_cues(answer.text)]
    labels = {t.split("]: ")[0] + "]" for t in texts}
    assert all(t.startswith("[SPEAKER_0") for t in texts), texts
    assert labels == {"[SPEAKER_00]", "[SPEAKER_01]", "[SPEAKER_02]"}
    as_json = hooks.client.post(
        f"/t/{hooks.token}/asr",
        params={**params, "output": "json"},
        files={"audio_file": ("talk.wav", talk.read_bytes())},
    ).json()
    assert {s["speaker"] for s in as_json["segments"]} == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}
    assert not any(s["text"].startswith("[") for s in as_json["segments"])
    plain = hooks.client.post(
        f"/t/{hooks.token}/asr",
        params={"output": "txt"},
        files={"audio_file": ("talk.wav", talk.read_bytes())},
    )
    assert "[SPEAKER" not in plain.text  # no labels unless asked
