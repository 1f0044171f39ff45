"""The database's schema, as numbered migrations: each a function run once, in order, inside
a transaction, by `Store` when it opens a file whose `PRAGMA user_version` is behind
(store.py's `_migrate`). A migration that has shipped is never edited: a change to the schema
is the next function, appended to MIGRATIONS (when two branches each add one, the later one
renumbers after the other). Each builds what the schema was at its time, so names and states
here are history, not derived from today's model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlite_utils

# The states there were when the jobs table was created: history, not derived from JobState,
# because migration 1 must build what it built then (migration 6 added "downloading").
_FIRST_STATES = ("queued", "fetching", "transcribing", "done", "failed", "cancelled", "paused")


def _migration_1(db: sqlite_utils.Database) -> None:
    columns: dict[str, Any] = {
        "id": int,
        "source": str,
        "title": str,
        "path": str,
        "url": str,
        "sha256": str,
        "size": int,
        "mtime": float,
        "state": str,
        "priority": int,
        "attempts": int,
        "force": int,
        "error": str,
        "hint": str,
        "backend": str,
        "model": str,
        "duration": float,
        "output_dir": str,
        "output_base": str,
        "outputs": str,
        "created_at": float,
        "updated_at": float,
        "not_before": float,
    }
    columns.update({f"{state}_at": float for state in _FIRST_STATES})
    db.table("jobs").create(columns, pk="id", not_null={"source", "title", "state"})
    db.table("jobs").create_index(["state", "priority", "id"])
    db.table("jobs").create_index(["sha256"])
    db.table("jobs").create_index(["path"])
    db.table("transcripts").create(
        {
            "job_id": int,
            "language": str,
            "duration": float,
            "backend": str,
            "model": str,
            "text": str,
            "created_at": float,
        },
        pk="job_id",
        foreign_keys=[("job_id", "jobs", "id")],
    )
    db.table("segments").create(
        {"job_id": int, "idx": int, "start": float, "end": float, "text": str},
        pk=("job_id", "idx"),
        foreign_keys=[("job_id", "jobs", "id")],
    )
    db.table("log").create(
        {"id": int, "ts": float, "level": str, "job_id": int, "message": str}, pk="id"
    )
    db.table("log").create_index(["job_id"])


_FTS_SCHEMA = [
    """
    CREATE VIRTUAL TABLE segments_fts USING fts5(
        text, title, subscription,
        date UNINDEXED, start UNINDEXED, job_id UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
    )
    """,
    """
    CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments BEGIN
        INSERT INTO segments_fts (rowid, text, title, subscription, date, start, job_id)
        SELECT new.rowid, new.text, j.title, coalesce(j.subscription, ''), j.created_at,
               new.start, new.job_id
        FROM jobs j WHERE j.id = new.job_id;
    END
    """,
    """
    CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN
        DELETE FROM segments_fts WHERE rowid = old.rowid;
    END
    """,
    """
    INSERT INTO segments_fts (rowid, text, title, subscription, date, start, job_id)
    SELECT s.rowid, s.text, j.title, coalesce(j.subscription, ''), j.created_at,
           s.start, s.job_id
    FROM segments s JOIN jobs j ON j.id = s.job_id
    """,
]


def _migration_2(db: sqlite_utils.Database) -> None:
    """Full-text search over transcript segments (FTS5), kept in sync by triggers.

    Triggers rather than application code, so every write path (re-transcription, deletion,
    a future bulk import) keeps the index right. Existing segments are indexed here.
    """
    db.table("jobs").add_column("subscription", str)
    for statement in _FTS_SCHEMA:
        db.execute(statement)


def _migration_3(db: sqlite_utils.Database) -> None:
    """URLs, subscriptions and the inbox file."""
    db.table("jobs").create_index(["url"])
    db.table("subscriptions").create(
        {
            "name": str,
            "url": str,
            "created_at": float,
            "last_check": float,
            "last_ok": float,
            "last_error": str,
            "items_found": int,
            "last_new": int,
            "etag": str,
            "modified": str,
        },
        pk="name",
    )
    # The download archive: an item is taken (or deliberately skipped) once, ever.
    db.table("archive").create(
        {
            "subscription": str,
            "item_id": str,
            "url": str,
            "title": str,
            "published": float,
            "job_id": int,
            "seen_at": float,
        },
        pk=("subscription", "item_id"),
    )
    # How far each inbox file has been read: committed with the jobs it produced.
    db.table("inbox_progress").create({"key": str, "offset": int, "updated_at": float}, pk="key")


def _migration_4(db: sqlite_utils.Database) -> None:
    """The language each file was found to speak, and warnings about believability."""
    db.table("jobs").add_column("language", str)
    db.table("jobs").add_column("warnings", str)  # a JSON list of sentences
    db.table("jobs").add_column("model_request", str)  # `earwig retry --model`
    db.table("transcripts").add_column("warnings", str)


def _migration_5(db: sqlite_utils.Database) -> None:
    """Files in watched folders that were looked at and not queued (the same content as a
    job, or not media), so a restart neither hashes them again nor logs them again."""
    db.table("skipped_files").create(
        {"path": str, "size": int, "mtime": float, "reason": str, "at": float}, pk="path"
    )


def _migration_6(db: sqlite_utils.Database) -> None:
    """URL jobs get a state of their own while their media downloads (it was `fetching`,
    which a URL job then went through twice)."""
    db.table("jobs").add_column("downloading_at", float)
    db.execute(
        "update jobs set state = 'downloading', downloading_at = fetching_at, "
        "fetching_at = null where state = 'fetching' and url is not null and path is null"
    )


def _migration_7(db: sqlite_utils.Database) -> None:
    """Which slot of the pool (this machine, or a server) produced a job's transcript."""
    db.table("jobs").add_column("slot", str)


