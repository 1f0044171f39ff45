"""The dashboard's words, from the pure functions that make them (formatting, steering, the
add dialog's completion): keys instead of commands, times people read, one question."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from earwig import formatting
from earwig import protocol as p
from earwig.tui import steering
from earwig.tui.dialogs import complete_path


def job(**fields: Any) -> p.JobView:
    base = {"id": 7, "title": "talk.mp3", "state": "transcribing", "path": None, "url": None}
    return cast(p.JobView, {**base, **fields})


def test_hints_name_the_key_not_the_command() -> None:
    assert formatting.key_hint("`earwig retry 7` transcribes it again", 7) == (
        "press r transcribes it again"
    )
    assert formatting.key_hint("the job has finished; `earwig retry` queues it again", 7) == (
        "the job has finished; press r queues it again"
    )
    assert formatting.key_hint("`earwig cancel 7` first", 7) == "press c first"
    # another job's command, or options a key cannot give, stay as they are
    assert formatting.key_hint("`earwig retry 8` instead", 7) == "`earwig retry 8` instead"
    kept = "`earwig retry 7 --model base`"
    assert formatting.key_hint(kept, 7) == kept


def test_next_check_reads_as_a_time_from_now() -> None:
    now = 1_000_000.0
    assert formatting.until(now + 2 * 3600 + 56 * 60, now) == "in 2h 56m"
    assert formatting.until(now + 300, now) == "in 5m"
    assert formatting.until(now + 3 * 86400 + 4 * 3600, now) == "in 3d 4h"
    assert formatting.until(now - 5, now) == "due now"
    assert formatting.until(None, now) == "-"


def test_one_question_before_work_is_lost_and_none_when_nothing_is() -> None:
    running = job(progress={"fraction": 0.38})
    asked = steering.question("job.cancel", [running], [])
    assert asked is not None
    assert asked[0] == "Cancel #7 talk.mp3?"
    assert "#7 is transcribing (38%)" in asked[1] and "lost" in asked[1]
    assert steering.question("job.cancel", [job(state="queued")], []) is None
    paused = steering.question("job.pause", [running], [])
    assert paused is not None and "none finished yet" in paused[1]
    assert "p goes on from there" in paused[1] and "lost" not in paused[1]
    kept = steering.question("job.pause", [job(progress={"fraction": 0.5}, saved=600.0)], [])
    assert (
        kept is not None and "(up to ten minutes of audio each; the first 10:00 so far)" in kept[1]
    )
    assert steering.question("job.retry", [job(state="failed")], []) is None


def test_delete_says_what_happens_to_a_watched_file(tmp_path: Path) -> None:
    watched = tmp_path / "inbox"
    one = job(state="done", path=str(watched / "talk.mp3"))
    two = job(id=8, state="transcribing", title="b.mp3", path=str(tmp_path / "b.mp3"))
    asked = steering.question("job.delete", [one, two], [str(watched)])
    assert asked is not None
    question, detail = asked
    assert question == "Delete 2 jobs?"
    assert f"in the watched folder {watched}" in detail
    assert "does not queue it again" in detail and "cancelled first" in detail
    assert "`earwig" not in detail  # the dashboard's words: Ctrl+P, not the CLI
    url = job(state="done", url="https://example.org/a.mp3", path="/cache/a.mp3")
    only_url = steering.question("job.delete", [url], [str(watched)])
    assert only_url is not None and "media file" not in only_url[1]


def test_bulk_actions_skip_jobs_they_mean_nothing_for() -> None:
    assert steering.applies("job.retry", job(state="failed"))
    assert not steering.applies("job.retry", job(state="transcribing"))
    assert steering.applies("job.prioritize", job(state="queued"))
    assert not steering.applies("job.prioritize", job(state="done"))


def test_tab_completes_a_path_as_a_shell_does(tmp_path: Path) -> None:
    tmp_path = tmp_path / "media"
    tmp_path.mkdir()
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpine").mkdir()
    (tmp_path / "beta.wav").write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"")
    assert complete_path(f"{tmp_path}/al") == (f"{tmp_path}/alp", ["alpha/", "alpine/"])
    assert complete_path(f"{tmp_path}/b") == (f"{tmp_path}/beta.wav", ["beta.wav"])
    assert complete_path(f"{tmp_path}/alpha") == (f"{tmp_path}/alpha/", ["alpha/"])
    assert complete_path(f"{tmp_path}/")[1] == ["alpha/", "alpine/", "beta.wav"]
    assert complete_path(f"{tmp_path}/zz") == (f"{tmp_path}/zz", [])


def test_a_progress_cell_never_cuts_its_words() -> None:
    """Issue 39, item 13: "2% decoding 2:02" was cut in the 22-cell column at 120 columns:
    the bar gives up cells first, then the time left."""
    running = job(progress={"fraction": 0.02, "phase": "decoding", "eta": 122.0})
    wide = formatting.progress_bar(running, 6)
    assert wide == "░░░░░░   2% decoding 2:02" and len(wide) > 22
    assert formatting.progress_bar(running, 6, 22) == "░░░   2% decoding 2:02"
    assert formatting.progress_bar(running, 6, 18) == "░░░   2% decoding"
    assert formatting.progress_bar(running, 6, 40) == wide  # room enough: as it was
