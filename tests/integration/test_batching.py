"""Short jobs sharing the engine's batches, for real: eSpeak NG clips, the bundled model.

Each clip names its own animal and place (no two clips share one) and they differ in length
(one to four sentences), so a transcript or a timing handed to the wrong job shows: the
wrong words, or words past the end of the clip. A real `earwig run` takes twenty of them in
one batch, a corrupt clip among good ones, and concurrent /v1 requests of two option kinds;
the runner in process (same real model) holds a batch still to cancel jobs in and beside it.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import Home, encode
from earwig import jobs
from earwig import protocol as p
from earwig.config import OutputConfig, TranscribeConfig
from earwig.daemon import lane as lane_module
from earwig.daemon.aborts import Aborts
from earwig.daemon.backends import Backends
from earwig.daemon.bus import Bus
from earwig.daemon.lane import Lane
from earwig.daemon.pool import Slot
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.daemon.runner import Runner
from earwig.jobs import Action
from earwig.model import Job, JobState, Transcript
from earwig.speech import synthesize
from earwig.store import Store
from earwig.transcribe import fw_shared
from earwig.transcribe.audio import decode
from earwig.transcribe.batches import Kind
from helpers import DaemonProcess, normalise, wait_for, wer

# fmt: off
# (words tiny.en hears right from eSpeak NG's voice, checked one by one)
ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "goat", "monkey", "fox", "camel", "donkey",
           "lion", "tiger", "mouse", "rabbit", "eagle", "whale", "shark", "snake", "frog", "turtle"]
PLACES = ["kitchen", "garden", "river", "market", "station", "library", "school", "church",
          "village", "museum", "airport", "beach", "mountain", "castle", "hospital", "farm",
          "bridge", "hotel", "office", "island"]
# fmt: on
MORE = [
    "It stayed there until the evening and watched the people walk by.",
    "Nobody in the town could say why it had come so far.",
    "The next morning it was gone again, and the rain had started.",
]


def text_of(i: int) -> str:
    return " ".join([f"The {ANIMALS[i]} went to the {PLACES[i]}.", *MORE[: i % 4]])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("batching")
    return [synthesize(text_of(i), folder / f"clip{i:02d}.wav") for i in range(20)]


def check_own(i: int, text: str) -> None:
    """The transcript of clip `i` is its own text, with no other clip's words in it."""
    words = set(normalise(text).split())
    assert wer(text_of(i), text) < 0.35, (i, text)
    assert {ANIMALS[i], PLACES[i]} & words, (i, text)  # one may be misheard, not both
    others = (set(ANIMALS) | set(PLACES)) - {ANIMALS[i], PLACES[i]}
    assert not words & others, (i, text)


def check_times(segments: Sequence[dict[str, Any]], seconds: float) -> None:
    """Words on the clip's own clock: in order, inside it, from its start to its end."""
    words = [w for s in segments for w in s["words"]]
    assert words, segments
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= seconds + 0.01
    assert starts[0] < 1.0 and words[-1]["end"] > seconds - 1.5, (starts[0], words[-1], seconds)


def debug_logging(home: Home) -> None:
    config = home.config.read_text()
    home.config.write_text(config.replace("[daemon]\n", '[daemon]\nlog_level = "debug"\n', 1))


def loaded(daemon: DaemonProcess) -> None:
    wait_for(lambda: daemon.call(p.GetStatus())["backend"]["loaded"], 120, what="the model")


