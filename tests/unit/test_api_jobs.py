"""The API jobs' service (daemon/apijobs.py) in-process, on a real SQLite store and real audio
files: which stored transcript answers which request (the reuse key), an English-only model
giving way to a multilingual one on disk or refusing with the model to pull, and the names
a request may give a model. The same rules end to end: tests/integration/test_http_answers.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from earwig import jobs
from earwig.config import Config, DownloadsConfig, TranscribeConfig
from earwig.daemon.apijobs import Answer, ApiJobs, Ask, Clip, Pending, Recipe
from earwig.daemon.bus import Bus
from earwig.daemon.delivery import API_SOURCE
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.errors import RefusedRequest
from earwig.model import JobState, Segment, Transcript
from earwig.speech import write_wav
from earwig.store import Store
from earwig.transcribe import catalog

TINY = "Systran/faster-whisper-tiny.en"
BASE = "Systran/faster-whisper-base"


# ---------------------------------------------------------------- the key, pure


def key(**changes: object) -> Recipe:
    plain = Recipe(model=TINY, translate=False, language=None, prompt=None, vad=False, words=False)
    return dataclasses.replace(plain, **changes)  # type: ignore[arg-type]


def test_a_transcript_serves_only_what_it_was_made_for() -> None:
    made = key()
    assert made.serves(key(), ("en",))
    assert not made.serves(key(model=BASE), ("en",))  # made by another model
    assert not made.serves(key(translate=True), ("en",))
    assert not made.serves(key(prompt="Kubernetes"), ("en",))
    assert not key(prompt="Kubernetes").serves(key(), ("en",))
    assert not made.serves(key(vad=True), ("en",))
    assert not made.serves(key(words=True), ("en",))  # words asked, none made
    assert key(words=True).serves(key(), ("en",))  # words made, not asked: still the text
    labelled = key(labels=(("diarize", True),))
    assert not made.serves(labelled, ("en",)) and not labelled.serves(made, ("en",))


def test_a_forced_language_is_served_by_that_language_only() -> None:
    found = key()  # its language was found by listening
    assert found.serves(key(language="en"), ("en",))  # it heard English alone
    assert not found.serves(key(language="en"), ("de",))
    assert not found.serves(key(language="en"), ("en", "de"))
    forced = key(language="de")
    assert forced.serves(key(language="de"), ("de",))
    assert not forced.serves(key(language="en"), ("de",))
    assert not forced.serves(key(), ("de",))  # asked to listen: a forced one will not do


# ---------------------------------------------------------------- the service


def tone(path: Path, hz: float, seconds: float = 2.0) -> Path:
    t = np.arange(int(16000 * seconds)) / 16000
    write_wav(path, (0.2 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes(), 16000)
    return path


class Service:
    def __init__(self, tmp: Path, model: str = "bundled") -> None:
        self.tmp = tmp
        self.store = Store(tmp / "e.db")
        self.bus = Bus()
        self.queue = JobQueue(self.store, Events(self.store, self.bus), lambda: RetryPolicy(3, 1))
        self.transcribe = TranscribeConfig(model=model)
        config = Config(downloads=DownloadsConfig(dir=tmp / "media"))
        self.jobs = ApiJobs(
            self.queue,
            self.bus,
            lambda *a, **k: None,
            lambda: config,
            asyncio.Event(),
            transcribe=lambda: self.transcribe,
        )

    def upload(self, name: str = "clip.wav", hz: float = 440.0) -> Clip:
        folder = self.tmp / "media" / "api" / f"upload-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        path = tone(folder / name, hz)
        return Clip(name, path, hashlib.sha256(path.read_bytes()).hexdigest())

    def done(self, upload: Clip, made_by: str, **options: object) -> int:
        """A finished API job of `upload`'s audio, its transcript made by `made_by`."""
        job = self.queue.add(
            jobs.new(
                API_SOURCE, upload.filename, time.time(), sha256=upload.sha256, options=options
            )
        )
        assert job.id is not None
        self.store.save_job(job.replace(state=JobState.DONE, language="en", languages=("en",)))
        transcript = Transcript((Segment(0, 2, f"said by {made_by}"),), "en", 2.0, "fw", made_by)
        self.store.save_transcript(job.id, transcript)
        return job.id

    def begin(self, upload: Clip, ask: Ask) -> Answer | Pending:
        return asyncio.run(self.jobs.begin(upload, ask))


def test_a_stored_transcript_answers_only_the_model_that_made_it(tmp_path: Path) -> None:
    s = Service(tmp_path)
    clip = s.upload()
    made = s.done(clip, "tiny.en (bundled)", translate=False, language=None)
    again = s.begin(s.upload(), Ask())  # the same audio, the configured (bundled) model
    assert isinstance(again, Answer) and again.job["id"] == made
    assert isinstance(s.begin(s.upload(), Ask(model="tiny.en")), Answer)  # its other name
    other = s.begin(s.upload(), Ask(model="base"))  # another model asked: a job of its own
    assert isinstance(other, Pending) and other.job_id != made


