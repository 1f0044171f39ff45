"""Where a finished job's files go (daemon/delivery.py), against the real SQLite store."""

from __future__ import annotations

import time
from pathlib import Path

from earwig import config, jobs
from earwig.daemon import delivery
from earwig.daemon.bus import Bus
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.jobs import Action
from earwig.model import Job, Segment, Transcript
from earwig.store import Store

TRANSCRIPT = Transcript(
    segments=(Segment(0.0, 1.5, "Welcome back."),),
    language="en",
    duration=1.5,
    backend="faster-whisper",
    model="tiny.en",
)


def job_beside(store: Store, film: Path, **options: object) -> Job:
    job = jobs.new("jellyfin", film.name, time.time(), path=str(film), options=dict(options))
    return store.add_job(job.replace(beside=("srt",)))


def test_a_media_servers_job_writes_subtitles_beside_and_transcripts_where_output_says(
    tmp_path: Path,
) -> None:
    """Issue 36: the server gets its .srt beside the film; the user's [output] formats land in
    [output] dir as for any other job, and the job remembers their stem for downloads."""
    store = Store(tmp_path / "earwig.db")
    film = tmp_path / "library" / "Film (2020).mkv"
    film.parent.mkdir()
    output = config.OutputConfig(dir=tmp_path / "out", formats=("txt", "json"))
    job = job_beside(store, film, media_server={"sender": "jellyfin", "item": "abc"})
    plan = delivery.plan(job, store, output)
    written = delivery.write(plan, TRANSCRIPT)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "library/Film (2020).en.srt",
        "out/Film (2020).json",
        "out/Film (2020).txt",
    ]
    assert job.id is not None
    queue = JobQueue(store, Events(store, Bus()), lambda: RetryPolicy(3, 30.0))
    for action in (Action.FETCH, Action.TRANSCRIBE):
        queue.transition(job.id, action)
    done = delivery.finish(queue, job.id, plan, TRANSCRIPT, written)
    assert done.output_base == "Film (2020)" and len(done.outputs) == 3


def test_a_watched_folders_beside_writes_only_the_subtitles(tmp_path: Path) -> None:
    store = Store(tmp_path / "earwig.db")
    film = tmp_path / "Film.mkv"
    output = config.OutputConfig(dir=tmp_path / "out", formats=("txt", "json"))
    written = delivery.write(delivery.plan(job_beside(store, film), store, output), TRANSCRIPT)
    assert [p.name for p in written] == ["Film.en.srt"]
    assert not (tmp_path / "out").exists()