def test_twenty_clips_share_one_batch_and_each_gets_its_own_text_and_times(
    home: Home, clips: list[Path]
) -> None:
    home.write_config(transcribe='batch_size = 20\ngather = "600s"\nword_timestamps = true')
    debug_logging(home)
    daemon = home.daemon().start()
    try:
        loaded(daemon)
        order = list(range(20))
        random.Random(5).shuffle(order)  # not in the order of their lengths
        added = daemon.call(p.AddJobs(paths=[str(clips[i]) for i in order]))["results"]
        assert all("job" in a for a in added), added
        finished = daemon.wait_idle(20, timeout=900)
        assert [j["state"] for j in finished] == ["done"] * 20, finished
        for i in range(20):
            doc = json.loads((home.out / f"clip{i:02d}.json").read_text())
            check_own(i, doc["text"])
            check_times(doc["segments"], len(decode(clips[i])) / 16000)
            if i % 4 == 3:  # four sentences come back in sentences, as the engine alone
                assert len(doc["segments"]) >= 2, doc["segments"]  # gives them: not one line
        assert "shared batch of 20 pieces from 20 jobs" in daemon.log(), daemon.log()[-3000:]
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def corrupt(clips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An mp3 whose header says 6 s of audio and whose packets are noise: it probes fine,
    so it boards with the others, and fails only once its audio is decoded."""
    mp3 = encode(clips[3], tmp_path_factory.mktemp("corrupt") / "broken.mp3", "mp3")
    data = bytearray(mp3.read_bytes())
    noise = random.Random(1)
    data[600:] = bytes(noise.getrandbits(8) for _ in range(len(data) - 600))
    mp3.write_bytes(bytes(data))
    return mp3


def test_a_corrupt_clip_fails_alone_and_the_good_ones_share_their_batch(
    home: Home, clips: list[Path], corrupt: Path
) -> None:
    home.write_config(transcribe='gather = "600s"')
    debug_logging(home)
    daemon = home.daemon().start()
    try:
        loaded(daemon)
        good = [clips[i] for i in (0, 5, 10, 15)]
        paths = [str(good[0]), str(good[1]), str(corrupt), str(good[2]), str(good[3])]
        daemon.call(p.AddJobs(paths=paths))
        finished = {j["title"]: j for j in daemon.wait_idle(5, timeout=600)}
        broken = finished.pop("broken.mp3")
        assert broken["state"] == "failed" and "corrupt" in (broken["error"] or ""), broken
        assert [j["state"] for j in finished.values()] == ["done"] * 4, finished
        for i in (0, 5, 10, 15):
            check_own(i, (home.out / f"clip{i:02d}.txt").read_text())
        # the corrupt one boarded, then let the batch go without it
        assert "shared batch of 4 pieces from 4 jobs" in daemon.log(), daemon.log()[-3000:]
        assert daemon.call(p.GetStatus())["healthy"]
    finally:
        daemon.stop()


def test_concurrent_requests_of_two_option_kinds_each_get_their_own_answer(
    home: Home, clips: list[Path]
) -> None:
    """Six /v1 requests at once, three with a prompt (a kind of their own): each answer is
    its own clip's, and no batch mixes the kinds."""
    import httpx

    home.write_config(http='listen = "127.0.0.1:0"')
    debug_logging(home)
    daemon = home.daemon().start()
    try:
        loaded(daemon)
        http = daemon.http()
        picked = [1, 2, 6, 9, 12, 19]
        answers: dict[int, str] = {}

        def ask(i: int) -> None:
            data = {"model": "whisper-1"}
            if i % 2:
                data["prompt"] = "A story about animals."
            with httpx.Client(timeout=600) as client, clips[i].open("rb") as fh:
                r = client.post(
                    http["url"].rstrip("/") + "/v1/audio/transcriptions",
                    files={"file": (clips[i].name, fh, "audio/wav")},
                    data=data,
                    headers={"Authorization": f"Bearer {http['token']}"},
                )
                r.raise_for_status()
                answers[i] = r.json()["text"]

        threads = [threading.Thread(target=ask, args=(i,)) for i in picked]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert sorted(answers) == picked
        for i in picked:
            check_own(i, answers[i])
        lines = [ln for ln in daemon.log().splitlines() if "shared batch of" in ln]
        prompted = [ln for ln in lines if ", a prompt," in ln]
        assert prompted and len(prompted) < len(lines), lines  # both kinds went, apart
    finally:
        daemon.stop()


# --- the runner in process, on the same real model: a batch held still ---


class Held:
    """The real engine behind a gate: each call waits until the test lets it through, and
    every call's pieces are recorded (by their length, which names the clip)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.gate = threading.Event()
        self.calls: list[tuple[Kind, list[int]]] = []

    def __call__(self, kind: Kind, pieces: Sequence[Any]) -> list[list[Any]]:
        self.calls.append((kind, [len(x) for x in pieces]))
        assert self.gate.wait(600)
        return self.real(kind, pieces)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[Held]:
    made: list[Held] = []
    real_engine = fw_shared.engine

    def engine(backend: Any) -> Held:
        made.append(Held(real_engine(backend)))
        return made[-1]

    monkeypatch.setattr(fw_shared, "engine", engine)
    return made


class Parts:
    """What the daemon hands its runner: a real store, bus, queue and abort handles."""

    def __init__(self, tmp: Path) -> None:
        self.store = Store(tmp / "e.db")
        self.events = Events(self.store, Bus())
        self.queue = JobQueue(self.store, self.events, lambda: RetryPolicy(3, 30.0))
        self.aborts = Aborts()
        self.out = tmp / "out"

    def add(self, job: Job) -> int:
        job_id = self.queue.add(job).id
        assert job_id is not None
        return job_id

    def job(self, job_id: int | None) -> Job:
        assert job_id is not None
        return self.store.get_job(job_id)

    def transcript(self, job_id: int | None) -> Transcript:
        assert job_id is not None
        found = self.store.get_transcript(job_id)
        assert found is not None
        return found


def runner_parts(tmp_path: Path, lane: Lane) -> tuple[Parts, Runner]:
    parts = Parts(tmp_path)
    runner = Runner(
        parts.queue,
        parts.events,
        parts.aborts,
        Backends(TranscribeConfig(threads=2)),
        output=lambda: OutputConfig(dir=parts.out, formats=("txt",)),
        unload_after=lambda: 600.0,
        slots=[Slot("local", "local", 1)],
        lane=lane,
    )
    return parts, runner


def drive(runner: Runner, parts: Parts, test: Any) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await test()
        finally:
            stop.set()
            parts.queue.wake()
            await asyncio.wait_for(task, 600)

    asyncio.run(main())


async def until(condition: Any, what: str, timeout: float = 600) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if value := condition():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_cancel_in_a_held_batch_and_one_beside_it_each_stop_their_job_alone(
    tmp_path: Path, clips: list[Path], held: list[Held]
) -> None:
    lane = Lane(gather=600.0, batch_size=4)
    parts, runner = runner_parts(tmp_path, lane)
    picked = [0, 1, 2, 3, 4, 5, 6, 7]
    length = {len(decode(clips[i])): i for i in picked}
    assert len(length) == len(picked), "each clip's length names it"

    async def test() -> None:
        ids = {
            i: parts.add(jobs.new("cli", clips[i].name, 1.0, path=str(clips[i]))) for i in picked
        }
        await until(lambda: held and held[0].calls, "the first batch in the engine")
        first = {length[n] for n in held[0].calls[0][1]}
        assert len(first) == 4
        await until(lambda: lane.riders.keys() >= set(ids.values()), "all eight riding")
        waiting = sorted(set(picked) - first)
        inside, beside = sorted(first)[0], waiting[0]
        parts.aborts.request(ids[beside], Action.CANCEL)
        await until(lambda: parts.job(ids[beside]).state is JobState.CANCELLED, "cancelled")
        parts.aborts.request(ids[inside], Action.PAUSE)
        # paused at once, its piece still in the held batch; resumed at once, it runs again
        # beside that piece (its first run's seat is gone, its new one is its own)
        await until(lambda: parts.job(ids[inside]).state is JobState.PAUSED, "paused")
        parts.queue.transition(ids[inside], Action.RESUME)
        await until(lambda: parts.aborts._handles.get(ids[inside]), "its second run", 120)
        held[0].gate.set()
        settled = {JobState.DONE, JobState.CANCELLED, JobState.PAUSED, JobState.FAILED}
        await until(lambda: all(parts.job(j).state in settled for j in ids.values()), "settled")
        states = {i: parts.job(ids[i]).state for i in picked}
        assert states[beside] is JobState.CANCELLED
        for i in set(picked) - {beside}:
            assert states[i] is JobState.DONE, (i, states)
            check_own(i, parts.transcript(ids[i]).text)
        decoded = [length[n] for _, ns in held[0].calls for n in ns]
        assert beside not in decoded
        assert sorted(decoded) == sorted([*set(picked) - {beside}, inside])  # inside: twice
        assert not lane.riders and not lane._seats  # every run left its seat

    drive(runner, parts, test)


def test_jobs_with_a_prompt_batch_only_with_their_own_kind(
    tmp_path: Path, clips: list[Path], held: list[Held]
) -> None:
    lane = Lane(gather=600.0, batch_size=8)
    parts, runner = runner_parts(tmp_path, lane)
    picked = [3, 4, 7, 8, 11, 16]

    async def test() -> None:
        ids = {}
        for i in picked:
            options = {"initial_prompt": "Animals."} if i % 2 else {}
            job = jobs.new("api", clips[i].name, 1.0, path=str(clips[i]), options=options)
            ids[i] = parts.queue.add(job).id
        await until(lambda: held, "the shared engine")
        held[0].gate.set()
        done = {JobState.DONE, JobState.FAILED}
        await until(lambda: all(parts.job(j).state in done for j in ids.values()), "all done")
        for i in picked:
            assert parts.job(ids[i]).state is JobState.DONE
            check_own(i, parts.transcript(ids[i]).text)
        kinds = {kind.prompt: len(ns) for kind, ns in held[0].calls}
        assert kinds == {None: 3, "Animals.": 3}, held[0].calls  # two batches, one per kind

    drive(runner, parts, test)


def test_a_lone_short_job_rides_without_waiting_and_a_long_one_never_boards(
    tmp_path: Path, clips: list[Path], held: list[Held], long_wav: Path
) -> None:
    """An hour's gathering window, and yet a lone clip goes at once: nothing else is on
    its way. A long file runs on its worker, never through the shared batches."""
    lane = Lane(gather=3600.0, batch_size=8)
    parts, runner = runner_parts(tmp_path, lane)

    async def test() -> None:
        lone = parts.queue.add(jobs.new("cli", "lone.wav", 1.0, path=str(clips[9]))).id
        await until(lambda: held, "the shared engine")
        held[0].gate.set()
        await until(lambda: parts.job(lone).state is JobState.DONE, "the lone clip done", 300)
        check_own(9, parts.transcript(lone).text)
        assert [len(ns) for _, ns in held[0].calls] == [1]
        long = parts.queue.add(jobs.new("cli", "long.wav", 1.0, path=str(long_wav))).id
        await until(lambda: parts.job(long).state is JobState.DONE, "the long file done")
        assert len(held[0].calls) == 1  # it never went through the shared batches
        assert (parts.job(long).duration or 0) > lane_module.SHORT

    drive(runner, parts, test)
