"""The daemon's parts, in-process, in seconds and without a model: the runner (with a small
in-memory transcriber written for these tests, the one stand-in here: the real model runs in
tests/integration), the download workers against a real HTTP server on 127.0.0.1 and real
yt-dlp, the inbox parser, and the outbox's `seq` gaps. Each part is built from the narrow
collaborators the daemon hands it (a real SQLite store, a real bus), never from the daemon."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from earwig import jobs, protocol
from earwig.config import DownloadsConfig, OutputConfig
from earwig.daemon.aborts import Aborts
from earwig.daemon.bus import MAX_QUEUED_EVENTS, Bus, Outbox
from earwig.daemon.downloads import DownloadManager
from earwig.daemon.hosts import HostPolicy
from earwig.daemon.inbox import Inbox
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.daemon.runner import Runner
from earwig.errors import Aborted, BackendError, TransientError
from earwig.jobs import Action
from earwig.model import Job, JobState, Segment, Transcript
from earwig.speech import write_wav
from earwig.store import Store
from earwig.transcribe.base import TranscribeOptions
from httpserver import LocalServer

DEADLINE = 20.0


class Recorder:
    """A subscriber on the bus that keeps every event (what a client would receive)."""

    def __init__(self) -> None:
        self.topics = {"jobs", "log"}
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, event: protocol.Event[Any]) -> None:
        self.events.append((event.kind.name, event.data))

    def progress(self, job_id: int, data: dict[str, Any]) -> None:
        self.events.append(("job.progress", data))

    def states(self, job_id: int | None) -> list[str]:
        assert job_id is not None
        return [
            d["state"]
            for name, d in self.events
            if name in ("job.added", "job.updated") and d.get("id") == job_id
        ]


class StandIn:
    """An in-memory transcriber: 'hears' how long the audio is, or does what a test asks."""

    name = "stand-in"
    model_name = "stand-in-model"
    window_seconds = 600.0

    def __init__(self, behave: Callable[[Callable[[], bool]], object] | None = None) -> None:
        self.behave = behave
        self.loaded = False
        self.on_fallback: Any = None
        self.calls = 0

    def load(self) -> None:
        self.loaded = True

    def unload(self) -> None:
        self.loaded = False

    def transcribe(self, samples, options, on_progress, should_abort) -> Transcript:
        self.calls += 1
        if self.behave is not None:
            self.behave(should_abort)
        on_progress(1.0)
        seconds = len(samples) / 16000
        text = f"heard {seconds:.0f} seconds"
        # it says it heard speech throughout (as a backend that ran its VAD does), so the
        # pipeline does not look for lines over silence in its silent test audio
        segments = (Segment(0.0, seconds, text),)
        return Transcript(segments, "en", seconds, self.name, "m", speech=seconds)


class StandInBackends:
    options = TranscribeOptions()
    configured_model = "stand-in-model"

    def __init__(self, transcriber: StandIn) -> None:
        self.transcriber = transcriber

    @property
    def loaded(self) -> bool:
        return self.transcriber.loaded

    def transcriber_for(self, model: str | None, worker: int = 0) -> StandIn:
        return self.transcriber

    def unload(self) -> None:
        self.transcriber.unload()


def tone(path: Path, seconds: float = 3.0) -> Path:
    """A real wav file (a quiet tone), decoded by the real PyAV path."""
    t = np.arange(int(16000 * seconds)) / 16000
    pcm = (0.1 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    return write_wav(path, pcm.tobytes(), 16000)


class Parts:
    def __init__(self, tmp: Path) -> None:
        self.store = Store(tmp / "e.db")
        self.bus = Bus()
        self.recorder = Recorder()
        self.bus.outboxes.add(self.recorder)  # type: ignore[arg-type]
        self.events = Events(self.store, self.bus)
        self.queue = JobQueue(self.store, self.events, lambda: RetryPolicy(3, 30.0))
        self.aborts = Aborts()
        self.out = tmp / "out"

    def runner(self, transcriber: StandIn) -> Runner:
        return Runner(
            self.queue,
            self.events,
            self.aborts,
            StandInBackends(transcriber),
            output=lambda: OutputConfig(dir=self.out, formats=("txt", "json")),
            unload_after=lambda: 300.0,
        )

    def job(self, job_id: int | None) -> Job:
        """The job as stored now (`job_id` straight from `queue.add(...).id`)."""
        assert job_id is not None, "a job the queue has not saved"
        return self.store.get_job(job_id)

    def transcript(self, job_id: int | None) -> Transcript:
        assert job_id is not None
        found = self.store.get_transcript(job_id)
        assert found is not None, f"job {job_id} has no transcript"
        return found


async def until(condition: Callable[[], Any], what: str) -> Any:
    """Wait on a condition with a deadline (never a fixed sleep); fail if it never holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while loop.time() < end:
        if value := condition():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def run(
    test: Callable[[asyncio.Event], Awaitable[None]],
    part: Callable[..., Any],
    queue: JobQueue,
) -> None:
    """Run `part(stop)` in the background while `test(stop)` drives it, then stop it the
    way the daemon does (set stop, wake the queue's waiters)."""

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(part(stop))
        try:
            await test(stop)
        finally:
            stop.set()
            queue.wake()
            await asyncio.wait_for(task, DEADLINE)

    asyncio.run(main())


