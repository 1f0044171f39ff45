"""What the README promises, the command line keeps: each test here is a bullet of an issue
found by using earwig as a new user would (real daemon, real CLI processes, real model)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import Home, encode
from earwig.speech import SAMPLE_TEXT
from helpers import run_cli, wait_for, wer


def transcribe(home: Home, *args: str) -> subprocess.CompletedProcess:
    return run_cli(home.config, "transcribe", *args, timeout=300)


def test_earwig_transcribe_never_overwrites_another_sources_transcript(
    home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    flac = encode(speech_wav, tmp_path / "talk.flac", "flac")
    wav = tmp_path / "talk.wav"
    shutil.copy(speech_wav, wav)
    out = tmp_path / "out"
    done = transcribe(home, str(wav), str(flac), "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    first, second = out / "talk.json", out / "talk (2).json"
    assert json.loads(first.read_text())["source"] == str(wav)
    assert json.loads(second.read_text())["source"] == str(flac)
    # piped, each file gets one whole line (no progress bar cut at 80 columns)
    assert f"-> {out / 'talk'}.*" in done.stdout and "(2)" in done.stdout, done.stdout

    again = transcribe(home, str(flac), "--output-dir", str(out))  # the same source again
    assert again.returncode == 0, again.stderr
    assert not (out / "talk (3).json").exists()  # it replaced its own files, nobody else's
    assert json.loads(first.read_text())["source"] == str(wav)

    # a transcript in the daemon's output folder that earwig cannot attribute is left alone
    home.out.mkdir(parents=True)
    (home.out / "talk.txt").write_text("someone else's notes\n")
    ok = transcribe(home, str(wav))
    assert ok.returncode == 0, ok.stderr
    assert (home.out / "talk.txt").read_text() == "someone else's notes\n"
    assert wer(SAMPLE_TEXT, (home.out / "talk (2).txt").read_text()) < 0.35


def test_output_dir_that_cannot_be_used_is_refused_plainly(
    home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    for target in (a_file, a_file / "below", Path("/proc/earwig-cannot-write-here")):
        out = transcribe(home, str(speech_wav), "--output-dir", str(target))
        assert out.returncode == 1, (target, out.stderr)
        assert "cannot write transcripts" in out.stderr + out.stdout
        assert "Traceback" not in out.stderr


def test_output_line_width_and_lines_shape_the_subtitle_cues(
    home: Home, speech_wav: Path, tmp_path: Path
) -> None:
    """[output] line_width and lines reach the .srt and .vtt written (the cue rules,
    earwig/cues.py): one line of at most 20 characters a cue here, not the norms' 2 x 42."""
    home.config.write_text(
        home.config.read_text().replace("[output]\n", "[output]\nline_width = 20\nlines = 1\n")
    )
    out = tmp_path / "out"
    done = transcribe(
        home, str(speech_wav), "--format", "srt", "--format", "vtt", "--output-dir", str(out)
    )
    assert done.returncode == 0, done.stderr
    for name in ("meeting.srt", "meeting.vtt"):
        blocks = (out / name).read_text().strip().split("\n\n")
        cues = [b.splitlines()[2 if name.endswith("srt") else 1 :] for b in blocks if "-->" in b]
        assert len(cues) >= 5, (name, cues)  # a 9 s notice in lines of 20 characters
        for lines in cues:
            assert len(lines) == 1 and len(lines[0]) <= 20, (name, cues)
    words = " ".join(line for b in cues for line in b)
    assert wer(SAMPLE_TEXT, words) < 0.35, words  # every word still there


