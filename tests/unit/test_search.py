"""Full-text search on a real SQLite file: syntax, ranking inputs, sync with writes, migration."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from earwig import search
from earwig.migrations import MIGRATIONS
from earwig.model import Job, JobState, Segment, Transcript
from earwig.protocol import SearchHit
from earwig.search import SearchError
from earwig.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "e.db")


def add(store: Store, title: str, *texts: str, created: float = 1000.0, step: float = 5.0) -> int:
    job = store.add_job(
        Job(
            id=None,
            source="cli",
            title=title,
            path=f"/media/{title}",
            created_at=created,
            state=JobState.DONE,
            outputs=(f"/out/{title}.txt",),
        )
    )
    segments = tuple(Segment(i * step, i * step + step, t) for i, t in enumerate(texts))
    assert job.id is not None
    store.save_transcript(job.id, Transcript(segments, "en", len(texts) * step, "b", "m"))
    return job.id


def titles(hits: list[SearchHit]) -> list[str]:
    return [h["title"] for h in hits]


def test_plain_words_are_quoted_and_syntax_is_kept() -> None:
    assert search.to_fts("don't panic") == 'text : ("don\'t" "panic")'
    assert search.to_fts('say "hi"') == 'text : (say "hi")'
    assert search.to_fts("a OR b") == "text : (a OR b)"
    with pytest.raises(SearchError, match="empty"):
        search.to_fts("   ")


def test_a_word_is_found_with_its_timestamp(store: Store) -> None:
    add(store, "talk", "hello there", "we discuss the budget now", "goodbye", step=377.0)
    (hit,) = search.search(store, "budget")
    assert hit["title"] == "talk" and hit["start"] == 377.0 and hit["clock"] == "06:17"
    assert "\x02budget\x03" in hit["snippet"]
    assert hit["transcript"] == "/out/talk.txt" and hit["source"] == "/media/talk"


def test_hours_in_the_clock() -> None:
    assert search.clock(3723.9) == "1:02:03" and search.clock(59) == "00:59"


def test_titles_do_not_match_every_segment(store: Store) -> None:
    add(store, "budget meeting", "nothing relevant", "still nothing")
    assert search.search(store, "budget") == []
    assert len(search.search(store, "nothing", source="budget")) == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"quick brown fox"', ["a"]),
        ('"brown quick"', []),
        ("quick AND lazy", ["b"]),
        ("fox OR dog", ["a", "b"]),
        ("quick NOT fox", ["b"]),
        ("quick AND NOT fox", ["b"]),  # how people (and the README) write it
        ("transcri* AND NOT draft", ["c"]),
        ("NEAR(quick dog, 2)", ["b"]),
        ("transcri*", ["c"]),
        ("Köln", ["d"]),
        ("koln", ["d"]),  # diacritics folded
        ("grüße", ["d"]),
        ("don't", ["c"]),
        ("12:34", ["c"]),
        ("'; drop table jobs; --", []),
    ],
)
def test_query_syntax(store: Store, query: str, expected: list[str]) -> None:
    add(store, "a", "the quick brown fox")
    add(store, "b", "a quick and lazy dog")
    add(store, "c", "transcription at 12:34, don't forget")
    add(store, "d", "Grüße aus Köln")
    assert sorted(titles(search.search(store, query))) == expected
    assert store.db["jobs"].count == 4


@pytest.mark.parametrize("query", ['"unbalanced', "AND", "fox AND", "NEAR(", "(fox"])
def test_syntax_errors_are_explained(store: Store, query: str) -> None:
    add(store, "a", "the quick brown fox")
    with pytest.raises(SearchError) as info:
        search.search(store, query)
    assert query in info.value.message and "phrase" in info.value.hint


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("*", "a * ends the beginning of a word (transcri*): it needs letters before it"),
        ('"unbalanced', "a quote is not closed"),
        ("(fox", "a bracket is not closed"),
        ("fox AND", "AND, OR and NOT need a word on each side"),
    ],
)
def test_syntax_errors_say_what_is_wrong_not_the_engines_words(
    store: Store, query: str, why: str
) -> None:
    """Issue 39, item 13: `earwig search '*'` answered "fts5: syntax error"."""
    add(store, "a", "the quick brown fox")
    with pytest.raises(SearchError) as info:
        search.search(store, query)
    assert info.value.message == f"cannot understand the search {query!r}: {why}"
    assert "fts5" not in info.value.message


def test_retranscription_does_not_duplicate_hits_and_delete_removes_them(store: Store) -> None:
    job_id = add(store, "a", "first version about budgets")
    store.save_transcript(
        job_id, Transcript((Segment(0, 3, "second version about budgets"),), "en", 3, "b", "m")
    )
    (hit,) = search.search(store, "budgets")
    assert "second" in hit["snippet"]
    assert search.search(store, "first") == []
    store.delete_job(job_id)
    assert search.search(store, "budgets") == []


def test_source_and_since_filters(store: Store) -> None:
    add(store, "old lecture", "entropy rises", created=1000.0)
    add(store, "new podcast", "entropy again", created=5000.0)
    assert titles(search.search(store, "entropy", source="lecture")) == ["old lecture"]
    assert titles(search.search(store, "entropy", since=4000.0)) == ["new podcast"]
    assert search.parse_since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * 86400
    assert search.parse_since("2026-11-01") > search.parse_since("2026-10-01")
    with pytest.raises(SearchError, match="not a date"):
        search.parse_since("last tuesday")


def test_limit(store: Store) -> None:
    add(store, "a", *["budget"] * 30)
    assert len(search.search(store, "budget", limit=7)) == 7


def test_an_old_database_is_indexed_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    import sqlite_utils

    db = sqlite_utils.Database(path)
    MIGRATIONS[0](db)  # the schema as version 1 shipped it, with a transcript in it
    db.execute("PRAGMA user_version = 1")
    db.table("jobs").insert(
        {"id": 1, "source": "cli", "title": "legacy", "state": "done", "created_at": 1.0}
    )
    db.table("segments").insert(
        {"job_id": 1, "idx": 0, "start": 61.0, "end": 62.0, "text": "remember the alamo"}
    )
    db.conn.commit()
    db.close()
    store = Store.for_reading(path)  # too old for read-only: upgraded first
    (hit,) = search.search(store, "alamo")
    assert hit["title"] == "legacy" and hit["clock"] == "01:01"
    store.close()
    reader = Store.for_reading(path)  # now current: opened read-only
    with pytest.raises(sqlite3.OperationalError):
        reader.db.execute("insert into log (ts, level, message) values (1, 'x', 'y')")


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from earwig.model import Job, JobState, Segment, Transcript
    from earwig.store import Store
    store = Store(Path(sys.argv[1]))
    deadline = time.monotonic() + float(sys.argv[2])
    n = 0
    segs = tuple(Segment(i, i + 1, f"marker word {i}") for i in range(250))
    while time.monotonic() < deadline:
        job = store.add_job(Job(id=None, source="cli", title=f"w{n}", state=JobState.DONE))
        store.save_transcript(job.id, Transcript(segs, "en", 250, "b", "m"))
        store.save_transcript(job.id, Transcript(segs, "en", 250, "b", "m"))  # re-transcribed
        n += 1
    print(n)
    """
)


def test_search_while_another_process_writes_sees_whole_transcripts(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    Store(path).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "3"], stdout=subprocess.PIPE, text=True
    )
    reader = Store.for_reading(path)
    checks = 0
    try:
        while writer.poll() is None or checks == 0:
            hits = reader.search('text : ("marker")', limit=100_000)
            per_job: dict[int, int] = {}
            for hit in hits:
                per_job[hit["job_id"]] = per_job.get(hit["job_id"], 0) + 1
            assert all(count == 250 for count in per_job.values()), per_job  # never half a job
            checks += 1
            time.sleep(0.01)  # pacing the reader, not synchronising with the writer
    finally:
        written = int(writer.communicate(timeout=30)[0])
    assert writer.returncode == 0 and written > 5 and checks > 5
    assert len(reader.search('text : ("marker")', limit=100_000)) == 250 * written
