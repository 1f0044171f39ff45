"""The spine, end to end: a real `earwig run` process, real folders, real model, real files."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

from conftest import SECOND_TEXT, Home, make_video
from earwig import protocol as p
from earwig.speech import SAMPLE_TEXT
from helpers import DaemonProcess, run_cli, wait_for, wer


def done_jobs(daemon: DaemonProcess) -> list[p.JobView]:
    return [j for j in daemon.jobs() if j["state"] == "done"]


def test_wav_and_mp3_become_transcripts_in_every_format(
    home: Home, daemon: DaemonProcess, speech_mp3: Path, second_wav: Path
) -> None:
    shutil.copy(second_wav, home.watch / "morning.wav")
    shutil.copy(speech_mp3, home.watch / "meeting.mp3")
    jobs = daemon.wait_idle(2)
    assert [j["state"] for j in jobs] == ["done", "done"], jobs

    for stem, script in (("morning", SECOND_TEXT), ("meeting", SAMPLE_TEXT)):
        txt = (home.out / f"{stem}.txt").read_text()
        assert wer(script, txt) < 0.35, txt
        srt = (home.out / f"{stem}.srt").read_text()
        assert re.match(r"1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S", srt)
        vtt = (home.out / f"{stem}.vtt").read_text()
        assert vtt.startswith("WEBVTT\n\n00:00:")
        tsv = (home.out / f"{stem}.tsv").read_text().splitlines()
        assert tsv[0] == "start\tend\ttext" and len(tsv) >= 2
        doc = json.loads((home.out / f"{stem}.json").read_text())
        assert doc["language"] == "en" and doc["backend"] == "faster-whisper"
        assert doc["source"].endswith(f"{stem}.{'wav' if stem == 'morning' else 'mp3'}")
        assert doc["segments"] and all(s["end"] >= s["start"] for s in doc["segments"])
        assert wer(script, " ".join(s["text"] for s in doc["segments"])) < 0.35

    job = next(j for j in jobs if j["title"] == "meeting.mp3")
    assert job["backend"] == "faster-whisper" and "tiny.en" in (job["model"] or "")
    assert set(job["times"]) >= {"queued", "fetching", "transcribing", "done"}
    assert len(job["outputs"]) == 5
    # The transcript is in the database too.
    shown = daemon.call(p.GetJob(id=job["id"], transcript=True))
    assert wer(SAMPLE_TEXT, " ".join(s["text"] for s in shown["transcript"]["segments"])) < 0.35


def test_a_slow_copy_becomes_exactly_one_complete_job(
    home: Home, daemon: DaemonProcess, long_wav: Path
) -> None:
    data = long_wav.read_bytes()
    target = home.watch / "slow.wav"
    chunk = len(data) // 20
    with open(target, "wb") as fh:  # a copy that takes ~2 s, slower than the watcher's debounce
        for i in range(0, len(data), chunk):
            fh.write(data[i : i + chunk])
            fh.flush()
            time.sleep(0.1)  # the scenario (a slow writer), not synchronisation
    jobs = daemon.wait_idle(1)
    assert len(jobs) == 1, jobs
    assert jobs[0]["state"] == "done" and jobs[0]["size"] == len(data)
    assert (jobs[0]["duration"] or 0) > 50  # the whole minute, not a prefix


def test_an_rsync_style_temp_name_renamed_at_the_end_is_picked_up_once(
    home: Home, daemon: DaemonProcess, second_wav: Path
) -> None:
    temp = home.watch / ".morning.wav.Xy12Ab"
    shutil.copy(second_wav, temp)
    (home.watch / "draft.wav.part").write_bytes(second_wav.read_bytes())  # never renamed
    temp.rename(home.watch / "morning.wav")
    jobs = daemon.wait_idle(1)
    assert [(j["title"], j["state"]) for j in jobs] == [("morning.wav", "done")]


def test_files_that_arrived_while_the_daemon_was_down_are_picked_up(
    home: Home, second_wav: Path
) -> None:
    (home.watch / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(second_wav, home.watch / "nested" / "deeper" / "morning.wav")
    daemon = home.daemon().start()
    try:
        jobs = daemon.wait_idle(1)
        assert jobs[0]["state"] == "done"
        # The sub-folder is mirrored below the output dir.
        assert (home.out / "nested" / "deeper" / "morning.txt").exists()
        daemon.stop()
        # A restart does not queue it again.
        daemon = home.daemon().start()
        daemon.call(p.GetStatus())
        wait_for(
            lambda: any("ready" in e["message"] for e in daemon.call(p.TailLogs())["log"][-3:])
        )
        assert len(daemon.jobs()) == 1
    finally:
        daemon.kill()


def test_the_same_content_is_transcribed_once(
    home: Home, daemon: DaemonProcess, second_wav: Path
) -> None:
    shutil.copy(second_wav, home.watch / "morning.wav")
    daemon.wait_idle(1)
    shutil.copy(second_wav, home.watch / "morning-copy.wav")
    wait_for(
        lambda: any(
            "skipped morning-copy.wav" in e["message"] for e in daemon.call(p.TailLogs())["log"]
        ),
        what="the duplicate to be noticed",
    )
    cli = run_cli(home.config, "add", str(second_wav))
    assert cli.returncode == 0, cli.stderr
    assert "skipped" in cli.stdout and "same content as #1" in cli.stdout
    assert len(daemon.jobs()) == 1
    # Asked explicitly, it is transcribed again.
    cli = run_cli(home.config, "add", "--force", str(second_wav))
    assert cli.returncode == 0 and "queued #2" in cli.stdout, cli.stdout + cli.stderr
    assert [j["state"] for j in daemon.wait_idle(2)] == ["done", "done"]


def test_bad_media_fails_with_a_reason_and_the_next_file_still_succeeds(
    home: Home, daemon: DaemonProcess, speech_mp3: Path, second_wav: Path
) -> None:
    corrupt = bytearray(speech_mp3.read_bytes())
    corrupt[200:] = bytes(len(corrupt) - 200)  # keep the header, zero the audio
    (home.watch / "corrupt.mp3").write_bytes(bytes(corrupt))
    (home.watch / "notes.wav").write_text("not audio at all\n" * 100)
    wait_for(lambda: len(daemon.jobs()) >= 2, what="both bad files to be queued")
    shutil.copy(second_wav, home.watch / "good.wav")
    jobs = {j["title"]: j for j in daemon.wait_idle(3)}
    assert jobs["good.wav"]["state"] == "done"
    for name in ("corrupt.mp3", "notes.wav"):
        assert jobs[name]["state"] == "failed", jobs[name]
        assert name in (jobs[name]["error"] or "")
        assert "playable audio or video" in (jobs[name]["hint"] or "")
    # The user can see why, from the CLI.
    shown = run_cli(home.config, "show", str(jobs["notes.wav"]["id"]))
    assert "error" in shown.stdout and "notes.wav" in shown.stdout


def test_kill_9_mid_transcription_then_restart_loses_nothing(
    home: Home, long_wav: Path, second_wav: Path
) -> None:
    daemon = home.daemon().start()
    shutil.copy(long_wav, home.watch / "long.wav")
    daemon.wait_job(lambda j: j["state"] == "transcribing", what="transcription to start")
    run_cli(home.config, "add", str(second_wav))  # queued behind it
    daemon.kill()  # SIGKILL: no cleanup at all

    daemon = home.daemon().start()
    try:
        jobs = {j["title"]: j for j in daemon.wait_idle(2)}
        assert jobs["long.wav"]["state"] == "done" and jobs["long.wav"]["attempts"] == 1
        assert jobs["morning.wav"]["state"] == "done"
        assert (home.out / "long.txt").read_text().strip()
        log = [e["message"] for e in daemon.call(p.TailLogs(limit=50))["log"]]
        assert any("recovered after an interruption: long.wav" in m for m in log)
    finally:
        daemon.kill()


def test_two_sources_with_the_same_name_never_clobber_each_other(
    home: Home, daemon: DaemonProcess, speech_wav: Path, second_wav: Path, tmp_path: Path
) -> None:
    shutil.copy(second_wav, home.watch / "talk.wav")
    daemon.wait_idle(1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(speech_wav, elsewhere / "talk.wav")
    cli = run_cli(home.config, "add", str(elsewhere / "talk.wav"))
    assert cli.returncode == 0, cli.stderr
    daemon.wait_idle(2)
    assert wer(SECOND_TEXT, (home.out / "talk.txt").read_text()) < 0.35
    assert wer(SAMPLE_TEXT, (home.out / "talk (2).txt").read_text()) < 0.35
    # which source "talk (2)" is, and whose "talk" it gave way to (issue 39, item 13)
    done = [e["message"] for e in daemon.call(p.TailLogs(limit=50))["log"]]
    line = next(m for m in done if m.startswith("done: talk.wav -> ") and "(2)" in m)
    assert f"talk.* is {home.watch / 'talk.wav'}'s" in line, line


def test_a_beside_folder_gets_subtitles_next_to_its_videos_and_skips_subtitled_ones(
    home: Home, tmp_path: Path, second_wav: Path, speech_wav: Path
) -> None:
    """A media library (Jellyfin, Plex...): `Movie (2019).mkv` gets `Movie (2019).en.srt`
    beside it; a video with its own .en.srt and one with an embedded subtitle stream are
    left alone until retried; nothing goes to the output folder."""
    home.write_config(extra='output = "beside"')
    made = tmp_path / "made"
    made.mkdir()
    movie = make_video(second_wav, made / "Movie (2019).mkv")
    shows = home.watch / "Shows"
    shows.mkdir()
    shutil.copy(movie, shows / "Other.mkv")
    theirs = shows / "Other.en.srt"
    theirs.write_text("1\n00:00:00,000 --> 00:00:01,000\nTheir own subtitle.\n")
    make_video(second_wav, home.watch / "Embedded.mkv", subtitle_language="eng")
    daemon = home.daemon().start()
    try:
        shutil.copy(movie, home.watch / "Movie (2019).mkv")
        jobs = {j["title"]: j for j in daemon.wait_idle(3)}
        done = jobs["Movie (2019).mkv"]
        assert done["state"] == "done", done
        srt = home.watch / "Movie (2019).en.srt"
        assert done["outputs"] == [str(srt)]
        cues = [b.split("\n")[2:] for b in srt.read_text().strip().split("\n\n")]
        assert all(1 <= len(lines) <= 2 for lines in cues)  # cues made for reading
        assert wer(SECOND_TEXT, " ".join(" ".join(lines) for lines in cues)) < 0.35
        assert not home.out.exists() or not any(home.out.iterdir())  # nothing elsewhere
        for title, why in (("Other.mkv", "subtitle file"), ("Embedded.mkv", "embedded")):
            job = jobs[title]
            assert job["state"] == "cancelled" and why in (job["hint"] or ""), job
            assert f"earwig retry {job['id']}" in (job["hint"] or "")
        assert sorted(p.name for p in shows.iterdir()) == ["Other.en.srt", "Other.mkv"]
        # retry makes earwig's subtitles anyway, and never overwrites theirs
        other = jobs["Other.mkv"]
        assert run_cli(home.config, "retry", str(other["id"])).returncode == 0
        again = daemon.wait_job(
            lambda j: j["id"] == other["id"] and j["state"] == "done", what="the retry"
        )
        assert again["outputs"] == [str(shows / "Other.earwig.en.srt")]
        assert theirs.read_text().endswith("Their own subtitle.\n")
        daemon.stop()
        # A restart looks at none of them again. A file added after the restart is the
        # marker: once its job exists, any known file wrongly taken up again would have been
        # queued before it (the start-up scan notes files before the watch's first event).
        daemon = home.daemon().start()
        shutil.copy(theirs, home.watch / "New.en.srt")
        shutil.copy(movie, home.watch / "New.mkv")
        daemon.wait_job(lambda j: j["title"] == "New.mkv", what="the new file's job")
        titles = sorted(j["title"] for j in daemon.wait_idle(4))
        assert titles == ["Embedded.mkv", "Movie (2019).mkv", "New.mkv", "Other.mkv"], titles
        # `earwig add` of a file inside the folder follows the folder's rule
        added = make_video(speech_wav, shows / "Added.mkv")
        out = run_cli(home.config, "add", str(added))
        assert out.returncode == 0, out.stderr
        job = daemon.wait_job(lambda j: j["title"] == "Added.mkv" and j["state"] == "done")
        assert job["outputs"] == [str(shows / "Added.en.srt")]
        out = run_cli(home.config, "add", str(home.watch / "Embedded.mkv"))
        assert "skipped" in out.stdout and "subtitle" in out.stdout, out.stdout
        assert len(daemon.jobs()) == 5  # the skipped file's job, not a second one
    finally:
        daemon.kill()
