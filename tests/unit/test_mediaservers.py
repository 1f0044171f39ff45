"""Media servers, the pure parts: the [[media_server]] tables, path maps and the rule for a
webhook's path, every captured payload read, the refresh plans, and the batching clock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from earwig import config
from earwig.errors import ConfigError
from earwig.mediaservers import payloads
from earwig.mediaservers.clients import Library, Target, plan_refresh
from earwig.mediaservers.config import MEDIA_SERVER_SCHEMA
from earwig.mediaservers.paths import PathMap, place
from earwig.mediaservers.payloads import MediaEvent, PayloadError
from earwig.mediaservers.refresh import ATTEMPTS, GATHER, HOLD, Refresher

PAYLOADS = Path(__file__).parents[1] / "payloads"


def body(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


# ---------------------------------------------------------------- configuration


def test_a_table_or_a_list_of_pairs_and_each_key_checked() -> None:
    cfg = config.parse(
        {
            "media_server": [
                {
                    "kind": "jellyfin",
                    "url": "http://jellyfin:8096",
                    "token_env": "JELLYFIN_KEY",
                    "path_map": {"/data/media/": "/srv/media"},
                    "events": ["added"],
                    "refresh_delay": "5s",
                },
                {"kind": "sonarr", "path_map": [["D:\\TV\\", "/srv/tv"]]},
            ]
        }
    )
    jellyfin, sonarr = cfg.media_servers
    assert jellyfin.path_map == (("/data/media", "/srv/media"),)
    assert jellyfin.events == ("added",) and jellyfin.refresh_delay == 5.0
    assert jellyfin.label == "jellyfin" and jellyfin.talks_back
    assert sonarr.path_map == (("D:\\TV", "/srv/tv"),) and not sonarr.talks_back
    assert config.Config().media_servers == ()


@pytest.mark.parametrize(
    ("table", "message", "hint"),
    [
        ({"kind": "plex"}, "needs a url", "http://plex:32400"),
        ({"kind": "kodi"}, "kind = 'kodi' is not valid", "jellyfin"),
        ({"url": "http://x"}, "needs a kind", "jellyfin"),
        ({"kind": "plex", "url": "http://p", "token": "abc"}, "unknown key", "token_env"),
        ({"kind": "emby", "url": "http://e", "token_env": "my key"}, "not valid", "name"),
        ({"kind": "sonarr", "url": "http://sonarr"}, "never calls sonarr", "path_map"),
        ({"kind": "plex", "url": "http://p", "path_map": {"/m": "rel"}}, "not valid", "absolute"),
        ({"kind": "plex", "url": "http://p", "events": ["deleted"]}, "not valid", "added, play"),
    ],
)
def test_a_wrong_table_says_what_to_write(table: dict, message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse({"media_server": [table]})
    assert message in caught.value.message
    assert hint in caught.value.hint


def test_two_tables_of_one_name_are_refused() -> None:
    twice = [{"kind": "plex", "url": "http://a"}, {"kind": "plex", "url": "http://b"}]
    with pytest.raises(ConfigError, match="two \\[\\[media_server\\]\\] tables"):
        config.parse({"media_server": twice})
    twice[1]["name"] = "upstairs"
    assert [s.label for s in config.parse({"media_server": twice}).media_servers] == [
        "plex",
        "upstairs",
    ]


def test_the_example_config_documents_every_media_server_key() -> None:
    example = Path(config.__file__).with_name("config.example.toml").read_text()
    assert "[[media_server]]" in example
    for key in MEDIA_SERVER_SCHEMA:
        assert f"{key} =" in example, key


# ---------------------------------------------------------------- paths


MAP = PathMap(
    (
        ("/data/media", "/srv/media"),
        ("/data/media/tv", "/mnt/tv"),
        ("D:\\Shows", "/srv/shows"),
    )
)


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ("/data/media/Film (2019)/Film (2019).mkv", "/srv/media/Film (2019)/Film (2019).mkv"),
        ("/data/media/tv/Show/S01E01.mkv", "/mnt/tv/Show/S01E01.mkv"),  # the longest prefix
        ("/data/media", "/srv/media"),
        ("/data/media2/Film.mkv", None),  # whole folder names only
        ("/elsewhere/Film.mkv", None),
        ("D:\\Shows\\Show\\S01E01.mkv", "/srv/shows/Show/S01E01.mkv"),
        ("d:/shows/Show/S01E01.mkv", "/srv/shows/Show/S01E01.mkv"),  # Windows: any case, slash
    ],
)
def test_a_server_path_maps_by_its_longest_prefix(theirs: str, ours: str | None) -> None:
    local = MAP.to_local(theirs)
    assert (str(local) if local else None) == ours


def test_earwig_paths_map_back_in_the_servers_spelling() -> None:
    assert MAP.to_server(Path("/srv/media/F/F.mkv")) == "/data/media/F/F.mkv"
    assert MAP.to_server(Path("/mnt/tv/S/e.mkv")) == "/data/media/tv/S/e.mkv"
    assert MAP.to_server(Path("/srv/shows/S/e.mkv")) == "D:\\Shows\\S\\e.mkv"
    assert MAP.to_server(Path("/home/me/e.mkv")) is None


def test_a_webhook_path_must_land_inside_a_known_folder(tmp_path: Path) -> None:
    library = tmp_path / "media"
    (library / "Film").mkdir(parents=True)
    film = library / "Film" / "Film.mkv"
    film.write_bytes(b"x")
    secret = tmp_path / "secret.mkv"
    secret.write_bytes(b"x")
    (library / "link.mkv").symlink_to(secret)
    m = PathMap((("/data/media", str(library)),))

    assert place("/data/media/Film/Film.mkv", [m], [library]).local == film
    missing = place("/data/media/Film/Gone.mkv", [m], [library])
    assert missing.local == library / "Film" / "Gone.mkv"  # inside: the caller warns on a job
    for escape in (
        "/data/media/../secret.mkv",  # `..` out of the library
        "/data/media/link.mkv",  # a symlink out of it
        str(secret),  # a plain path outside every root
        "/etc/passwd",
    ):
        placed = place(escape, [m], [library])
        assert placed.refused, escape
        assert placed.tried  # the warning says what it was mapped to
    # unmapped but inside a root as it is (the server mounts the library where earwig does)
    assert place(str(film), [], [library]).local == film


# ---------------------------------------------------------------- payloads


@pytest.mark.parametrize(
    ("name", "reader", "expected"),
    [
        (
            "jellyfin/ItemAdded.json",
            payloads.jellyfin,
            MediaEvent(
                "jellyfin",
                "added",
                "ItemAdded",
                "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                (),
                "Night Train",
            ),
        ),
        (
            "jellyfin/PlaybackStart.json",
            payloads.jellyfin,
            MediaEvent(
                "jellyfin",
                "play",
                "PlaybackStart",
                "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                (),
                "Night Train",
            ),
        ),
        (
            "plex/library.new.json",
            payloads.plex,
            MediaEvent("plex", "added", "library.new", "1", (), "Night Train"),
        ),
        (  # the documented example plays a music track: nothing to subtitle
            "plex/media.play.json",
            payloads.plex,
            MediaEvent("plex", "other", "media.play", None, (), "Love The One You're With"),
        ),
        (
            "emby/library.new.json",
            payloads.emby,
            MediaEvent(
                "emby",
                "added",
                "library.new",
                "751181",
                ("/data/media/movies/Night Train (2019)/Night Train (2019).mkv",),
                "Night Train",
            ),
        ),
        (
            "emby/system.notificationtest.json",
            payloads.emby,
            MediaEvent("emby", "test", "system.notificationtest"),
        ),
        (
            "tautulli/played.json",
            payloads.tautulli,
            MediaEvent(
                "tautulli",
                "play",
                "played",
                None,
                ("/data/media/movies/Night Train (2019)/Night Train (2019).mkv",),
                "Night Train (2019).mkv",
            ),
        ),
        (
            "sonarr/Download.json",
            payloads.sonarr,
            MediaEvent(
                "sonarr",
                "added",
                "Download",
                None,
                (
                    "/tv/Rivers and Bridges/Season 01/"
                    "Rivers and Bridges - S01E01 - The Footbridge.mkv",
                ),
                "Rivers and Bridges S01E01",
            ),
        ),
        (
            "sonarr/Test.json",
            payloads.sonarr,
            MediaEvent("sonarr", "test", "Test", None, (), "Test Title S01E01"),
        ),
        (
            "radarr/Download.json",
            payloads.radarr,
            MediaEvent(
                "radarr",
                "added",
                "Download",
                None,
                ("/movies/Night Train (2019)/Night Train (2019).mkv",),
                "Night Train (2019)",
            ),
        ),
        (
            "radarr/Test.json",
            payloads.radarr,
            MediaEvent("radarr", "test", "Test", None, (), "Test Title (1970)"),
        ),
    ],
)
def test_each_captured_payload_reads_as_its_event(name, reader, expected) -> None:
    assert reader(body(name)) == expected


def test_an_import_of_a_whole_season_names_every_file() -> None:
    event = payloads.sonarr(body("sonarr/ImportComplete.json"))
    assert event.action == "added" and len(event.paths) == 2
    doc = json.loads(body("sonarr/Download.json"))
    del doc["episodeFile"]["path"]  # the path from the series folder and the relative path
    assert payloads.sonarr(json.dumps(doc).encode()).paths == (
        "/tv/Rivers and Bridges/Season 01/Rivers and Bridges - S01E01 - The Footbridge.mkv",
    )
    radarr = json.loads(body("radarr/Download.json"))
    del radarr["movieFile"]["path"]
    assert payloads.radarr(json.dumps(radarr).encode()).paths == (
        "/movies/Night Train (2019)/Night Train (2019).mkv",
    )


@pytest.mark.parametrize(
    ("reader", "doc", "words"),
    [
        (
            payloads.jellyfin,
            {"NotificationType": "ItemAdded", "ItemType": "Movie", "ItemId": "../System/Restart"},
            "item id",
        ),
        (
            payloads.jellyfin,
            {"NotificationType": "ItemAdded", "ItemType": "Movie"},
            "Send All Properties",
        ),
        (
            payloads.plex,
            {"event": "library.new", "Metadata": {"type": "movie", "ratingKey": "1/../../x"}},
            "item id",
        ),
        (
            payloads.emby,
            {"Event": "library.new", "Item": {"Type": "Movie", "Id": "1?api_key=x"}},
            "item id",
        ),
        (payloads.tautulli, {"event": "added"}, '"file": "{file}"'),
        (payloads.sonarr, {"eventType": "Download"}, "episodeFile"),
        (payloads.radarr, {"eventType": "Download", "movie": {}}, "movieFile"),
    ],
)
def test_a_payload_that_is_not_the_senders_is_refused_with_why(reader, doc, words) -> None:
    with pytest.raises(PayloadError, match=None) as caught:
        reader(json.dumps(doc).encode())
    assert words in str(caught.value)


def test_bodies_that_are_not_json_objects_are_refused() -> None:
    for junk in (b"", b"not json", b"[1, 2]", b"\xff\xfe", b"{" * 10):
        with pytest.raises(PayloadError):
            payloads.sonarr(junk)
    with pytest.raises(PayloadError, match="larger"):
        payloads.radarr(b" " * (payloads.MAX_BODY + 1))


def test_a_series_or_a_music_track_is_not_a_file_to_subtitle() -> None:
    doc = json.loads(body("jellyfin/ItemAdded.json")) | {"ItemType": "Series"}
    assert payloads.jellyfin(json.dumps(doc).encode()).action == "other"
    emby = json.loads(body("emby/library.new.json"))
    emby["Item"]["Type"] = "Audio"
    assert payloads.emby(json.dumps(emby).encode()).action == "other"


# ---------------------------------------------------------------- refresh plans


SEASON = [
    Target(f"/data/tv/Show/Season 01/Show - S01E{n:02d}.mkv", f"{n:032x}") for n in range(1, 21)
]


def test_jellyfin_a_few_items_one_refresh_each_a_season_one_call() -> None:
    few = plan_refresh("jellyfin", SEASON[:2], [])
    assert [c.method for c in few] == ["POST", "POST"]
    assert few[0].path.startswith(f"/Items/{SEASON[0].item}/Refresh?metadataRefreshMode=Default")
    season = plan_refresh("jellyfin", SEASON, [])
    assert len(season) == 1
    assert season[0].method == "POST" and season[0].path == "/Library/Media/Updated"
    assert season[0].body == {
        "Updates": [{"Path": t.path, "UpdateType": "Modified"} for t in SEASON]
    }
    # no ids (an arr app's event): one call even for one file
    alone = plan_refresh("emby", [Target("/data/m/F.mkv")], [])
    assert [(c.method, c.path) for c in alone] == [("POST", "/Library/Media/Updated")]


def test_plex_a_few_items_refreshed_a_season_one_partial_scan_of_its_folder() -> None:
    keyed = [Target(t.path, str(n)) for n, t in enumerate(SEASON, start=100)]
    libraries = [Library("Movies", ("/data/movies",), "1"), Library("TV", ("/data/tv",), "2")]
    few = plan_refresh("plex", keyed[:3], libraries)
    assert [(c.method, c.path) for c in few] == [
        ("PUT", "/library/metadata/100/refresh"),
        ("PUT", "/library/metadata/101/refresh"),
        ("PUT", "/library/metadata/102/refresh"),
    ]
    season = plan_refresh("plex", keyed, libraries)
    assert [(c.method, c.path) for c in season] == [
        ("GET", "/library/sections/2/refresh?path=%2Fdata%2Ftv%2FShow%2FSeason%2001")
    ]
    two_seasons = keyed[:10] + [Target(t.path.replace("01", "02"), None) for t in keyed[10:]]
    assert len(plan_refresh("plex", two_seasons, libraries)) == 2
    # a folder in no library: its items' own refreshes, where their keys are known
    lost = [Target("/other/a.mkv", "7"), Target("/other/b.mkv", None), *keyed[:3]]
    calls = plan_refresh("plex", lost, libraries)
    assert ("PUT", "/library/metadata/7/refresh") in [(c.method, c.path) for c in calls]
    assert not any("/other/b.mkv" in c.covers for c in calls)


# ---------------------------------------------------------------- the batching clock


def test_a_batch_waits_for_quiet_but_not_forever_and_never_too_often() -> None:
    r = Refresher()
    delay = 10.0
    assert r.when("j", delay) is None
    r.add("j", Target("/a"), 1, now=0.0)
    assert r.when("j", delay) == 10.0  # quiet for `delay`
    for t in range(1, 60):  # a file every second: the batch still goes at GATHER x delay
        r.add("j", Target(f"/f{t}"), t, now=float(t))
    assert r.when("j", delay) == GATHER * delay
    batch = r.take("j", now=40.0)
    assert len(batch.targets) == 60 and batch.attempts == 1
    assert r.when("j", delay) is None  # one batch in flight per server
    r.done("j")
    r.add("j", Target("/late"), 99, now=41.0)
    assert r.when("j", delay) == 51.0  # quiet, and a full delay after the last send


def test_a_batch_is_held_for_its_folders_waiting_files_unless_someone_plays_one() -> None:
    r = Refresher()
    r.add("j", Target("/s/e01"), 1, now=0.0)
    assert r.when("j", 10.0, hold=True) == HOLD  # episode 2..20 still to come
    assert r.when("j", 10.0, hold=False) == 10.0  # the last of them is done
    r.add("j", Target("/s/e02"), 2, now=5.0, urgent=True)  # ... or someone is watching
    assert r.when("j", 10.0, hold=True) == 15.0


def test_a_failed_batch_backs_off_takes_in_newcomers_then_gives_up() -> None:
    r = Refresher()
    r.add("p", Target("/a"), 1, now=0.0)
    batch = r.take("p", now=10.0)
    r.add("p", Target("/b"), 2, now=11.0)
    assert r.again("p", batch, 10.0, now=12.0)
    assert r.when("p", 10.0) == 12.0 + 20.0  # 2 x delay after the first failure
    merged = r.take("p", now=32.0)
    assert set(merged.targets) == {Target("/a"), Target("/b")} and merged.jobs == {1, 2}
    for _ in range(ATTEMPTS - 2):
        assert r.again("p", merged, 10.0, now=40.0)
        merged = r.take("p", now=100.0)
    assert not r.again("p", merged, 10.0, now=200.0)  # out of tries: the caller warns
    assert r.when("p", 10.0) is None


def test_the_environment_holds_no_key_by_accident() -> None:
    assert "EARWIG_TEST_MEDIA_KEY" not in os.environ


# ---------------------------------------------------------------- late audio, whisperX labels


def test_a_video_whose_audio_starts_late_is_heard_on_the_pictures_clock(
    tmp_path: Path, speech_wav: Path
) -> None:
    from conftest import make_video
    from earwig.mediaservers.bazarr import offset_of
    from earwig.transcribe import audio

    late = make_video(speech_wav, tmp_path / "late.mkv", audio_delay=3.0)
    assert [round(w.offset, 3) for w in audio.windows(late)] == [3.0]
    assert offset_of(late) == 3.0
    prompt = make_video(speech_wav, tmp_path / "prompt.mkv")  # AAC's priming is not a lead
    assert [w.offset for w in audio.windows(prompt)] == [0.0]
    assert offset_of(prompt) == 0.0 and offset_of(speech_wav) == 0.0
    assert offset_of(tmp_path / "missing.mkv") == 0.0


def test_speakers_as_whisperx_labels_them_and_cues_on_the_videos_clock() -> None:
    from earwig.mediaservers.bazarr import on_video_clock, whisperx_label, whisperx_speakers
    from earwig.model import Segment, Transcript, Word

    t = Transcript(
        (
            Segment(0.5, 2.0, " Hello there.", (Word(0.5, 1.0, "Hello"),), speaker="SPEAKER 1"),
            Segment(2.5, 4.0, " Hi.", speaker="Ann"),
            Segment(4.5, 5.0, " Unlabelled."),
        ),
        "en",
        5.0,
        "b",
        "m",
    )
    assert (
        whisperx_label("SPEAKER 1") == "SPEAKER_00" and whisperx_label("SPEAKER 12") == "SPEAKER_11"
    )
    labelled = whisperx_speakers(t)
    assert [s.speaker for s in labelled.segments] == ["SPEAKER_00", "Ann", None]
    assert [s.text for s in labelled.segments] == [s.text for s in t.segments]  # as spoken
    moved = on_video_clock(t, 3.0)
    assert [(s.start, s.end) for s in moved.segments] == [(3.5, 5.0), (5.5, 7.0), (7.5, 8.0)]
    assert moved.segments[0].words[0].start == 3.5 and moved.duration == 8.0
    assert on_video_clock(t, 0.0) is t


def test_diarized_asr_answers_label_every_line_and_cue_as_whisperx_writes_them() -> None:
    """whisperX's writers put `[SPEAKER_00]: ` before every txt line and every srt/vtt cue;
    a segment too long for one cue takes several, each labelled (Bazarr shows each cue on its
    own, so an unlabelled one reads as nobody's)."""
    from earwig.mediaservers.bazarr import whisperx_speakers
    from earwig.model import Segment, Transcript
    from earwig.web import formats

    long = "Welcome back to the show. Today we are talking about rivers and bridges and roads."
    t = whisperx_speakers(
        Transcript(
            (
                Segment(0.0, 6.0, " " + long, speaker="SPEAKER 1"),
                Segment(6.5, 8.0, " Thanks for having me.", speaker="SPEAKER 2"),
            ),
            "en",
            8.0,
            "b",
            "m",
        )
    )
    srt = formats.asr_body(t, "srt", labels=True)
    cues = [block.split("\n", 2)[2] for block in srt.strip().split("\n\n")]
    assert len(cues) >= 3, srt  # the long segment took more than one cue
    assert all(c.startswith(("[SPEAKER_00]: ", "[SPEAKER_01]: ")) for c in cues), cues
    assert cues[-1] == "[SPEAKER_01]: Thanks for having me."
    assert " ".join(c.removeprefix("[SPEAKER_00]: ") for c in cues[:-1]).split() == long.split()
    vtt = formats.asr_body(t, "vtt", labels=True).split("\n\n")[1:-1]
    assert len(vtt) == len(cues) and all(c.split("\n", 1)[1].startswith("[SPEAKER_0") for c in vtt)
    assert formats.asr_body(t, "txt", labels=True) == (
        f"[SPEAKER_00]: {long}\n[SPEAKER_01]: Thanks for having me.\n"
    )
    for output in ("txt", "srt", "vtt"):  # no labels unless asked
        assert "[SPEAKER" not in formats.asr_body(t, output)


def test_a_speaker_count_outside_min_and_max_is_clustered_again_at_the_bound() -> None:
    """/asr's min_speakers / max_speakers (whisperX's): the found count is kept within them."""
    import numpy as np

    from earwig.model import Segment, Transcript
    from earwig.speakers.diarize import Diarization, Turn
    from earwig.transcribe.pipeline import _label_speakers

    class Voices:
        """Stands for speakers/diarize.Voices: finds `found` voices unless told how many."""

        def __init__(self, found: int) -> None:
            self.found = found
            self.asked: list[int | None] = []

        def finish(self, speakers: int | None = None) -> Diarization:
            self.asked.append(speakers)
            n = speakers or self.found
            voices = [np.eye(8)[i] for i in range(n)]
            turns = [Turn(float(i), float(i) + 0.9, i) for i in range(n)]
            return Diarization(turns, voices, voices)

    t = Transcript(
        tuple(Segment(float(i), i + 0.9, f"line {i}") for i in range(5)), "en", 5, "b", "m"
    )
    for found, bounds, asked in [
        (5, (2, 3), [None, 3]),  # too many: clustered again at the most
        (1, (2, 4), [None, 2]),  # too few: at the least
        (3, (2, 4), [None]),  # within: kept
        (5, (None, None), [None]),  # no bounds: as found
    ]:
        voices = Voices(found)
        labelled = _label_speakers(t, voices, None, [], bounds)
        assert voices.asked == asked, (found, bounds)
        assert len({s.speaker for s in labelled.segments if s.speaker}) == (asked[-1] or found)