def test_watch_folders_take_every_media_pyav_reads_and_say_what_they_skip(
    home: Home, speech_wav: Path, second_wav: Path
) -> None:
    """.mts (camcorder), a file without an extension (probed), a text file with an odd
    extension (probed, skipped, logged once), a duplicate (skipped, not re-hashed after a
    restart)."""
    encode(speech_wav, home.watch / "camcorder.mts", "mp2")
    shutil.copy(second_wav, home.watch / "recording")  # no extension: PyAV decides
    (home.watch / "notes.xyz").write_text("not media at all\n")
    daemon = home.daemon().start()
    try:
        jobs = daemon.wait_idle(2)
        assert sorted((j["title"], j["state"]) for j in jobs) == [
            ("camcorder.mts", "done"),
            ("recording", "done"),
        ], jobs
        shutil.copy(home.watch / "recording", home.watch / "copy.wav")
        wait_for(lambda: "skipped copy.wav: same content" in daemon.log(), 30, what="dup skipped")
        wait_for(lambda: "skipped" in daemon.log() and "notes.xyz" in daemon.log(), 30, what="xyz")
        assert "no sound" in daemon.log()
    finally:
        assert daemon.stop() == 0
    before = daemon.log().count("skipped")
    daemon = home.daemon().start()  # the start-up scan: neither hashed nor logged again
    try:
        assert len(daemon.jobs()) == 2
    finally:
        assert daemon.stop() == 0
    assert daemon.log().count("skipped") == before, daemon.log()