def test_after_a_switch_of_the_configured_model_the_old_transcript_is_not_reused(
    tmp_path: Path,
) -> None:
    s = Service(tmp_path)
    s.done(s.upload(), "tiny.en (bundled)", translate=False, language=None)
    s.transcribe = TranscribeConfig(model="base")  # [transcribe] model changed, restarted
    assert isinstance(s.begin(s.upload(), Ask()), Pending)


def test_any_earlier_job_made_the_same_way_answers_not_only_the_oldest(tmp_path: Path) -> None:
    s = Service(tmp_path)
    s.done(s.upload(), "base", translate=False, language=None)  # the oldest: another model
    newer = s.done(s.upload(), "tiny.en (bundled)", translate=False, language=None)
    answer = s.begin(s.upload(), Ask())
    assert isinstance(answer, Answer) and answer.job["id"] == newer
    asked_prompt = s.begin(s.upload(), Ask(prompt="Kubernetes"))  # not made with that prompt
    assert isinstance(asked_prompt, Pending)


def test_words_are_judged_by_the_transcript_not_by_what_was_asked(tmp_path: Path) -> None:
    """A job asked for words whose transcript has none (a backend without them) does not
    answer a request for words."""
    s = Service(tmp_path)
    s.done(s.upload(), "tiny.en (bundled)", translate=False, language=None, word_timestamps=True)
    assert isinstance(s.begin(s.upload(), Ask(words=True)), Pending)


def test_a_request_for_words_does_not_join_a_job_making_none(tmp_path: Path) -> None:
    s = Service(tmp_path)
    first = s.begin(s.upload(), Ask())
    assert isinstance(first, Pending)  # queued, not finished
    joined = s.begin(s.upload(), Ask())
    assert isinstance(joined, Pending) and joined.job_id == first.job_id
    words = s.begin(s.upload(), Ask(words=True))
    assert isinstance(words, Pending) and words.job_id != first.job_id
    uploads = tmp_path / "media" / "api"
    assert not list(uploads.glob("upload-*")), "an upload's folder stays behind"


# ---------------------------------------------------------------- English-only models


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def place(cache: Path, repo: str) -> None:
    """A model in huggingface_hub's cache layout (its files empty: nothing loads it here)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    snapshot = folder / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    for name in (*catalog.REQUIRED, "vocabulary.txt"):
        (snapshot / name).write_text("")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("abc")


def test_an_english_only_model_refuses_another_language_with_the_model_to_pull(
    tmp_path: Path, hf_cache: Path
) -> None:
    s = Service(tmp_path)
    for ask in (Ask(language="de"), Ask(translate=True)):
        with pytest.raises(RefusedRequest) as err:
            s.jobs.fit(ask)
        assert err.value.status == 422 and err.value.code == "english_only_model"
        assert "earwig models pull base" in err.value.hint
    assert s.jobs.fit(Ask(language="en")) == (Ask(language="en"), ())
    assert s.jobs.fit(Ask()) == (Ask(), ())
    assert s.jobs.fit(Ask(), detecting=True) == (Ask(), ())  # it can still tell English


def test_a_multilingual_model_on_disk_stands_in_and_the_answer_says_so(
    tmp_path: Path, hf_cache: Path
) -> None:
    place(hf_cache, "Systran/faster-whisper-small")
    place(hf_cache, BASE)
    s = Service(tmp_path)
    ask, notes = s.jobs.fit(Ask(language="de"))
    assert ask.model == "base"  # the smallest multilingual one here
    assert "English-only" in notes[0] and "base" in notes[0]
    assert s.jobs.fit(Ask(translate=True))[0].model == "base"
    assert s.jobs.fit(Ask(), detecting=True)[0].model == "base"
    s.transcribe = TranscribeConfig(model="small.en")
    assert s.jobs.fit(Ask(language="de"))[0].model == "small"  # its own sibling first
    s.transcribe = TranscribeConfig(model="base")
    assert s.jobs.fit(Ask(language="de")) == (Ask(language="de"), ())  # it can


def test_models_by_any_of_their_names(tmp_path: Path, hf_cache: Path) -> None:
    s = Service(tmp_path)
    for same in (None, "", "whisper-1", "tiny.en", TINY, "bundled"):
        assert s.jobs.model_for(same) == (None, ()), same
    with pytest.raises(RefusedRequest) as err:
        s.jobs.model_for(BASE)
    assert err.value.code == "model_not_installed" and err.value.param == "model"
    assert "earwig models pull base" in err.value.hint
    place(hf_cache, BASE)
    assert s.jobs.model_for(BASE) == ("base", ())
    assert s.jobs.model_for("base") == ("base", ())
    model, notes = s.jobs.model_for("gpt-4o-transcribe")  # another service's name
    assert model is None and "gpt-4o-transcribe" in notes[0]
