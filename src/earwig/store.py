"""The only module that speaks SQL: jobs, transcripts, segments and the log, in one SQLite file.

sqlite-utils does the table plumbing; WAL mode lets readers (`earwig search`, a second CLI)
work next to the daemon's writes. The schema is versioned with PRAGMA user_version and upgraded
by the numbered migrations in migrations.py, each run once, in order, inside a transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlite_utils

from earwig.errors import NotFound, StoreError
from earwig.migrations import MIGRATIONS, SCHEMA_VERSION
from earwig.model import FINISHED, Flag, Job, JobState, Segment, Transcript

if TYPE_CHECKING:
    from earwig.protocol import LogEntry

STATE_COLUMNS = {state: f"{state}_at" for state in JobState}
# Jobs in these states own their content: the same sha256 is not transcribed again.
_CLAIMING = tuple(str(s) for s in JobState if s not in (JobState.FAILED, JobState.CANCELLED))
_FINISHED = tuple(str(s) for s in FINISHED)


def _placeholders(values: tuple[str, ...]) -> str:
    """`(?, ?, ?)` for an `in` clause: the values go in as parameters, never into the SQL."""
    return f"({', '.join('?' for _ in values)})"


DELETED = "deleted"  # skipped_files.reason of a file whose job was deleted


class Store:
    """A handle on the database. Use it from one thread (the daemon's event loop)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.created = False  # this open made the file: a first start, or a lost database
        try:
            if readonly:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            else:
                self.created = not self.path.exists()
                self._open_for_writing()
                # Autocommit at the driver level: every transaction is an explicit
                # db.atomic() block (nested ones become savepoints), never an implicit one.
                conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 5000")
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                self.db.enable_wal()
                # In WAL mode NORMAL is still safe against a crash or kill -9 (each commit is
                # in the WAL before it returns); it skips the fsync per commit, which took
                # 6-25 ms on the event loop for every job added and every log line, and
                # hundreds when the disk was busy. Only a power cut may lose the last commits.
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.db.execute("PRAGMA foreign_keys = ON")
                self._migrate()
            self.identity = _identity(self.path)
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise _unwritable(self.path, str(exc)) from None
            raise StoreError(
                f"cannot open the database {self.path}: {exc}",
                "if the file is damaged, move it aside; earwig creates a fresh one",
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the database {self.path}: {exc}",
                "if the file is damaged, move it aside; earwig creates a fresh one",
            ) from exc

    def _open_for_writing(self) -> None:
        """Create the file private from the first byte (it holds every transcript), and
        refuse plainly when it cannot be written (read-only, immutable, wrong owner)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise _unwritable(self.path, exc.strerror or str(exc)) from None

    def identity_lost(self) -> str | None:
        """Whether the file this handle writes to is still the one at `path`: None when it
        is, else what happened to it. A database deleted or replaced under a running daemon
        would otherwise take every write into a file nobody can open again."""
        now = _identity(self.path)
        if now == self.identity:
            return None
        if now is None:
            return f"the database {self.path} was removed while earwig was running"
        return f"the database {self.path} was replaced by another file while earwig was running"

    @classmethod
    def for_reading(cls, path: Path) -> Store:
        """Read-only when the schema is current (safe beside a running daemon); otherwise
        open it writable once so the migrations (such as the search index) run."""
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = probe.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        finally:
            probe.close()
        return cls(path, readonly=version == SCHEMA_VERSION)

    def check(self) -> None:
        """A quick integrity check (the daemon runs it at start): a file damaged in the
        middle is reported now, with what to do, not by every job failing later."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check(5)").fetchall()]
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            raise StoreError(
                f"the database {self.path} is damaged: {'; '.join(rows)}",
                f"stop earwig and recover it: `sqlite3 {self.path} .recover | sqlite3 "
                f"{self.path}.recovered`, then move the recovered file in its place (or move "
                "the damaged one aside: earwig starts a fresh one; transcripts on disk stay)",
            )
        for suffix in ("", "-wal", "-shm"):  # also files made 0644 by an older earwig
            with contextlib.suppress(OSError):
                os.chmod(f"{self.path}{suffix}", 0o600)

    def close(self) -> None:
        self.db.conn.close()

    # ------------------------------------------------------------ schema

    def _migrate(self) -> None:
        """Run the missing migrations, each with its version bump in one transaction.

        BEGIN IMMEDIATE takes the write lock before the version is read, so two processes
        opening an old file at once (daemon and CLI) cannot both run the same migration.
        """
        while True:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was written by a newer earwig (schema {version}, "
                        f"this one knows {SCHEMA_VERSION})",
                        "upgrade earwig, or point [daemon] database at another file",
                    )
                if version == SCHEMA_VERSION:
                    self.db.execute("COMMIT")
                    return
                MIGRATIONS[version](self.db)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.rollback()
                raise

    # ------------------------------------------------------------ jobs

    def add_job(self, job: Job) -> Job:
        with self.db.atomic():
            return self._insert_job(job)

    def _insert_job(self, job: Job) -> Job:
        row = _job_to_row(job)
        row.pop("id")
        return job.replace(id=self.db.table("jobs").insert(row).last_pk)

    # ------------------------------------------------------------ inbox

    def inbox_offset(self, key: str) -> int:
        row = self.db.execute("select offset from inbox_progress where key = ?", [key]).fetchone()
        return row[0] if row else 0

    def commit_inbox(
        self,
        key: str,
        offset: int,
        jobs: list[Job],
        done: Callable[[list[Job]], list[str]] = lambda added: [],
        done_path: str = "",
    ) -> list[Job]:
        """Queue the jobs read from an inbox file, move its read offset and keep the lines
        `done` makes of them for `done_path` (inbox.done), atomically: a crash either loses
        all (the lines are read again) or keeps all (and the done lines are written later)."""
        with self.db.atomic():
            added = [self._insert_job(job) for job in jobs]
            self.db.table("inbox_progress").upsert(
                {"key": key, "offset": offset, "updated_at": time.time()}, pk="key"
            )
            self.db.table("inbox_done").insert_all(
                {"path": done_path, "line": line} for line in done(added)
            )
        return added

    def pending_done(self, done_path: str) -> list[tuple[int, str]]:
        rows = self.db.execute(
            "select id, line from inbox_done where path = ? order by id", [done_path]
        )
        return [(r[0], r[1]) for r in rows]

    def forget_done(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.db.atomic():
            marks = ", ".join("?" for _ in ids)
            self.db.execute(f"delete from inbox_done where id in ({marks})", ids)

    def forget_inbox(self, key: str) -> None:
        with self.db.atomic():
            self.db.execute("delete from inbox_progress where key = ?", [key])

    # ------------------------------------------------------------ subscriptions

    def subscription_state(self, name: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from subscriptions where name = ?", [name]))
        return rows[0] if rows else None

    def subscription_states(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.db.query("select * from subscriptions")}

    def forget_subscription_state(self, name: str) -> None:
        """A subscription that was removed (or now names another URL) starts afresh: no old
        status, a first check at once. Its archive stays: items seen are not fetched again."""
        with self.db.atomic():
            self.db.execute("delete from subscriptions where name = ?", [name])

    def save_subscription_state(self, name: str, **fields: Any) -> None:
        with self.db.atomic():
            self.db.table("subscriptions").upsert({"name": name, **fields}, pk="name")

    def archived(self, subscription: str, item_ids: list[str]) -> set[str]:
        if not item_ids:
            return set()
        marks = ", ".join("?" for _ in item_ids)
        rows = self.db.execute(
            f"select item_id from archive where subscription = ? and item_id in ({marks})",
            [subscription, *item_ids],
        )
        return {r[0] for r in rows}

    def commit_subscription_items(
        self,
        subscription: str,
        take: list[tuple[dict[str, Any], Job]],
        skip: list[dict[str, Any]],
    ) -> list[Job]:
        """Record a check's outcome in one transaction: jobs for the items taken, and archive
        rows for every item seen, so nothing is fetched twice, even after a crash."""
        now = time.time()
        added = []
        with self.db.atomic():
            for item, job in take:
                job = self._insert_job(job)
                added.append(job)
                self.db.table("archive").insert(
                    {**item, "subscription": subscription, "job_id": job.id, "seen_at": now},
                    replace=True,
                )
            for item in skip:
                self.db.table("archive").insert(
                    {**item, "subscription": subscription, "job_id": None, "seen_at": now},
                    replace=True,
                )
        return added

    def media_to_clean(self, finished_before: float, cache_dir: str) -> list[Job]:
        """Finished jobs whose downloaded media is still in the cache."""
        rows = self.db.query(
            "select * from jobs where url is not null and path like ? "
            f"and state in {_placeholders(_FINISHED)} and updated_at < ?",
            [cache_dir.rstrip("/") + "/%", *_FINISHED, finished_before],
        )
        return [_row_to_job(r) for r in rows]

    def paths_under(self, folder: str) -> list[str]:
        """The media paths and output folders of jobs that lie under `folder` (the media
        cache's upload sweep keeps what some job still owns)."""
        prefix = folder.rstrip("/") + "/"
        rows = self.db.execute(
            "select path from jobs where substr(path, 1, ?) = ? "
            "union select output_dir from jobs where substr(output_dir, 1, ?) = ?",
            [len(prefix), prefix, len(prefix), prefix],
        ).fetchall()
        return [row[0] for row in rows]

    def save_job(self, job: Job) -> None:
        """Save the job's record; a job that keeps no work (jobs.DISCARDS_WORK set its
        `saved` to 0) loses its saved windows in the same transaction."""
        if job.id is None:
            raise StoreError("cannot save a job without an id")
        with self.db.atomic():
            self.db.table("jobs").update(job.id, _job_to_row(job))
            if not job.saved:
                self.db.execute("delete from job_windows where job_id = ?", [job.id])

    # ------------------------------------------------------------ saved windows

    def save_window(
        self, job_id: int, offset: float, length: float, key: str, transcript: Transcript
    ) -> float:
        """Keep one finished window of a running job (`key`: what made it, the backend, model
        and options); return how far from the start the job's saved windows now reach."""
        import msgspec

        with self.db.atomic():
            self.db.table("job_windows").upsert(
                {
                    "job_id": job_id,
                    "offset": offset,
                    "length": length,
                    "key": key,
                    "transcript": msgspec.json.encode(transcript).decode(),
                },
                pk=("job_id", "offset"),
            )
            saved = offset + length
            self.db.execute("update jobs set saved = ? where id = ?", [saved, job_id])
        return saved

    def saved_windows(self, job_id: int) -> list[tuple[float, float, str, Transcript]]:
        """A job's saved windows in order: (offset, length, key, transcript)."""
        import msgspec

        rows = self.db.execute(
            "select offset, length, key, transcript from job_windows where job_id = ? "
            "order by offset",
            [job_id],
        ).fetchall()
        return [
            (offset, length, key, msgspec.json.decode(data, type=Transcript))
            for offset, length, key, data in rows
        ]

    def forget_windows(self, job_id: int) -> None:
        """Drop a job's saved windows (they were made another way: a new model, new options)."""
        with self.db.atomic():
            self.db.execute("delete from job_windows where job_id = ?", [job_id])
            self.db.execute("update jobs set saved = 0 where id = ?", [job_id])

    def get_job(self, job_id: int) -> Job:
        rows = list(self.db.query("select * from jobs where id = ?", [job_id]))
        if not rows:
            raise NotFound(f"no job {job_id}", "`earwig jobs` lists the jobs there are")
        return _row_to_job(rows[0])

    def list_jobs(
        self,
        states: Iterable[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        *,
        warned_only: bool = False,
    ) -> list[Job]:
        sql, where = "select * from jobs", []
        params: list[str | int] = []
        if states:
            states = list(states)
            where.append(f"state in ({', '.join('?' for _ in states)})")
            params.extend(states)
        if warned_only:
            where.append("warnings is not null")
        if where:
            sql += " where " + " and ".join(where)
        sql += " order by id desc"
        if limit:
            sql += " limit ? offset ?"
            params += [limit, offset]
        return [_row_to_job(r) for r in self.db.query(sql, params)]

    def running_jobs(self) -> list[Job]:
        return self.list_jobs([str(s) for s in JobState if s.running])

    def next_queued(self, now: float, unpinned: bool = False) -> Job | None:
        """The next job ready to transcribe: queued, not backing off, media on disk (and, for
        a server, not pinned to a local model by `earwig retry --model`)."""
        pin = "and model_request is null " if unpinned else ""
        rows = list(
            self.db.query(
                "select * from jobs where state = 'queued' and path is not null "
                f"and (not_before is null or not_before <= ?) {pin}"
                "order by priority desc, id asc limit 1",
                [now],
            )
        )
        return _row_to_job(rows[0]) if rows else None

    def queued_downloads(self, now: float, limit: int = 50) -> list[Job]:
        """Queued URL jobs whose media still has to be fetched, best first."""
        rows = self.db.query(
            "select * from jobs where state = 'queued' and path is null and url is not null "
            "and (not_before is null or not_before <= ?) "
            "order by priority desc, id asc limit ?",
            [now, limit],
        )
        return [_row_to_job(r) for r in rows]

    def next_wakeup(self) -> float | None:
        """The earliest not_before among queued jobs waiting out a backoff."""
        row = self.db.execute(
            "select min(not_before) from jobs where state = 'queued' and not_before is not null"
        ).fetchone()
        return row[0]

    def find_by_sha(self, sha256: str, exclude: int | None = None) -> Job | None:
        rows = list(
            self.db.query(
                "select * from jobs where sha256 = ? and id != ? "
                f"and state in {_placeholders(_CLAIMING)} order by id limit 1",
                [sha256, exclude or -1, *_CLAIMING],
            )
        )
        return _row_to_job(rows[0]) if rows else None

    def jobs_with_sha(self, sha256: str) -> list[Job]:
        """Every job of this content, whatever its state, the newest first."""
        rows = self.db.query("select * from jobs where sha256 = ? order by id desc", [sha256])
        return [_row_to_job(row) for row in rows]

    def same_media_cancelled(self, job: Job) -> Job | None:
        """The oldest job cancelled because its media is `job`'s (it waits on `job`)."""
        if not job.sha256 or job.id is None:
            return None
        rows = list(
            self.db.query(
                "select * from jobs where sha256 = ? and id != ? and state = 'cancelled' "
                "and hint like ? order by id limit 1",
                [job.sha256, job.id, f"same media as job {job.id} %"],
            )
        )
        return _row_to_job(rows[0]) if rows else None

    def find_by_url(self, url: str) -> Job | None:
        rows = list(
            self.db.query(
                f"select * from jobs where url = ? and state in {_placeholders(_CLAIMING)} "
                "order by id limit 1",
                [url, *_CLAIMING],
            )
        )
        return _row_to_job(rows[0]) if rows else None

    def job_for_file(self, path: str, size: int, mtime: float) -> Job | None:
        """The newest job made from this exact file (same size and mtime), if any."""
        rows = list(
            self.db.query(
                "select * from jobs where path = ? and size = ? and mtime = ? "
                "order by id desc limit 1",
                [path, size, mtime],
            )
        )
        return _row_to_job(rows[0]) if rows else None

    def knows_file(self, path: str, size: int, mtime: float) -> bool:
        """Whether this exact file (same size and mtime) was queued or skipped before: one
        indexed look-up, since a library's start-up scan asks it for every file."""
        row = self.db.execute(
            "select exists(select 1 from jobs where path = ? and size = ? and mtime = ?) "
            "or exists(select 1 from skipped_files where path = ? and size = ? and mtime = ?)",
            [path, size, mtime, path, size, mtime],
        ).fetchone()
        return bool(row[0])

    def remember_skipped(self, path: str, size: int, mtime: float, reason: str) -> None:
        with self.db.atomic():
            self.db.table("skipped_files").upsert(
                {"path": path, "size": size, "mtime": mtime, "reason": reason, "at": time.time()},
                pk="path",
            )

    def skipped_as(self, reason: str) -> list[str]:
        """The paths skipped for `reason` ("empty"), oldest first."""
        rows = self.db.execute(
            "select path from skipped_files where reason = ? order by at", [reason]
        )
        return [r[0] for r in rows]

    def remember_deleted(self, job: Job) -> None:
        """A deleted job's file stays out of the queue: the next scan of its folder skips it
        (as long as it is the same file: same size and time) until it is added with force."""
        if job.path and not job.url and job.size is not None and job.mtime is not None:
            self.remember_skipped(job.path, job.size, job.mtime, f"{DELETED} (job {job.id})")

    def deleted_file(self, path: str, size: int, mtime: float) -> str | None:
        """Why this exact file is kept out of the queue, if a job made from it was deleted."""
        row = self.db.execute(
            "select reason from skipped_files where path = ? and size = ? and mtime = ? "
            "and reason like ?",
            [path, size, mtime, DELETED + "%"],
        ).fetchone()
        return str(row[0]) if row else None

    def forget_skipped(self, path: str) -> None:
        """The file at `path` may be looked at again (it was added with force)."""
        with self.db.atomic():
            self.db.execute("delete from skipped_files where path = ?", [path])

    def output_base_owners(self, output_dir: str, base: str) -> set[str]:
        """The sources (URL, else path) of the jobs whose transcripts are named `base` in
        `output_dir`."""
        rows = self.db.execute(
            "select distinct coalesce(url, path, '') from jobs "
            "where output_dir = ? and output_base = ?",
            [output_dir, base],
        )
        return {r[0] for r in rows}

    def count_jobs(self) -> int:
        return self.db.table("jobs").count

    def max_priority(self) -> int:
        return self.db.execute("select coalesce(max(priority), 0) from jobs").fetchone()[0]

    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in JobState}
        for state, n in self.db.execute("select state, count(*) from jobs group by state"):
            counts[state] = n
        return counts

    # ------------------------------------------------------------ transcripts

    def save_transcript(self, job_id: int, transcript: Transcript) -> None:
        """Replace the job's transcript and segments in one transaction."""
        with self.db.atomic():
            self.db.execute("delete from segments where job_id = ?", [job_id])
            self.db.table("transcripts").upsert(
                {
                    "job_id": job_id,
                    "language": transcript.language,
                    "duration": transcript.duration,
                    "backend": transcript.backend,
                    "model": transcript.model,
                    "text": transcript.text,
                    "warnings": json.dumps(transcript.warnings) if transcript.warnings else None,
                    "flags": json.dumps([dataclasses.asdict(f) for f in transcript.flags])
                    if transcript.flags
                    else None,
                    "created_at": time.time(),
                },
                pk="job_id",
            )
            self.db.execute("delete from voices where job_id = ?", [job_id])
            self.db.table("voices").insert_all(
                {"job_id": job_id, "speaker": label, "embedding": json.dumps(list(vector))}
                for label, vector in transcript.voices
            )
            self.db.table("segments").insert_all(
                {
                    "job_id": job_id,
                    "idx": i,
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "speaker": s.speaker,
                    "language": s.language,
                }
                for i, s in enumerate(transcript.segments)
            )

    def get_transcript(self, job_id: int) -> Transcript | None:
        rows = list(self.db.query("select * from transcripts where job_id = ?", [job_id]))
        if not rows:
            return None
        meta = rows[0]
        segments = tuple(
            Segment(r["start"], r["end"], r["text"], speaker=r["speaker"], language=r["language"])
            for r in self.db.query(
                "select start, end, text, speaker, language from segments where job_id = ? "
                "order by idx",
                [job_id],
            )
        )
        return Transcript(
            segments=segments,
            language=meta["language"],
            duration=meta["duration"],
            backend=meta["backend"],
            model=meta["model"],
            warnings=tuple(json.loads(meta.get("warnings") or "[]")),
            flags=tuple(Flag(**f) for f in json.loads(meta.get("flags") or "[]")),
        )

    def delete_job(self, job_id: int) -> None:
        """Forget a job: its row, transcript, segments (and so its search hits) and log lines."""
        with self.db.atomic():
            for table in ("segments", "transcripts", "voices", "job_windows", "followups"):
                self.db.execute(f"delete from {table} where job_id = ?", [job_id])
            self.db.execute("delete from summaries_fts where rowid = ?", [job_id])
            self.db.execute("delete from log where job_id = ?", [job_id])
            self.db.execute("delete from jobs where id = ?", [job_id])

    # ------------------------------------------------------------ follow-ups ([llm])

    def add_followup(
        self, job_id: int, kind: str, language: str | None = None, *, force: bool = False
    ) -> int:
        """Queue a summary or translation of a job, in place of any earlier one of the same
        kind and language that has not finished (its input is about to change)."""
        now = time.time()
        with self.db.atomic():
            self.db.execute(
                "delete from followups where job_id = ? and kind = ? and "
                "coalesce(language, '') = ? and state in ('queued', 'paused', 'failed', "
                "'cancelled')",
                [job_id, kind, language or ""],
            )
            row = {
                "job_id": job_id,
                "kind": kind,
                "language": language,
                "state": "queued",
                "attempts": 0,
                "force": int(force),
                "created_at": now,
                "updated_at": now,
            }
            last = self.db.table("followups").insert(row).last_pk
            assert isinstance(last, int)
            return last

    def followup(self, followup_id: int) -> dict[str, Any]:
        rows = list(self.db.query("select * from followups where id = ?", [followup_id]))
        if not rows:
            raise NotFound(f"no follow-up {followup_id}")
        return _followup(rows[0])

    def followups(self, job_id: int) -> list[dict[str, Any]]:
        """A job's summaries and translations, oldest first."""
        rows = self.db.query("select * from followups where job_id = ? order by id", [job_id])
        return [_followup(r) for r in rows]

    def update_followup(self, followup_id: int, **fields: Any) -> None:
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"], ensure_ascii=False)
        fields["updated_at"] = time.time()
        with self.db.atomic():
            self.db.table("followups").update(followup_id, fields)

    def next_followup(self, now: float) -> dict[str, Any] | None:
        """The next queued follow-up not waiting out a back-off: by its job's priority (an
        HTTP request waits for its translation), then the oldest."""
        rows = list(
            self.db.query(
                "select f.* from followups f join jobs j on j.id = f.job_id "
                "where f.state = 'queued' and (f.not_before is null or f.not_before <= ?) "
                "order by j.priority desc, f.id limit 1",
                [now],
            )
        )
        return _followup(rows[0]) if rows else None

    def followup_wakeup(self) -> float | None:
        row = self.db.execute(
            "select min(not_before) from followups where state = 'queued'"
        ).fetchone()
        return row[0]

    def stored_answer(self, key: str) -> dict[str, Any] | None:
        """A finished follow-up's result for the same input, prompt and model, if any."""
        row = self.db.execute(
            "select result from followups where key = ? and state = 'done' and result is not "
            "null order by id desc limit 1",
            [key],
        ).fetchone()
        return json.loads(row[0]) if row else None

    def requeue_running_followups(self) -> int:
        """Start-up: follow-ups a stop interrupted go back to the queue."""
        with self.db.atomic():
            return self.db.execute(
                "update followups set state = 'queued' where state = 'running'"
            ).rowcount

    def index_summary(self, job_id: int, summary: str, title: str) -> None:
        """The summary (and the model's title) in search, under the job's id."""
        job = self.get_job(job_id)
        with self.db.atomic():
            self.db.execute("delete from summaries_fts where rowid = ?", [job_id])
            self.db.execute(
                "insert into summaries_fts (rowid, text, title, subscription, date) "
                "values (?, ?, ?, ?, ?)",
                [job_id, f"{title}\n{summary}", job.title, job.subscription or "", job.created_at],
            )

    def job_translation(self, job_id: int, language: str) -> dict[str, Any] | None:
        """The newest finished translation of a job into `language`: {cues, kept, ...}."""
        row = self.db.execute(
            "select result from followups where job_id = ? and kind = 'translation' and "
            "language = ? and state = 'done' and result is not null order by id desc limit 1",
            [job_id, language],
        ).fetchone()
        return json.loads(row[0]) if row else None

    def job_summary(self, job_id: int) -> dict[str, Any] | None:
        """The newest finished summary of a job: {summary, title, chapters, model}."""
        row = self.db.execute(
            "select result from followups where job_id = ? and kind = 'summary' and "
            "state = 'done' and result is not null order by id desc limit 1",
            [job_id],
        ).fetchone()
        return json.loads(row[0]) if row else None

    # ------------------------------------------------------------ speakers

    def voice(self, job_id: int, speaker: str) -> list[float] | None:
        row = self.db.execute(
            "select embedding from voices where job_id = ? and speaker = ?", [job_id, speaker]
        ).fetchone()
        return json.loads(row[0]) if row else None

    def job_speakers(self, job_id: int) -> list[str]:
        rows = self.db.execute(
            "select distinct speaker from segments where job_id = ? and speaker is not null "
            "order by idx",
            [job_id],
        )
        return [r[0] for r in rows]

    def name_speaker(
        self, job_id: int, speaker: str, name: str, scope: str, embedding: list[float] | None
    ) -> None:
        """Call `speaker` `name` in the job's transcript (and search), and remember the voice
        under that name for `scope` (a source, or "*")."""
        with self.db.atomic():
            self.db.execute(
                "update segments set speaker = ? where job_id = ? and speaker = ?",
                [name, job_id, speaker],
            )
            self.db.execute(  # two speakers given one name become one voice row
                "update or replace voices set speaker = ? where job_id = ? and speaker = ?",
                [name, job_id, speaker],
            )
            if embedding is not None:
                self.db.table("known_voices").upsert(
                    {
                        "name": name,
                        "scope": scope,
                        "embedding": json.dumps(embedding),
                        "job_id": job_id,
                        "created_at": time.time(),
                    },
                    pk=("name", "scope"),
                )

    def known_voices(self, scope: str | None = None) -> list[dict[str, Any]]:
        """Named voices: those of `scope`, or all (scope None)."""
        sql = "select * from known_voices"
        params: list[Any] = []
        if scope is not None:
            sql += " where scope = ?"
            params.append(scope)
        rows = [dict(r) for r in self.db.query(sql + " order by name", params)]
        for row in rows:
            row["embedding"] = json.loads(row["embedding"])
        return rows

    def forget_voice(self, name: str) -> int:
        with self.db.atomic():
            return self.db.execute("delete from known_voices where name = ?", [name]).rowcount

    # ------------------------------------------------------------ search

    def search(
        self,
        fts_query: str,
        *,
        source: str | None = None,
        since: float | None = None,
        limit: int = 20,
        marks: tuple[str, str] = ("[", "]"),
    ) -> list[dict[str, Any]]:
        """Ranked segment hits for an FTS5 query (see search.py for building one).

        Raises sqlite3.OperationalError on FTS syntax errors; search.py turns that into a
        message for people.
        """
        # Rank and cut on the FTS table alone (filters use its own columns); only the `limit`
        # best rows are then joined. A LIMIT subquery is never flattened into the join.
        where = ["{fts} match ?"]  # the same conditions on segments and on summaries
        filters: list[Any] = [fts_query]
        if source:
            where.append("({t}title like ? or {t}subscription like ?)")
            filters += [f"%{source}%"] * 2
        if since is not None:
            where.append("{t}date >= ?")
            filters.append(since)
        on_segments = " and ".join(w.format(fts="segments_fts", t="") for w in where)
        on_summaries = " and ".join(w.format(fts="summaries_fts", t="") for w in where)
        sql = f"""
            with best as (
                select rowid as segment, job_id, start, title, subscription, date, rank,
                       snippet(segments_fts, 0, ?, ?, '…', 16) as snippet
                from segments_fts where {on_segments}
                order by rank limit ?
            )
            select best.job_id, best.start, s.end, s.speaker, best.title, best.subscription,
                   coalesce(j.path, j.url) as source, j.outputs, best.date as created_at,
                   best.snippet, best.rank
            from best
            join segments s on s.rowid = best.segment
            join jobs j on j.id = best.job_id
            order by best.rank, best.job_id, best.start
        """
        params = [*marks, *filters, limit]
        hits = [dict(row) for row in self.db.query(sql, params)]
        summaries = f"""
            select f.rowid as job_id, 0.0 as start, 0.0 as end, null as speaker, f.title,
                   f.subscription, coalesce(j.path, j.url) as source, j.outputs,
                   f.date as created_at, f.snippet, f.rank, 1 as summary
            from (
                select rowid, title, subscription, date, rank,
                       snippet(summaries_fts, 0, ?, ?, '…', 16) as snippet
                from summaries_fts where {on_summaries} order by rank limit ?
            ) f join jobs j on j.id = f.rowid
        """
        hits += [dict(row) for row in self.db.query(summaries, params)]
        hits.sort(key=lambda h: (h["rank"], h["job_id"], h["start"]))
        hits = hits[:limit]
        for hit in hits:
            hit["outputs"] = json.loads(hit["outputs"] or "[]")
            hit["subscription"] = hit["subscription"] or None
            if hit.pop("summary", None):
                hit["summary"] = True  # a hit in the job's summary, not its transcript
        return hits

    # ------------------------------------------------------------ log

    def log(self, level: str, message: str, job_id: int | None = None) -> LogEntry:
        ts = time.time()
        with self.db.atomic():
            row = {"ts": ts, "level": level, "job_id": job_id, "message": message}
            last = self.db.table("log").insert(row).last_pk
            assert isinstance(last, int)
        return {"ts": ts, "level": level, "job_id": job_id, "message": message, "id": last}

    def logs(self, limit: int = 100, job_id: int | None = None) -> list[LogEntry]:
        sql, params = "select * from log", []
        if job_id is not None:
            sql += " where job_id = ?"
            params.append(job_id)
        sql += " order by id desc limit ?"
        params.append(limit)
        return cast("list[LogEntry]", list(reversed(list(self.db.query(sql, params)))))


def _followup(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["result"] = json.loads(out["result"]) if out.get("result") else None
    out["force"] = bool(out.get("force"))
    return out


class StoreUnwritable(StoreError):
    """The database cannot be written at all: exit 78 (EX_CONFIG), like a bad config, so a
    service manager does not restart earwig into the same wall."""

    exit_code = 78


def _unwritable(path: Path, reason: str) -> StoreUnwritable:
    return StoreUnwritable(
        f"cannot write the database {path}: {reason}",
        f"make it writable (`ls -l {path}`; `lsattr {path}` shows an immutable flag, "
        "`chattr -i` clears it), or point [daemon] database at another file",
    )


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _job_to_row(job: Job) -> dict[str, Any]:
    row = job.to_dict()
    row["outputs"] = json.dumps(row["outputs"])
    row["warnings"] = json.dumps(row["warnings"]) if row["warnings"] else None
    row["force"] = int(job.force)
    for column in ("publisher", "chapters", "beside", "options", "languages"):
        row[column] = json.dumps(row[column]) if row[column] else None
    times = row.pop("times")
    for state, column in STATE_COLUMNS.items():
        row[column] = times.get(str(state))
    return row


def _row_to_job(row: dict[str, Any]) -> Job:
    row = dict(row)
    row["outputs"] = json.loads(row.get("outputs") or "[]")
    row["warnings"] = json.loads(row.get("warnings") or "[]")
    for column, empty in (
        ("publisher", "{}"),
        ("chapters", "[]"),
        ("beside", "[]"),
        ("options", "{}"),
        ("languages", "[]"),
    ):
        row[column] = json.loads(row.get(column) or empty)
    row["times"] = {
        str(state): row.pop(column)
        for state, column in STATE_COLUMNS.items()
        if row.get(column) is not None
    }
    return Job.from_dict(row)
