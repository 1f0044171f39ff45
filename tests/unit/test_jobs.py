"""The state machine, table-tested: every (state, action) pair is either allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from earwig import jobs
from earwig.errors import InvalidTransition
from earwig.jobs import Action
from earwig.model import Job, JobState

S = JobState
ALLOWED = {
    # a URL job: its own state while the media downloads, then back in the queue
    (S.QUEUED, Action.DOWNLOAD): S.DOWNLOADING,
    (S.DOWNLOADING, Action.DOWNLOADED): S.QUEUED,
    (S.DOWNLOADING, Action.FAIL): S.FAILED,
    (S.DOWNLOADING, Action.CANCEL): S.CANCELLED,
    (S.DOWNLOADING, Action.PAUSE): S.PAUSED,
    (S.DOWNLOADING, Action.REQUEUE): S.QUEUED,
    (S.DOWNLOADING, Action.FINISH): S.DONE,  # a feed item's text was the publisher's
    (S.QUEUED, Action.FETCH): S.FETCHING,
    (S.FETCHING, Action.TRANSCRIBE): S.TRANSCRIBING,
    (S.TRANSCRIBING, Action.FINISH): S.DONE,
    (S.QUEUED, Action.FAIL): S.FAILED,
    (S.FETCHING, Action.FAIL): S.FAILED,
    (S.TRANSCRIBING, Action.FAIL): S.FAILED,
    (S.QUEUED, Action.CANCEL): S.CANCELLED,
    (S.FETCHING, Action.CANCEL): S.CANCELLED,
    (S.TRANSCRIBING, Action.CANCEL): S.CANCELLED,
    (S.PAUSED, Action.CANCEL): S.CANCELLED,
    (S.QUEUED, Action.PAUSE): S.PAUSED,
    (S.FETCHING, Action.PAUSE): S.PAUSED,
    (S.TRANSCRIBING, Action.PAUSE): S.PAUSED,
    (S.PAUSED, Action.RESUME): S.QUEUED,
    (S.DONE, Action.RETRY): S.QUEUED,
    (S.FAILED, Action.RETRY): S.QUEUED,
    (S.CANCELLED, Action.RETRY): S.QUEUED,
    (S.FETCHING, Action.REQUEUE): S.QUEUED,
    (S.TRANSCRIBING, Action.REQUEUE): S.QUEUED,
}


def make(state: JobState, **kw) -> Job:
    return Job(id=1, source="test", title="t.wav", state=state, **kw)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(JobState, Action)))
def test_every_transition_is_allowed_or_refused(state: JobState, action: Action) -> None:
    job = make(state)
    if (state, action) in ALLOWED:
        moved = jobs.advance(job, action, now=100.0)
        assert moved.state is ALLOWED[(state, action)]
        assert moved.times[str(moved.state)] == 100.0
        assert moved.updated_at == 100.0
    else:
        with pytest.raises(InvalidTransition) as info:
            jobs.advance(job, action, now=100.0)
        assert str(state) in info.value.message


def test_the_table_under_test_is_the_module_table() -> None:
    assert jobs.TRANSITIONS == ALLOWED


def test_fail_records_the_reason_and_retry_clears_it() -> None:
    failed = jobs.advance(
        make(S.TRANSCRIBING, attempts=2), Action.FAIL, 1.0, error="boom", hint="h"
    )
    assert (failed.error, failed.hint) == ("boom", "h")
    again = jobs.advance(failed, Action.RETRY, 2.0)
    assert again.error is None and again.hint is None
    assert again.attempts == 0 and again.force is True


def test_advance_does_not_mutate_the_input() -> None:
    job = make(S.QUEUED)
    jobs.advance(job, Action.FETCH, 1.0)
    assert job.state is S.QUEUED and job.times == {}


def test_recover_requeues_interrupted_jobs_and_counts_the_attempt() -> None:
    for state in (S.FETCHING, S.TRANSCRIBING):
        job = jobs.recover(make(state), now=5.0, max_attempts=3)
        assert job.state is S.QUEUED and job.attempts == 1


def test_recover_fails_a_job_that_keeps_killing_the_daemon() -> None:
    job = jobs.recover(make(S.TRANSCRIBING, attempts=2), now=5.0, max_attempts=3)
    assert job.state is S.FAILED
    assert "interrupted 3 times" in (job.error or "")


@pytest.mark.parametrize("state", [S.QUEUED, S.DONE, S.FAILED, S.PAUSED, S.CANCELLED])
def test_recover_leaves_jobs_that_were_not_running_alone(state: JobState) -> None:
    job = make(state)
    assert jobs.recover(job, now=5.0, max_attempts=3) == job


def test_an_interrupted_download_goes_back_to_the_queue_and_counts() -> None:
    job = make(S.DOWNLOADING, url="https://example.org/a.mp3", attempts=0)
    fixed = jobs.recover(job, 100.0, max_attempts=3)
    assert fixed.state is S.QUEUED and fixed.attempts == 1
    assert jobs.recover(make(S.DOWNLOADING, attempts=2), 100.0, 3).state is S.FAILED


def test_new_jobs_start_queued_with_their_time() -> None:
    job = jobs.new("watch", "a.wav", 42.0, path="/a.wav")
    assert job.state is S.QUEUED and job.times == {"queued": 42.0}
    assert job.created_at == job.updated_at == 42.0 and job.id is None


def test_the_groups_of_states_are_derived_and_cover_every_state() -> None:
    """States are spelled once, in JobState: the groups, the queue's sort order and the
    store's SQL all come from it, so a new state cannot be missing from any of them."""
    from earwig import formatting, model, store

    assert set(model.RUNNING) == {s for s in JobState if s.running}
    assert set(model.FINISHED) == {s for s in JobState if s.finished}
    assert formatting.RUNNING == model.RUNNING
    assert set(formatting.STATE_ORDER) == {str(s) for s in JobState}
    assert sorted(formatting.STATE_ORDER, key=formatting.STATE_ORDER.__getitem__) == [
        "transcribing", "fetching", "downloading", "queued", "paused", "failed", "done",
        "cancelled",
    ]  # fmt: skip
    assert set(store._CLAIMING) == {str(s) for s in JobState} - {"failed", "cancelled"}