def test_the_cli_for_a_running_daemon(
    home: Home, speech_wav: Path, second_wav: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "lectures"
    (folder / "week 1").mkdir(parents=True)
    shutil.copy(speech_wav, folder / "week 1" / "intro.wav")
    shutil.copy(second_wav, folder / "morning.mp3.part")  # still downloading: ignored
    shutil.copy(second_wav, folder / ".hidden.wav")
    (folder / "slides.pdf").write_bytes(b"%PDF-1.4")
    daemon = home.daemon().start()
    try:
        # `earwig add FOLDER` queues its media, recursively, by the watcher's rules
        added = run_cli(home.config, "add", str(folder))
        assert added.returncode == 0, added.stderr
        assert added.stdout.count("queued #") == 1 and "intro.wav" in added.stdout
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done"
        notes = run_cli(home.config, "export", str(job["id"]), "--stdout")  # a file job
        assert notes.returncode == 0 and notes.stdout.startswith("---\ntitle: ")
        assert "**00:00**" in notes.stdout and f'source: "{folder}' in notes.stdout
        broken = tmp_path / ("a very long name " * 6 + ".wav")
        broken.write_bytes(b"RIFF" + b"\x00" * 4000)  # not playable: a failed job, long error
        run_cli(home.config, "add", str(broken))
        daemon.wait_job(lambda j: j["state"] == "failed", 60, what="the broken file fails")
        listing = run_cli(home.config, "jobs")  # piped: one line per job, however long
        assert len(listing.stdout.strip().splitlines()) == 1 + 2, listing.stdout
        empty = tmp_path / "empty"
        empty.mkdir()
        none = run_cli(home.config, "add", str(empty))
        assert none.returncode == 1 and "no audio or video files" in none.stderr

        # --config after the command name too
        st = subprocess.run(
            [sys.executable, "-m", "earwig", "status", "--config", str(home.config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert st.returncode == 0 and "running" in st.stdout, st.stderr
        assert json.loads(run_cli(home.config, "status", "--json").stdout)["running"] is True

        # arguments checked by the CLI, in the CLI's words (exit 2: usage)
        for args, words in (
            (["jobs", "--state", "bogus"], "'bogus' is not one of"),
            (["jobs", "--limit", "0"], "--limit"),
            (["logs", "-n", "0"], "--lines"),
            (["subscribe", "https://example.org/feed.xml", "--every", "0s"], "at least a minute"),
            (["backends", "--pin"], "--pin needs --bench"),
        ):
            out = run_cli(home.config, *args)
            assert out.returncode == 2 and words in out.stderr, (args, out.stderr)
            assert "Traceback" not in out.stderr and "params." not in out.stderr
            assert "backend" not in out.stdout  # --pin refused before printing the table
        done = run_cli(home.config, "jobs", "--state", "cancelled")
        assert "no jobs cancelled (2 job(s) in all)" in done.stdout, done.stdout
        paged = run_cli(home.config, "jobs", "--offset", "1")
        assert paged.returncode == 0 and "intro.wav" in paged.stdout  # newest first: the
        assert "very long name" not in paged.stdout  # broken one is the one skipped

        # a broken config (after a typo) does not lock clients out of the running daemon
        good = home.config.read_text()
        home.config.write_text(good.replace("[transcribe]\n", "[transcribe]\nbeam_sise = 3\n"))
        for args in (["status"], ["logs", "-n", "5"], ["jobs"]):
            out = run_cli(home.config, *args)
            assert out.returncode == 0, (args, out.stderr)
            assert "warning:" in out.stderr and "beam_sise" in out.stderr
        bad = run_cli(home.config, "config", "check")
        assert bad.returncode == 78 and "did you mean 'beam_size'" in bad.stderr
        home.config.write_text(good + "\n[transcribe]\n")  # not even TOML: [daemon] still read
        out = run_cli(home.config, "status")
        assert out.returncode == 0 and "not valid TOML" in out.stderr, out.stderr
    finally:
        assert daemon.stop() == 0
    down = run_cli(home.config, "status", "--json")
    assert down.returncode == 3 and json.loads(down.stdout)["running"] is False


def test_config_example_path_and_check(home: Home, tmp_path: Path) -> None:
    example = run_cli(home.config, "config", "example")
    assert example.returncode == 0 and "[transcribe]" in example.stdout
    copy = tmp_path / "fresh.toml"
    copy.write_text(example.stdout)  # the printed example is a valid config as it is
    assert run_cli(copy, "config", "check").returncode == 0
    # every mistake at once, not one per run (issue 39, item 13)
    broken = tmp_path / "broken.toml"
    broken.write_text(
        'bogus = 1\n[transcribe]\nmodel = 5\nworkerz = 2\n[[watch]]\npath = "/tmp"\nrecurse = 1\n'
    )
    checked = run_cli(broken, "config", "check")
    assert checked.returncode == 78 and not checked.stdout
    errors = [line for line in checked.stderr.splitlines() if line.startswith("error: ")]
    assert [e.split(": ", 2)[2] for e in errors] == [
        "unknown key 'bogus'",
        "unknown key [transcribe] 'workerz'",
        "[transcribe] model = 5 is not valid",
        "unknown key [watch[0]] 'recurse'",
    ], checked.stderr
    assert "did you mean 'workers'?" in checked.stderr and "recursive" in checked.stderr
    where = run_cli(home.config, "config", "path")
    assert where.stdout.strip() == str(home.config)
    editor = tmp_path / "editor.sh"  # an "editor" that changes one value, like a user would
    editor.write_text('#!/bin/sh\nsed -i "s/^max_attempts = 3/max_attempts = 5/" "$1"\n')
    editor.chmod(0o755)
    new = tmp_path / "new" / "config.toml"
    edited = subprocess.run(
        [sys.executable, "-m", "earwig", "--config", str(new), "config", "edit"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EDITOR": str(editor), "VISUAL": ""},
    )
    assert edited.returncode == 0, edited.stderr
    assert "max_attempts = 5" in new.read_text() and "is valid" in edited.stdout


def test_earwig_models_is_one_aligned_table(home: Home) -> None:
    out = run_cli(home.config, "models")
    assert out.returncode == 0, out.stderr
    rows = [
        line for line in out.stdout.splitlines() if "English only" in line or "multilingual" in line
    ]
    starts = {max(line.find("English only"), line.find("multilingual")) for line in rows}
    assert len(rows) > 10 and len(starts) == 1, out.stdout  # one column, every row
    assert "Systran/faster-whisper-large-v3" in out.stdout  # not cut at 80 columns
