"""The job state machine, and nothing else: pure functions over `Job` values.

Keeping it free of I/O means every allowed and refused transition can be table-tested, and the
runner can follow one rule: advance -> store -> publish, so no event ever describes a state that
was not saved first.

    queued -> fetching -> transcribing -> done
    queued -> downloading -> queued (downloaded: a URL job's media is on disk)
    queued -> downloading -> done   (the publisher's transcript was taken; no media)
    queued/downloading/fetching/transcribing -> paused -> queued
    any unfinished -> cancelled;  downloading/fetching/transcribing -> failed (also queued)
    downloading/fetching/transcribing -> queued   (requeue: shutdown, crash, transient error)
    done/failed/cancelled -> queued   (retry, on the user's request)

A running job keeps the windows of a long file it has finished (`Job.saved`, the windows in
store.py): a pause, a requeue (shutdown, a transient error) and a resume keep them, so the
next run goes on from the last finished window; an action that ends the job or starts it
afresh (DISCARDS_WORK) drops them.

`new()` is the one place a job begins.
"""

from __future__ import annotations

import enum
from typing import Any

from earwig.errors import InvalidTransition
from earwig.model import Job, JobState

Q, F, T, D = JobState.QUEUED, JobState.FETCHING, JobState.TRANSCRIBING, JobState.DONE
DL = JobState.DOWNLOADING
X, C, P = JobState.FAILED, JobState.CANCELLED, JobState.PAUSED


class Action(enum.StrEnum):
    DOWNLOAD = "download"
    DOWNLOADED = "downloaded"
    FETCH = "fetch"
    TRANSCRIBE = "transcribe"
    FINISH = "finish"
    FAIL = "fail"
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    REQUEUE = "requeue"


TRANSITIONS: dict[tuple[JobState, Action], JobState] = {
    (Q, Action.DOWNLOAD): DL,
    (DL, Action.DOWNLOADED): Q,
    (DL, Action.FINISH): D,  # a feed item's text was the publisher's: no media needed
    (DL, Action.FAIL): X,
    (DL, Action.CANCEL): C,
    (DL, Action.PAUSE): P,
    (DL, Action.REQUEUE): Q,
    (Q, Action.FETCH): F,
    (F, Action.TRANSCRIBE): T,
    (T, Action.FINISH): D,
    (Q, Action.FAIL): X,
    (F, Action.FAIL): X,
    (T, Action.FAIL): X,
    (Q, Action.CANCEL): C,
    (F, Action.CANCEL): C,
    (T, Action.CANCEL): C,
    (P, Action.CANCEL): C,
    (Q, Action.PAUSE): P,
    (F, Action.PAUSE): P,
    (T, Action.PAUSE): P,
    (P, Action.RESUME): Q,
    (D, Action.RETRY): Q,
    (X, Action.RETRY): Q,
    (C, Action.RETRY): Q,
    (F, Action.REQUEUE): Q,
    (T, Action.REQUEUE): Q,
}


# The actions after which a job's saved windows are of no use: it is finished (done: the
# transcript is saved whole; failed, cancelled: nothing more is made) or starts afresh (retry).
DISCARDS_WORK = frozenset({Action.FINISH, Action.FAIL, Action.CANCEL, Action.RETRY})


def advance(
    job: Job,
    action: Action,
    now: float,
    *,
    error: str | None = None,
    hint: str | None = None,
    count_attempt: bool = False,
    not_before: float | None = None,
) -> Job:
    """Return `job` moved by `action`, or raise InvalidTransition with a readable reason."""
    target = TRANSITIONS.get((job.state, action))
    if target is None:
        raise InvalidTransition(
            f"job {job.id} is {job.state}, so it cannot be {_PARTICIPLE[action]}",
            _hint_for(job.state, action),
        )
    if action is Action.CANCEL and retried_after_done(job):
        # A retry of a finished transcription, called off: a retry replaces the transcript
        # and its files only when it finishes, so they are still there, and the job is done
        # again as it was (not "cancelled" beside a transcript, and out of --state done).
        target = D
    changes: dict = {
        "state": target,
        "updated_at": now,
        "times": {**job.times, str(target): now},
    }
    if action is Action.FAIL:
        changes.update(error=error or "failed", hint=hint)
    elif action in (Action.RETRY, Action.RESUME, Action.FETCH, Action.DOWNLOAD):
        changes.update(error=None, hint=None)
    if action is Action.RETRY:
        # The user asked for it: start afresh and transcribe even if the content is known
        # (or a publisher's transcript was taken).
        # The last run's warnings go: a rerun shows only what its own run found.
        changes.update(attempts=0, force=True, not_before=None, text_from=None, warnings=())
    if action is Action.REQUEUE:
        changes.update(not_before=not_before, error=error, hint=hint)
    if action in DISCARDS_WORK:
        changes["saved"] = 0.0
    if count_attempt:
        changes["attempts"] = job.attempts + 1
    return job.replace(**changes)


_PARTICIPLE = {
    Action.DOWNLOAD: "downloaded",
    Action.DOWNLOADED: "marked downloaded",
    Action.FETCH: "started",
    Action.TRANSCRIBE: "transcribed",
    Action.FINISH: "finished",
    Action.FAIL: "failed",
    Action.CANCEL: "cancelled",
    Action.PAUSE: "paused",
    Action.RESUME: "resumed",
    Action.RETRY: "retried",
    Action.REQUEUE: "queued again",
}


def retried_after_done(job: Job) -> bool:
    """Whether `job` is a retry (under way, or paused) of one that was done: its transcript
    and files are still those of its last finished run."""
    return bool(job.outputs) and str(D) in job.times and not job.state.finished


def new(source: str, title: str, now: float, **fields: Any) -> Job:
    """A queued job, as every intake (watch, add, inbox, subscription) makes one."""
    return Job(
        id=None,
        source=source,
        title=title,
        created_at=now,
        updated_at=now,
        times={str(Q): now},
        **fields,
    )


def recover(job: Job, now: float, max_attempts: int) -> Job:
    """Start-up repair for a job found mid-flight after a crash or kill.

    It goes back to the queue with the interruption counted; a job that keeps taking the
    daemon down with it (a file that crashes the backend) fails instead of looping forever.
    An interrupted download counts the same way (its partial file is resumed, so the retry
    costs little, and a URL whose download takes the daemon down must not loop either).
    """
    if not job.state.running:
        return job
    if job.attempts + 1 >= max_attempts:
        return advance(
            job,
            Action.FAIL,
            now,
            error=f"interrupted {job.attempts + 1} times while {job.state}",
            hint="the daemon stopped during this job each time; `earwig retry` to try again",
            count_attempt=True,
        )
    return advance(job, Action.REQUEUE, now, count_attempt=True)


def _hint_for(state: JobState, action: Action) -> str:
    if action is Action.RETRY:
        return "only finished jobs (done, failed, cancelled) can be retried"
    if action is Action.RESUME:
        return "only paused jobs can be resumed"
    if state.finished:
        return "the job has finished; `earwig retry` queues it again"
    return ""
