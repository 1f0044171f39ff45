"""The store on a real SQLite file: schema, job round trips, queue order, transcripts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from earwig.errors import NotFound, StoreError
from earwig.migrations import SCHEMA_VERSION
from earwig.model import Job, JobState, Segment, Transcript
from earwig.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "earwig.db")


def new_job(**kw: Any) -> Job:
    base: dict[str, Any] = dict(
        id=None, source="cli", title="a.wav", path="/m/a.wav", created_at=1.0, times={"queued": 1.0}
    )
    base.update(kw)
    return Job(**base)


def ident(job: Job | None) -> int:
    """The id of a job the store saved (failing the test if there is no such job)."""
    assert job is not None and job.id is not None
    return job.id


def test_fresh_database_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    Store(tmp_path / "e.db").close()
    conn = sqlite3.connect(tmp_path / "e.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"jobs", "transcripts", "segments", "log"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    s = Store(tmp_path / "e.db")
    job = s.add_job(new_job())
    s.close()
    s2 = Store(tmp_path / "e.db")
    assert s2.get_job(ident(job)).title == "a.wav"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "e.db").close()
    conn = sqlite3.connect(tmp_path / "e.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    with pytest.raises(StoreError, match="newer earwig"):
        Store(tmp_path / "e.db")


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(path)


def test_job_round_trip_keeps_every_field(store: Store) -> None:
    job = store.add_job(
        new_job(
            sha256="ab" * 32,
            size=10,
            mtime=2.5,
            outputs=("x.txt", "x.srt"),
            force=True,
            times={"queued": 1.0, "failed": 3.0},
            state=JobState.FAILED,
            error="e",
            hint="h",
        )
    )
    assert job.id is not None
    assert store.get_job(job.id) == job


def test_missing_job_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_job(42)


def test_next_queued_honours_priority_then_age_then_backoff(store: Store) -> None:
    a = store.add_job(new_job(title="a"))
    b = store.add_job(new_job(title="b"))
    c = store.add_job(new_job(title="c", priority=5, not_before=1000.0))
    store.add_job(new_job(title="d", state=JobState.PAUSED, priority=9))
    assert ident(store.next_queued(now=10.0)) == a.id  # c waits out its backoff
    assert ident(store.next_queued(now=2000.0)) == c.id
    store.save_job(a.replace(state=JobState.DONE))
    assert ident(store.next_queued(now=10.0)) == b.id
    assert store.next_wakeup() == 1000.0


def test_find_by_sha_ignores_failed_and_cancelled(store: Store) -> None:
    failed = store.add_job(new_job(sha256="s1", state=JobState.FAILED))
    assert store.find_by_sha("s1") is None
    done = store.add_job(new_job(sha256="s1", state=JobState.DONE))
    assert ident(store.find_by_sha("s1")) == done.id
    assert store.find_by_sha("s1", exclude=done.id) is None
    assert failed.id != done.id


def test_transcript_is_replaced_not_duplicated(store: Store) -> None:
    job = store.add_job(new_job())
    first = Transcript((Segment(0, 1, " one"), Segment(1, 2, " two")), "en", 2.0, "b", "m")
    store.save_transcript(ident(job), first)
    second = Transcript((Segment(0, 1.5, " only"),), "en", 2.0, "b", "m")
    store.save_transcript(ident(job), second)
    assert store.get_transcript(ident(job)) == second
    count = store.db.execute("select count(*) from segments where job_id = ?", [job.id]).fetchone()
    assert count[0] == 1


def test_log_keeps_order_and_filters_by_job(store: Store) -> None:
    job = store.add_job(new_job())
    store.log("info", "one")
    store.log("error", "two", job.id)
    store.log("info", "three")
    assert [e["message"] for e in store.logs(10)] == ["one", "two", "three"]
    assert [e["message"] for e in store.logs(2)] == ["two", "three"]
    assert [e["message"] for e in store.logs(10, job.id)] == ["two"]


def test_counts_cover_every_state(store: Store) -> None:
    store.add_job(new_job())
    store.add_job(new_job(state=JobState.DONE))
    counts = store.counts()
    assert set(counts) == {str(s) for s in JobState}
    assert counts["queued"] == 1 and counts["done"] == 1 and counts["failed"] == 0


def test_readonly_handle_sees_the_writers_data(tmp_path: Path) -> None:
    writer = Store(tmp_path / "e.db")
    job = writer.add_job(new_job())
    reader = Store(tmp_path / "e.db", readonly=True)
    assert reader.get_job(ident(job)).title == "a.wav"
    with pytest.raises(sqlite3.OperationalError):
        reader.add_job(new_job())


def test_two_speakers_given_one_name_merge(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    job = store.add_job(Job(id=None, source="cli", title="t.wav", path="/m/t.wav"))
    assert job.id is not None
    segments = (Segment(0, 1, "a", speaker="SPEAKER 1"), Segment(1, 2, "b", speaker="SPEAKER 2"))
    voices = (("SPEAKER 1", (1.0, 0.0)), ("SPEAKER 2", (0.0, 1.0)))
    store.save_transcript(job.id, Transcript(segments, "en", 2, "x", "y", voices=voices))
    store.name_speaker(job.id, "SPEAKER 1", "Ann", "*", [1.0, 0.0])
    store.name_speaker(job.id, "SPEAKER 2", "Ann", "*", [0.0, 1.0])
    assert store.job_speakers(job.id) == ["Ann"]
    assert store.voice(job.id, "Ann") == [0.0, 1.0]
    assert [v["name"] for v in store.known_voices()] == ["Ann"]


def test_saved_windows_round_trip_exactly_and_go_with_the_work(store: Store) -> None:
    """A paused job's finished windows come back exactly as they were saved (words, float
    times, warnings); a job saved with nothing kept (jobs.DISCARDS_WORK), or deleted,
    loses them."""
    from earwig.model import Flag, Word

    job = store.add_job(new_job(state=JobState.TRANSCRIBING))
    one = Transcript(
        (Segment(0.1, 2.4480000000000004, " one", (Word(0.1, 0.5, " one", 0.91),), "en"),),
        "en",
        600.0,
        "b",
        "m",
        speech=3.25,
        warnings=("a warning",),
        flags=(Flag("loop", 1.5, 2.25, "a line repeated", drop=True, detail="3 times"),),
        json_words=False,
    )
    two = one.replace(segments=(Segment(1.0, 2.0, " two"),))
    assert store.save_window(ident(job), 0.0, 600.0, "key", one) == 600.0
    assert store.save_window(ident(job), 600.0, 599.5, "key", two) == 1199.5
    assert store.saved_windows(ident(job)) == [(0.0, 600.0, "key", one), (600.0, 599.5, "key", two)]
    paused = store.get_job(ident(job)).replace(state=JobState.PAUSED)
    assert paused.saved == 1199.5
    store.save_job(paused)  # kept through a pause
    assert len(store.saved_windows(ident(job))) == 2
    store.save_job(paused.replace(state=JobState.CANCELLED, saved=0.0))
    assert store.saved_windows(ident(job)) == []
    store.save_window(ident(job), 0.0, 600.0, "key", one)
    store.delete_job(ident(job))
    assert store.saved_windows(ident(job)) == []