def _migration_8(db: sqlite_utils.Database) -> None:
    """Podcasting 2.0 links of feed items (publishers' transcripts, chapters), where a job's
    text came from, and subtitles written beside the media."""
    for column in ("publisher", "text_from", "chapters", "beside"):
        db.table("jobs").add_column(column, str)
    db.table("segments").add_column("speaker", str)


def _migration_9(db: sqlite_utils.Database) -> None:
    """Speakers: each transcript's voices (an embedding per speaker label), and the voices
    people named, looked for in later transcripts."""
    db.table("voices").create(
        {"job_id": int, "speaker": str, "embedding": str}, pk=("job_id", "speaker")
    )
    db.table("known_voices").create(
        {"name": str, "scope": str, "embedding": str, "job_id": int, "created_at": float},
        pk=("name", "scope"),
    )


def _add_job_options(db: sqlite_utils.Database) -> None:
    """A job's own transcription options (an HTTP API request's language, task, prompt)."""
    db.table("jobs").add_column("options", str)


def _languages_per_segment(db: sqlite_utils.Database) -> None:
    """Recordings that speak several languages: every language a job's file speaks (a JSON
    list, the most spoken first) and the language of each segment."""
    db.table("jobs").add_column("languages", str)
    db.table("segments").add_column("language", str)


def _inbox_done_pending(db: sqlite_utils.Database) -> None:
    """inbox.done lines not yet appended to the file: committed with the jobs they record,
    so a kill between the commit and the write loses none (the next start writes them)."""
    db.table("inbox_done").create({"id": int, "path": str, "line": str}, pk="id")


def _transcript_flags(db: sqlite_utils.Database) -> None:
    """Stretches of a transcript that are missing or doubtful (a JSON list of model.Flag),
    so `earwig export` marks them in the text formats as the job's own files did."""
    db.table("transcripts").add_column("flags", str)


def _saved_windows(db: sqlite_utils.Database) -> None:
    """A pause keeps the work: each finished window of a running job (its transcript, as the
    pipeline made it), and how far from the start they reach (`jobs.saved`)."""
    db.table("jobs").add_column("saved", float, not_null_default=0.0)
    db.table("job_windows").create(
        {"job_id": int, "offset": float, "length": float, "key": str, "transcript": str},
        pk=("job_id", "offset"),
    )


def _llm_followups(db: sqlite_utils.Database) -> None:
    """What follows a transcript through a language model ([llm]): one row per summary or
    translation of a job, queued, run, retried and finished apart from the job (which is
    done, its transcript safe, before any of it starts); the summaries in a search index of
    their own (its rowid is the job's id); and the stage a done job is in, for the lists."""
    db.table("followups").create(
        {
            "id": int,
            "job_id": int,
            "kind": str,  # "summary" or "translation"
            "language": str,  # a translation's target
            "state": str,  # queued, running, done, failed, cancelled, paused
            "attempts": int,
            "not_before": float,
            "key": str,  # sha256 of the input, prompt, model: the same answer serves again
            "force": int,  # asked again by the user: the stored answer is not reused
            "result": str,  # JSON
            "error": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
        not_null={"job_id", "kind", "state"},
    )
    db.table("followups").create_index(["state", "not_before"])
    db.table("followups").create_index(["job_id"])
    db.table("followups").create_index(["key"])
    db.execute(
        "CREATE VIRTUAL TABLE summaries_fts USING fts5(text, title, subscription, "
        "date UNINDEXED, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    db.table("jobs").add_column("stage", str)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
    _migration_9,
    _add_job_options,
    _languages_per_segment,
    _inbox_done_pending,
    _transcript_flags,
    _saved_windows,
    _llm_followups,
]
SCHEMA_VERSION = len(MIGRATIONS)