@pytest.mark.parametrize("action", list(Action))
def test_a_stopped_job_keeps_its_work_until_it_ends_or_starts_afresh(action: Action) -> None:
    """The windows a run finished (`saved`) survive pause, resume and requeue; finishing,
    failing, cancelling and retrying drop them (the store drops the windows with it)."""
    state = next((s for (s, a) in jobs.TRANSITIONS if a is action), None)
    assert state is not None
    moved = jobs.advance(make(state, saved=600.0), action, 2.0)
    drops = {Action.FINISH, Action.FAIL, Action.CANCEL, Action.RETRY}
    assert moved.saved == (0.0 if action in drops else 600.0), action


def test_a_retry_of_a_done_job_called_off_is_done_again() -> None:
    """Its transcript and files are those of its finished run until the retry finishes, so a
    cancel puts it back to done; a job that was never done is cancelled as usual."""
    was_done = make(S.TRANSCRIBING, outputs=("/out/a.txt",), times={"done": 1.0, "queued": 2.0})
    assert jobs.advance(was_done, Action.CANCEL, 3.0).state is S.DONE
    assert jobs.advance(was_done.replace(state=S.QUEUED), Action.CANCEL, 3.0).state is S.DONE
    never = make(S.TRANSCRIBING, times={"queued": 2.0})
    assert jobs.advance(never, Action.CANCEL, 3.0).state is S.CANCELLED
    with pytest.raises(InvalidTransition, match=r"job 1 is done, so it cannot be cancelled"):
        jobs.advance(make(S.DONE), Action.CANCEL, 3.0)
