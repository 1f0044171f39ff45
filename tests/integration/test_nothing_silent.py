"""Nothing silently wrong. A deleted job's file stays deleted: the next start's scan of its
folder does not queue it again, a plain `earwig add` says why it is left out, and `earwig add
--force` brings it back. A truncated file ends done, with a warning that says where its audio
stops. A real daemon, restarted, on a real watch folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import Home
from helpers import run_cli, wait_for


def test_delete_then_restart_nothing_is_queued_again(
    home: Home, speech_wav: Path, second_wav: Path
) -> None:
    kept = home.watch / "meeting.wav"
    shutil.copy(speech_wav, kept)
    daemon = home.daemon().start()
    try:
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done", job
        deleted = run_cli(home.config, "delete", str(job["id"]))
        assert deleted.returncode == 0, deleted.stderr
        assert "stays out of the queue" in deleted.stdout
        assert f"earwig add --force {kept}" in deleted.stdout
        assert daemon.stop() == 0
        daemon = home.daemon().start()  # its start-up scan sees meeting.wav again
        shutil.copy(second_wav, home.watch / "morning.wav")  # and this one, after it
        (later,) = daemon.wait_idle(1)
        assert later["title"] == "morning.wav" and later["state"] == "done", later
        assert [j["title"] for j in daemon.jobs()] == ["morning.wav"]

        plain = run_cli(home.config, "add", str(kept))
        assert plain.returncode == 0, plain.stderr
        said = plain.stdout + plain.stderr
        assert "deleted" in said and "--force" in said, said
        assert [j["title"] for j in daemon.jobs()] == ["morning.wav"]

        forced = run_cli(home.config, "add", "--force", str(kept))
        assert forced.returncode == 0, forced.stderr
        assert "queued" in forced.stdout, forced.stdout
        jobs = daemon.wait_idle(2)
        assert sorted(j["title"] for j in jobs) == ["meeting.wav", "morning.wav"]
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.kill()


def test_a_truncated_file_ends_done_with_a_warning_naming_where(
    home: Home, long_wav: Path, tmp_path: Path
) -> None:
    from conftest import encode

    whole = encode(long_wav, tmp_path / "talk.mp3", "mp3").read_bytes()
    cut = home.watch / "talk.mp3"
    cut.write_bytes(whole[: len(whole) // 2])  # a download that stopped half way
    daemon = home.daemon().start()
    try:
        (job,) = daemon.wait_idle(1)
    finally:
        daemon.kill()
    assert job["state"] == "done", job
    (warning,) = [w for w in job["warnings"] if "the audio ends at" in w]
    assert "truncated" in warning and "the file says it lasts" in warning, warning
    assert (home.out / "talk.txt").read_text().strip()  # what was there is transcribed


def test_an_empty_file_is_said_once_not_at_every_start_and_taken_once_it_fills(
    home: Home, speech_wav: Path, second_wav: Path
) -> None:
    """Issue 39, item 13: "skipped ... for now: it is empty" came again at every start. It
    is said once and remembered; the file is transcribed once it has content."""
    empty = home.watch / "later.wav"
    empty.touch()
    daemon = home.daemon().start()
    said = "for now: it is empty"

    def lines() -> list[str]:
        return [line for line in run_cli(home.config, "logs").stdout.splitlines() if said in line]

    wait_for(lines, 60, what="the empty file said")
    assert daemon.stop() == 0
    daemon = home.daemon().start()  # its scan passes the empty file by, quietly
    shutil.copy(second_wav, home.watch / "morning.wav")  # found after the scan
    (done,) = daemon.wait_idle(1)
    assert done["title"] == "morning.wav"
    assert len(lines()) == 1, lines()
    # not only in the log: earwig status names it while it stays empty
    said_empty = f"  empty    {empty}: skipped for now, taken once it has content"
    assert said_empty in run_cli(home.config, "status").stdout.splitlines()
    shutil.copy(speech_wav, empty)  # it fills: now it is a recording
    jobs = daemon.wait_idle(2)
    assert sorted(j["title"] for j in jobs) == ["later.wav", "morning.wav"]
    assert "  empty  " not in run_cli(home.config, "status").stdout