def test_the_runner_takes_a_job_through_its_states_and_writes_outputs(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    transcriber = StandIn()
    runner = parts.runner(transcriber)
    media = tone(tmp_path / "talk.wav")

    async def test(stop: asyncio.Event) -> None:
        job = parts.queue.add(jobs.new("cli", "talk.wav", 1.0, path=str(media)))
        done = await until(lambda: parts.job(job.id).state is JobState.DONE, "done")
        assert done
        job = parts.job(job.id)
        assert parts.recorder.states(job.id) == ["queued", "fetching", "transcribing", "done"]
        assert (parts.out / "talk.txt").read_text() == "heard 3 seconds\n"
        assert job.backend == "stand-in" and job.duration == pytest.approx(3.0, abs=0.05)
        assert parts.transcript(job.id).text == "heard 3 seconds"
        assert any(name == "job.progress" for name, _ in parts.recorder.events)

    run(test, runner.run, parts.queue)


def test_errors_fail_or_requeue_by_kind_and_the_next_job_still_runs(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    outcomes = iter([BackendError("the model crashed"), TransientError("busy"), None])

    def behave(should_abort: Callable[[], bool]) -> None:
        if (exc := next(outcomes)) is not None:
            raise exc

    runner = parts.runner(StandIn(behave))

    async def test(stop: asyncio.Event) -> None:
        ids = [
            parts.queue.add(
                jobs.new("cli", f"{n}.wav", 1.0, path=str(tone(tmp_path / f"{n}.wav")))
            ).id
            for n in ("a", "b", "c")
        ]
        await until(
            lambda: (
                [parts.job(i).state for i in ids]
                == [JobState.FAILED, JobState.QUEUED, JobState.DONE]
            ),
            "a failed, b waiting out its backoff, c done",
        )
        a, b = parts.job(ids[0]), parts.job(ids[1])
        assert a.error == "the model crashed" and a.attempts == 1
        assert b.error == "busy" and b.attempts == 1 and b.not_before is not None
        # its last try: the hint no longer says "earwig retries" (issue 39, item 10)
        parts.store.save_job(b.replace(attempts=2))  # two tries spent: the next is the last
        parts.queue.fail(ident(b.id), TransientError("busy", "earwig tries again later"))
        b = parts.job(ids[1])
        assert b.state is JobState.FAILED
        assert b.hint == f"tried 3 times, the last one just now; `earwig retry {b.id}` tries again"

    run(test, runner.run, parts.queue)


def test_cancel_reaches_a_running_job_and_pause_of_the_queue_holds_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = Parts(tmp_path)
    started = threading.Event()
    # Each time a worker finds nothing to do it goes to sleep in queue.wait: counting those
    # calls tells the test when the runner has looked at the queue and left the job alone.
    sleeps: list[float] = []
    real_wait = parts.queue.wait

    async def wait(signal: asyncio.Event, timeout: float) -> bool:
        sleeps.append(timeout)
        return await real_wait(signal, timeout)

    monkeypatch.setattr(parts.queue, "wait", wait)

    def behave(should_abort: Callable[[], bool]) -> None:
        if started.is_set():
            return  # a second job that runs at all is caught below, and quickly
        started.set()
        while not should_abort():  # a backend polls this between segments
            threading.Event().wait(0.01)
        raise Aborted("stopped")

    runner = parts.runner(StandIn(behave))

    async def test(stop: asyncio.Event) -> None:
        media = str(tone(tmp_path / "long.wav"))
        job = parts.queue.add(jobs.new("cli", "long.wav", 1.0, path=media))
        await until(started.is_set, "the transcriber to start")
        assert job.id is not None and parts.aborts.request(job.id, Action.CANCEL)
        await until(lambda: parts.job(job.id).state is JobState.CANCELLED, "cancelled")
        parts.queue.paused = True
        later = parts.queue.add(jobs.new("cli", "later.wav", 2.0, path=media, force=True))
        looked = len(sleeps)
        parts.queue.wake()
        # the worker wakes, looks at the queue (paused, a job queued) and sleeps again
        await until(lambda: len(sleeps) > looked, "the runner to look and go back to sleep")
        assert parts.job(later.id).state is JobState.QUEUED
        assert parts.recorder.states(later.id) == ["queued"]

    run(test, runner.run, parts.queue)


def test_a_paused_job_stops_at_once_keeps_its_windows_and_goes_on_after_them(
    tmp_path: Path,
) -> None:
    """A 7 s file in 2 s windows. Paused while the engine is inside its third window, in a
    call that cannot be interrupted: the job is paused at once (the engine's piece ends
    later, its result dropped), the two finished windows are kept, and the resumed run
    transcribes only the last two windows; its transcript is the unpaused run's."""
    parts = Parts(tmp_path)
    inside, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def behave(should_abort: Callable[[], bool]) -> None:
        calls.append(1)
        if len(calls) == 3:  # like a batch of CTranslate2: it does not look until it is done
            inside.set()
            release.wait(DEADLINE)

    transcriber = StandIn(behave)
    transcriber.window_seconds = 2.0
    runner = parts.runner(transcriber)
    media = str(tone(tmp_path / "long.wav", seconds=7.0))

    async def test(stop: asyncio.Event) -> None:
        paused = parts.queue.add(jobs.new("cli", "long.wav", 1.0, path=media))
        await until(inside.is_set, "the third window in the engine")
        kept = await until(lambda: parts.job(paused.id).saved, "two windows kept")
        assert parts.aborts.request(ident(paused.id), Action.PAUSE)
        await until(lambda: parts.job(paused.id).state is JobState.PAUSED, "paused")
        assert not release.is_set()  # paused while the engine was still busy
        assert parts.recorder.states(paused.id)[-1] == "paused"
        assert 3.0 < kept < 5.0 and parts.job(paused.id).saved == kept
        said = [e["message"] for e in parts.store.logs(job_id=paused.id)]
        assert (
            f"paused: long.wav (stopped while running; the first 00:0{int(kept)} is kept)" in said
        )
        # stopped, it is no longer the busy worker's: steering goes through the queue (a
        # cancel sent to the old run's handle would be lost), and it may be resumed at once;
        # it runs again once the engine has finished its piece and the slot is free
        assert not parts.aborts.request(ident(paused.id), Action.CANCEL)
        parts.queue.transition(ident(paused.id), Action.RESUME)
        assert runner.slots[0].finishing == 1 and not runner.slots[0].free
        release.set()
        await until(lambda: parts.job(paused.id).state is JobState.DONE, "done after resuming")
        assert len(calls) == 5  # windows 1-3, then 3 again and 4: two windows not redone
        assert parts.store.saved_windows(ident(paused.id)) == []  # done: nothing left over
        said = [e["message"] for e in parts.store.logs(job_id=paused.id)]
        assert any(m.startswith("long.wav: goes on at 00:0") for m in said), said
        assert any("kept from before" in m for m in said), said

        whole = parts.queue.add(jobs.new("cli", "long.wav", 2.0, path=media, force=True))
        await until(lambda: parts.job(whole.id).state is JobState.DONE, "the unpaused run")
        assert len(calls) == 9
        assert parts.transcript(paused.id) == parts.transcript(whole.id)

    run(test, runner.run, parts.queue)


def ident(job_id: int | None) -> int:
    assert job_id is not None
    return job_id


def test_a_url_job_downloads_then_queues_with_its_media(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    cache = tmp_path / "cache"
    with LocalServer() as server, ThreadPoolExecutor(2) as network:
        url = server.add(
            "/ep.wav", body=tone(tmp_path / "ep.wav").read_bytes(), content_type="audio/wav"
        )
        manager = DownloadManager(
            parts.queue,
            parts.events,
            parts.aborts,
            HostPolicy(2),
            network,
            lambda: DownloadsConfig(dir=cache, timeout=5.0, retries=1),
            lambda: OutputConfig(dir=tmp_path / "out"),
        )

        async def test(stop: asyncio.Event) -> None:
            job = parts.queue.add(jobs.new("cli", url, 1.0, url=url))
            gone = parts.queue.add(jobs.new("cli", server.url("/gone.wav"), 1.0, url="x"))
            await until(lambda: parts.job(job.id).path, "the download")
            assert parts.recorder.states(job.id) == ["queued", "downloading", "queued"]
            got = parts.job(job.id)
            assert got.path is not None and Path(got.path).is_relative_to(cache)
            assert got.sha256 and got.title == "ep"
            assert "downloading" in got.times
            await until(lambda: parts.job(gone.id).state is JobState.FAILED, "a bad URL fails")

        run(test, manager.run, parts.queue)


def test_the_inbox_queues_urls_once_and_fails_lines_that_are_not(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    path = tmp_path / "inbox.txt"
    path.write_text(
        "https://example.org/a.mp3\n# a comment\n\nnot a url\nhttps://example.org/a.mp3\n"
        "https://example.org/b.mp3\nhttps://example.org/half"  # no newline yet: not read
    )
    inbox = Inbox(
        parts.queue,
        parts.events,
        path,
        stable_after=lambda: 3600.0,
        output_dir=lambda: tmp_path / "out",
    )
    inbox._consume(path, "key", removable=False)
    found = parts.store.list_jobs()
    assert sorted((j.title, j.state) for j in found) == [
        ("https://example.org/a.mp3", JobState.QUEUED),
        ("https://example.org/b.mp3", JobState.QUEUED),
        ("not a url", JobState.FAILED),
    ]
    inbox._consume(path, "key", removable=False)  # read again: nothing twice
    assert len(parts.store.list_jobs()) == 3
    assert "already queued" in (tmp_path / "inbox.done").read_text()


def test_an_outbox_that_overflows_shows_the_gap_in_seq() -> None:
    """A client that reads too slowly loses events, and learns it from a gap in `seq`."""
    import json

    class Writer:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            pass

        def close(self) -> None:
            pass

    async def main() -> list[int]:
        writer = Writer()
        box = Outbox(writer)  # type: ignore[arg-type]
        for n in range(MAX_QUEUED_EVENTS + 5):  # no await: the writer task cannot run
            box.event(protocol.JOB_UPDATED({"n": n}))  # type: ignore[typeddict-item]
        await until(lambda: writer.data.count(b"\n") == MAX_QUEUED_EVENTS, "the first batch")
        box.event(protocol.JOB_UPDATED({"n": "after"}))  # type: ignore[typeddict-item]
        await box.close()
        return [json.loads(line)["seq"] for line in writer.data.splitlines()]

    seqs = asyncio.run(main())
    assert len(seqs) == MAX_QUEUED_EVENTS + 1  # what fit, and the one after
    assert all(b > a for a, b in itertools.pairwise(seqs))  # in order
    gaps = [b - a - 1 for a, b in zip([0, *seqs], seqs, strict=False) if b - a > 1]
    assert gaps == [5]  # five were dropped: one gap, of five, tells the client


def test_subscription_checks_take_the_backfill_then_only_new_items(tmp_path: Path) -> None:
    """The selection, in-process against a feed on 127.0.0.1: the first check takes the
    newest `backfill` items and archives the rest; later checks take only what is new; an
    unchanged feed (304) queues nothing and fetches no media."""
    from earwig.config import Config, OutputConfig, SubscriptionConfig
    from earwig.daemon.subscriptions import Subscriptions
    from earwig.protocol import CheckOutcome
    from httpserver import rss

    parts = Parts(tmp_path)
    items = [
        {"title": f"Episode {n}", "url": f"http://127.0.0.1/ep{n}.mp3", "date": 1e9 + n * 86400}
        for n in (1, 2, 3, 4)
    ]
    with LocalServer() as server, ThreadPoolExecutor(2) as network:
        feed = server.add("/feed.xml", body=rss(items), content_type="application/rss+xml")
        server.resources["/feed.xml"].etag = '"v1"'
        sub = SubscriptionConfig(name="pod", url=feed, backfill=2)
        cfg = Config(subscriptions=(sub,), output=OutputConfig(dir=tmp_path / "out"))
        subs = Subscriptions(parts.queue, parts.events, HostPolicy(2), network, lambda: cfg)

        async def main() -> list[CheckOutcome]:
            results = [await subs.check("pod")]
            items.append({"title": "Episode 5", "url": "http://127.0.0.1/ep5.mp3", "date": 2e9})
            server.add("/feed.xml", body=rss(items), content_type="application/rss+xml")
            server.resources["/feed.xml"].etag = '"v2"'
            results.append(await subs.check("pod"))
            results.append(await subs.check("pod"))  # unchanged: a 304
            return results

        first, second, third = asyncio.run(main())
    titles = [j.title for j in sorted(parts.store.list_jobs(), key=lambda j: j.id or 0)]
    assert titles == ["Episode 3", "Episode 4", "Episode 5"]  # oldest first, no back catalogue
    assert first["new"] == 2 and first["skipped"] == 2
    assert second["new"] == 1 and third == {"name": "pod", "new": 0, "unchanged": True}
    assert all(j.subscription == "pod" and j.url for j in parts.store.list_jobs())
    assert server.media_requests() == 0


class ServerStandIn(StandIn):
    """A speech server's transcriber, in memory: it can go down (ServerUnavailable) on
    chosen calls, as a server that dies mid-request does. With `first_with`, its first
    request waits there until the other servers' first requests are running too."""

    def __init__(
        self,
        name: str,
        fail_on: frozenset[int] = frozenset(),
        first_with: threading.Barrier | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.fail_on = fail_on
        self.first_with = first_with

    def transcribe(self, samples, options, on_progress, should_abort) -> Transcript:
        self.calls += 1
        if self.calls in self.fail_on:
            from earwig.errors import ServerUnavailable

            raise ServerUnavailable(f"{self.name} hung up")
        if self.calls == 1 and self.first_with is not None:
            self.first_with.wait()  # fails (BrokenBarrierError) if the pool used one at a time
        seconds = len(samples) / 16000
        return Transcript((Segment(0.0, seconds, "heard"),), "en", seconds, self.name, "m")


def test_a_pool_spreads_jobs_fails_over_once_and_takes_a_server_back(tmp_path: Path) -> None:
    from earwig.daemon.pool import Slot

    parts = Parts(tmp_path)
    at_once = threading.Barrier(2, timeout=DEADLINE)  # both servers are given work together
    flaky = ServerStandIn("flaky", fail_on=frozenset({2}), first_with=at_once)
    steady = ServerStandIn("steady", first_with=at_once)
    with LocalServer() as health:  # what the probe asks: the flaky server answers again
        health.add("/v1/models", body=b'{"data": []}', content_type="application/json")
        slots = [
            Slot("flaky", "server", 1, url=health.url("/v1"), backend=flaky),
            Slot("steady", "server", 1, url=None, backend=steady),
        ]
        runner = Runner(
            parts.queue,
            parts.events,
            parts.aborts,
            StandInBackends(StandIn()),
            output=lambda: OutputConfig(dir=parts.out, formats=("txt",)),
            unload_after=lambda: 300.0,
            slots=slots,
        )

        async def test(stop: asyncio.Event) -> None:
            ids = []
            for n in range(6):
                media = tone(tmp_path / f"f{n}.wav", 1.0 + n / 10)  # distinct content
                ids.append(parts.queue.add(jobs.new("cli", f"f{n}.wav", 1.0, path=str(media))).id)
            await until(
                lambda: all(parts.job(i).state is JobState.DONE for i in ids), "all six done"
            )
            await until(lambda: slots[0].up, "the flaky server probed back up")
            done = [parts.job(i) for i in ids]
            assert {j.slot for j in done} == {"flaky", "steady"}  # spread over both
            requeued = [j for j in done if j.attempts]
            assert len(requeued) == 1 and requeued[0].slot == "steady"  # failed over once
            assert slots[0].errors == 1 and "hung up" in (slots[0].last_error or "")
            assert flaky.calls + steady.calls == 7  # six jobs, one of them twice
            assert sorted(p.name for p in parts.out.iterdir()) == [f"f{n}.txt" for n in range(6)]

        run(test, runner.run, parts.queue)


def test_two_local_workers_run_two_jobs_at_once(tmp_path: Path) -> None:
    from earwig.daemon.pool import Slot

    parts = Parts(tmp_path)
    both = threading.Barrier(2, timeout=DEADLINE)  # each job waits until the other runs too
    runner = Runner(
        parts.queue,
        parts.events,
        parts.aborts,
        StandInBackends(StandIn(lambda should_abort: both.wait())),
        output=lambda: OutputConfig(dir=parts.out, formats=("txt",)),
        unload_after=lambda: 300.0,
        slots=[Slot("local", "local", 2)],
    )

    async def test(stop: asyncio.Event) -> None:
        ids = [
            parts.queue.add(
                jobs.new("cli", f"{n}.wav", 1.0, path=str(tone(tmp_path / f"{n}.wav", 1 + n)))
            ).id
            for n in range(2)
        ]
        await until(lambda: all(parts.job(i).state is JobState.DONE for i in ids), "both done")

    run(test, runner.run, parts.queue)


def test_two_workers_retrying_with_another_model_each_get_their_own_transcriber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`earwig retry --model` with `workers = 2`: the real Backends hands each worker its own
    transcriber of that model (a model is not safe to share between threads), so the
    fallback warning the runner wires per job lands on the job it happened to."""
    from earwig.config import TranscribeConfig
    from earwig.daemon.backends import Backends
    from earwig.daemon.pool import Slot
    from earwig.transcribe import registry

    both = threading.Barrier(2, timeout=DEADLINE)  # both jobs are running before either falls

    class FallingBack(StandIn):
        """A transcriber whose first backend fails on every file, as FallbackTranscriber
        reports it: through the on_fallback the runner set for this job."""

        def transcribe(self, samples, options, on_progress, should_abort) -> Transcript:
            both.wait()
            self.on_fallback("first-backend", "second-backend", f"broke after {self.calls}")
            return super().transcribe(samples, options, on_progress, should_abort)

    made: list[FallingBack] = []

    def create(config: TranscribeConfig) -> FallingBack:
        made.append(FallingBack())
        return made[-1]

    monkeypatch.setattr(registry, "create", create)
    backends = Backends(TranscribeConfig())
    parts = Parts(tmp_path)
    runner = Runner(
        parts.queue,
        parts.events,
        parts.aborts,
        backends,
        output=lambda: OutputConfig(dir=parts.out, formats=("txt",)),
        unload_after=lambda: 300.0,
        slots=[Slot("local", "local", 2)],
    )

    async def test(stop: asyncio.Event) -> None:
        ids = [
            parts.queue.add(
                jobs.new(
                    "cli",
                    f"{n}.wav",
                    1.0,
                    path=str(tone(tmp_path / f"{n}.wav", 1 + n)),
                    model_request="base",  # what `earwig retry --model base` sets
                )
            ).id
            for n in range(2)
        ]
        await until(lambda: all(parts.job(i).state is JobState.DONE for i in ids), "both done")
        for job_id in ids:
            assert job_id is not None
            title = parts.job(job_id).title
            warned = [
                e["message"] for e in parts.store.logs(100, job_id) if "failed" in e["message"]
            ]
            assert warned == [
                f"first-backend failed on {title} (broke after 0); trying second-backend"
            ], (title, warned)
        assert backends.transcriber_for("base", 0) is not backends.transcriber_for("base", 1)
        assert len(made) == 3  # the configured model's, and base for each of the two workers

    run(test, runner.run, parts.queue)
