"""The daemon's service for API jobs: a transcription request (/v1/audio/*, /asr,
/detect-language) as a job of kind `api`.

Through the queue, not around it: the upload becomes a job the dashboard and `earwig jobs`
show, with its own options (language, task, prompt, word timestamps) over the configured
ones. The same content again is answered from the stored transcript at once, or waits for
the job already making it. API jobs run before background work: their priority is
INTERACTIVE, above every watch/inbox/feed job (0) and any `earwig prioritize`d one short of
a million, first come first served among themselves; a job already running is not
interrupted, so a request waits at most for the file in progress on each worker.

The client waits on the job. If it goes away before the job starts, the job is cancelled;
after, it finishes (its transcript kept if `[http] keep`). A daemon restart meanwhile drops
the connection; the job is in the database and finishes after the restart (keep = true) or
is dropped by `recover` (keep = false). Files live in the media cache; the audio goes once
transcribed.

A daemon part like the others: built by daemon/app.py with the few collaborators it uses,
recovered at start-up by the daemon, and handed to the HTTP door (web/), which parses what
a client sent and calls `transcribe` or `detect`. Nothing here knows HTTP beyond the status
a refusal carries (errors.RefusedRequest).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from earwig import jobs
from earwig.daemon.delivery import API_SOURCE
from earwig.errors import EarwigError, MediaError, RefusedRequest
from earwig.jobs import Action
from earwig.model import Job, JobState, Segment, Transcript, Word
from earwig.protocol import JOB_SEGMENTS, JOB_UPDATED, Event, JobView, SegmentView

if TYPE_CHECKING:
    from earwig.config import Config, TranscribeConfig
    from earwig.daemon.bus import Bus
    from earwig.daemon.queue import JobQueue

INTERACTIVE = 1_000_000  # an API job's priority: before every background job
DETECT_SECONDS = 30.0  # /detect-language listens to the first 30 s, as whisper-asr does
HELD_CHECK = 1.0  # seconds between looks at a paused or halted queue while a client waits
PAUSED_WAIT = 30.0  # seconds a client waits on a paused queue before it is told so (a 503)
FIRST = asyncio.FIRST_COMPLETED
MIN_SECONDS = 0.01  # shorter audio is refused at the door (a 1-byte PCM body failed as a job)
WAV_HEADER = 44  # bytes of a WAV header: an upload no longer than that has no audio
LABELS = ("diarize", "speakers", "min_speakers", "max_speakers")  # a job's speaker-label asks
ENGLISH_ONLY = "is English-only"  # in the warnings of an English-only model hearing no English
Log = Callable[..., None]  # Events.log(level, message, job_id=None)


class Upload(Protocol):
    """A file a client sent, already on disk in a folder of its own (web/uploads.SavedFile)."""

    @property
    def filename(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def sha256(self) -> str: ...


@dataclass(frozen=True)
class Clip:
    """An upload cut down (the first 30 s /detect-language listens to)."""

    filename: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Ask:
    """What one request asks of the transcription."""

    translate: bool = False
    language: str | None = None  # forced, as whisper-asr-webservice forces it; None: found
    prompt: str | None = None
    words: bool = False
    vad: bool | None = None
    model: str | None = None  # None: the configured model
    # speaker labels (/asr's diarize, min_speakers, max_speakers: its whisperX engine's)
    speakers: tuple[int | None, int | None] | None = None  # None: no labels; else (min, max)
    video: str | None = None  # the video file the audio is from (Bazarr's video_file)

    def options(self) -> dict[str, Any]:
        """The job's own options (over the configured ones: daemon/runner.job_options)."""
        opts: dict[str, Any] = {"translate": self.translate, "language": self.language}
        if self.language:  # the whole file in that language, no stretch found to differ
            opts["multilingual"] = False
        if self.prompt:
            opts["initial_prompt"] = self.prompt
        if self.words:
            opts["word_timestamps"] = True
        if self.vad is not None:
            opts["vad"] = self.vad
        if self.speakers is not None:
            low, high = self.speakers
            opts["diarize"] = True
            if low is not None and low == high:
                opts["speakers"] = low
            else:
                opts |= {"min_speakers": low, "max_speakers": high}
        if self.video:
            opts["video_file"] = self.video  # not an option of the model: the job's key
        return opts


@dataclass(frozen=True)
class Recipe:
    """How a transcript is (or was) made, beyond its audio: the reuse key. A stored
    transcript answers a request only when its recipe serves the request's: made by the same
    weights (models.identity of the model that MADE it, read from the transcript, never the
    name a request used), the same task, prompt and VAD, word times when they are asked for,
    and the language as asked: a forced language is served by a transcript forced to it, or
    by one found by listening that heard that language alone; a request that lets the
    language be found is served only by a transcript whose language was found too."""

    model: str
    translate: bool
    language: str | None  # forced; None: found by listening
    prompt: str | None
    vad: bool
    words: bool
    labels: tuple[tuple[str, Any], ...] = ()  # speaker labels asked for (/asr's diarize)

    def serves(self, asked: Recipe, heard: tuple[str, ...]) -> bool:
        """Whether a transcript made so answers `asked`; `heard`: the languages it found."""
        same = (self.model, self.translate, self.prompt, self.vad, self.labels)
        if same != (asked.model, asked.translate, asked.prompt, asked.vad, asked.labels):
            return False
        if asked.words and not self.words:
            return False
        if asked.language is None:
            return self.language is None
        return self.language == asked.language or (
            self.language is None and set(heard) == {asked.language}
        )


def recipe(options: dict[str, Any], model: str, configured: TranscribeConfig) -> Recipe:
    """The recipe of a job with these options (over `configured`) on the model `model`."""
    from earwig.transcribe.models import identity

    get = options.get  # a job's own option, explicit None included, over the configured one
    return Recipe(
        model=identity(model),
        translate=bool(get("translate", configured.translate)),
        language=get("language", configured.language) or None,
        prompt=get("initial_prompt", configured.initial_prompt) or None,
        vad=bool(get("vad", configured.vad)),
        words=bool(get("word_timestamps", configured.word_timestamps)),
        labels=tuple((k, options[k]) for k in LABELS if options.get(k)),
    )


@dataclass
class Answer:
    job: JobView
    transcript: Transcript
    deduplicated: bool = False
    notes: tuple[str, ...] = ()  # what the client should know besides the transcript's own

    @property
    def warnings(self) -> tuple[str, ...]:
        """Everything that looks wrong or differs from what was asked, for the answer's
        warnings (a header, and a field where the format has room)."""
        return (*self.notes, *self.transcript.warnings)


@dataclass(frozen=True)
class Pending:
    """A request's job, running or waiting, and what its answer will say besides."""

    job_id: int
    notes: tuple[str, ...] = ()


@dataclass
class _Waiting:
    futures: list[asyncio.Future[JobView]] = field(default_factory=list)


class ApiJobs:
    def __init__(
        self,
        queue: JobQueue,
        bus: Bus,
        log: Log,
        config: Callable[[], Config],
        stopping: asyncio.Event,
        transcribe: Callable[[], TranscribeConfig],
    ) -> None:
        self.queue = queue
        self.store = queue.store
        self.log = log
        self.config = config  # read per request: a reload of [http] keep applies at once
        self.stopping = stopping
        # [transcribe] as the running backend has it (read once at start-up)
        self.transcribe_config = transcribe
        self._waiting: dict[int, _Waiting] = {}
        self.bus = bus
        bus.listen(self._on_event)  # for as long as the daemon runs

    @property
    def upload_dir(self) -> Path:
        """Where requests' uploads and their jobs' folders go: the media cache's `api/`."""
        return self.config().downloads.dir / "api"

    # ------------------------------------------------------------ models

    def model_for(self, name: str | None) -> tuple[str | None, tuple[str, ...]]:
        """The model a request names, as the setting a job asks for (None: the configured
        one), and what the answer should say about it. Every name of a model counts: its
        catalog name, its Hugging Face id (`Systran/faster-whisper-base`), `tiny.en` and
        `bundled` for the model that ships with earwig; `whisper-1` is the configured one. A
        model earwig knows but this machine lacks is refused with how to get it; a name it
        does not know at all (another service's) is answered by the configured model, and
        the answer says so."""
        from earwig.transcribe import catalog
        from earwig.transcribe.models import display_name, identity, on_disk

        cfg = self.transcribe_config()
        if not name or name == "whisper-1" or identity(name) == identity(cfg.model):
            return None, ()
        entry = catalog.lookup(name)
        if on_disk(name):
            return (entry.name if entry is not None else name), ()
        if entry is not None:
            raise RefusedRequest(
                400,
                "model_not_installed",
                f"the model {name!r} is not on this machine",
                f"`earwig models pull {entry.name}` downloads it; GET /v1/models lists what "
                "is here",
                param="model",
            )
        note = f"earwig has no model {name!r}: {display_name(cfg.model)} answered"
        return None, (note,)

    def fit(self, ask: Ask, detecting: bool = False) -> tuple[Ask, tuple[str, ...]]:
        """`ask` as a model that can serve it, and what the answer should say about that.
        An English-only model asked for another language, a translation or the language of
        the audio gives way to a multilingual model on this machine (its own sibling, base
        for base.en, else the smallest), named in the answer's warnings; with none here, a
        language or a translation is refused with the model to pull (a detection goes on: the
        English-only model can still tell English from not English, see `detect`)."""
        from earwig import languages
        from earwig.transcribe.models import display_name, multilingual_on_disk
        from earwig.transcribe.registry import LOCAL_MODELS, english_only

        cfg = self.transcribe_config()
        model = ask.model or cfg.model
        if cfg.backend not in ("auto", *LOCAL_MODELS) or not english_only(model):
            return ask, ()
        if ask.language and ask.language != "en":
            needs = f"{languages.name(ask.language)} ({ask.language})"
        elif ask.translate:
            needs = "translation into English"
        elif detecting:
            needs = "finding the language"
        else:
            return ask, ()
        other = multilingual_on_disk(model)
        if other is not None:
            note = f"{display_name(model)} is English-only: {other} answered ({needs})"
            return dataclasses.replace(ask, model=other), (note,)
        if detecting:
            return ask, ()
        raise RefusedRequest(
            422,
            "english_only_model",
            f"{display_name(model)} is an English-only model and cannot do {needs}; no "
            "multilingual model is on this machine",
            "`earwig models pull base` (a multilingual model on this machine then answers such "
            'requests), or set [transcribe] model = "base"',
        )

    # ------------------------------------------------------------ requests

    async def transcribe(
        self,
        upload: Upload,
        ask: Ask,
        gone: Callable[[], Awaitable[Any]],
        detecting: bool = False,
    ) -> Answer:
        """The transcript of `upload`: stored, or from a new job the client waits for.
        `gone` returns when the client disconnects."""
        started = await self.begin(upload, ask, detecting)
        if isinstance(started, Answer):
            return started
        return dataclasses.replace(await self._wait(started.job_id, gone), notes=started.notes)

    async def begin(self, upload: Upload, ask: Ask, detecting: bool = False) -> Answer | Pending:
        """The stored answer to `ask`, or the job that makes it (new, or the same audio's
        job already making it), for the client to wait on or follow."""
        try:
            if upload.path.stat().st_size <= WAV_HEADER:  # nothing, or a WAV header alone
                raise RefusedRequest(400, "empty", "the upload has no audio in it")
            ask, notes = self.fit(ask, detecting)
            seconds = await asyncio.to_thread(_probe, upload.path)
            if seconds is not None and seconds < MIN_SECONDS:  # a byte or two of PCM
                raise RefusedRequest(
                    400,
                    "too_short",
                    f"the upload holds {seconds * 1000:.1f} ms of audio: nothing to transcribe",
                    "send at least a few tenths of a second of sound",
                )
            answer = self._known(upload.sha256, ask)
            if answer is not None:
                return dataclasses.replace(answer, notes=notes)
            if self.queue.halted:  # no job would start: say so, now
                raise RefusedRequest(503, "halted", self.queue.halted, "`earwig status`")
            job = self._running_same(upload.sha256, ask) or self._add(upload, ask)
        finally:
            # the request's own upload folder goes now, whatever comes next (a new job's
            # file was moved out of it): a client that hangs up while it waits, or a job
            # that fails, leaves nothing behind
            shutil.rmtree(upload.path.parent, ignore_errors=True)
        assert job.id is not None
        return Pending(job.id, notes)

    async def follow(self, pending: Pending) -> AsyncIterator[list[SegmentView] | Answer]:
        """A job's lines as they are transcribed (those so far first), then its Answer. A
        follower that stops early (the client went away) leaves the job as `_wait` would."""
        lines: asyncio.Queue[list[SegmentView]] = asyncio.Queue()
        job_id = pending.job_id

        def on_event(event: Event[Any]) -> None:
            if event.kind is JOB_SEGMENTS and event.data["id"] == job_id:
                lines.put_nowait(list(event.data["segments"]))

        unlisten = self.bus.listen(on_event)
        waiting = asyncio.ensure_future(self._wait(job_id, asyncio.Event().wait))
        finished = False
        try:
            if self.bus.live.get(job_id):
                yield list(self.bus.live[job_id])
            while not waiting.done():
                getting = asyncio.ensure_future(lines.get())
                await asyncio.wait({getting, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if getting.done():
                    yield getting.result()
                else:
                    getting.cancel()
            while not lines.empty():
                yield lines.get_nowait()
            finished = True
            yield dataclasses.replace(waiting.result(), notes=pending.notes)
        finally:
            unlisten()
            if not waiting.done():
                waiting.cancel()
            if not finished:
                self._client_left(job_id)

    async def detect(self, upload: Upload, gone: Callable[[], Awaitable[Any]]) -> Answer:
        """The language of the first 30 s of `upload`, through the queue like the rest. It
        never claims a language the model cannot hear: an English-only model (with no
        multilingual one here to stand in) answers English only when the audio sounds like
        English, and otherwise the request is refused with the model to pull."""
        try:
            clip = await asyncio.to_thread(_first_seconds, upload, DETECT_SECONDS)
        except BaseException:
            shutil.rmtree(upload.path.parent, ignore_errors=True)
            raise
        answer = await self.transcribe(clip, Ask(), gone, detecting=True)
        if any(ENGLISH_ONLY in w for w in answer.transcript.warnings):
            from earwig.transcribe.models import display_name

            model = display_name(answer.transcript.model or self.transcribe_config().model)
            raise RefusedRequest(
                422,
                "english_only_model",
                f"cannot tell which language this is: {model} hears only English, and this "
                "does not sound like English",
                "`earwig models pull base`: a multilingual model on this machine then finds "
                "the language",
            )
        return answer

    def asked(self, ask: Ask) -> Recipe:
        cfg = self.transcribe_config()
        return recipe(ask.options(), ask.model or cfg.model, cfg)

    def made(self, job: Job, transcript: Transcript | None) -> Recipe:
        """How `job` made its transcript (done) or is making it (waiting, running)."""
        cfg = self.transcribe_config()
        model = (transcript.model if transcript else None) or job.model_request or cfg.model
        made = recipe(job.options, model, cfg)
        if job.slot and job.slot != "local":  # another server's model, whatever its name
            made = dataclasses.replace(made, model=f"{job.slot}: {job.model}")
        if transcript is not None:
            made = dataclasses.replace(made, words=_has_words(transcript))
        return made

    def _known(self, sha: str, ask: Ask) -> Answer | None:
        """A finished transcript of the same content made the way `ask` asks, from any job
        that has one (the newest first)."""
        asked = self.asked(ask)
        for job in self.store.jobs_with_sha(sha):
            if job.state is not JobState.DONE or job.text_from is not None:
                continue
            transcript = self._result(job)
            heard = job.languages or ((job.language,) if job.language else ())
            if transcript is None or not self.made(job, transcript).serves(asked, heard):
                continue
            self.log("info", f"answered from job {job.id}: the same audio ({job.title})", job.id)
            return Answer(self.queue.view(job), transcript, deduplicated=True)
        return None

    def _running_same(self, sha: str, ask: Ask) -> Job | None:
        """A job of the same content, not finished, that makes what `ask` asks for."""
        asked = self.asked(ask)
        for job in self.store.jobs_with_sha(sha):
            if not job.state.finished and self.made(job, None).serves(asked, ()):
                return job
        return None

    def _add(self, upload: Upload, ask: Ask) -> Job:
        import tempfile

        # its own folder in the cache: the request's form folder goes once it is answered
        folder = Path(tempfile.mkdtemp(prefix="job-", dir=self.upload_dir))
        path = folder / upload.path.name
        upload.path.rename(path)
        st = path.stat()
        job = jobs.new(
            API_SOURCE,
            Path(ask.video.replace("\\", "/")).name if ask.video else upload.filename,
            time.time(),
            path=str(path),
            size=st.st_size,
            mtime=st.st_mtime,
            sha256=upload.sha256,
            output_dir=str(folder),
            priority=INTERACTIVE,
            options=ask.options(),
            model_request=ask.model,
            force=True,  # the content was looked up already, with this request's asks
        )
        job = self.queue.add(job)
        self.log("info", f"queued {upload.filename} (from the HTTP API)", job.id)
        return job

    async def _wait(self, job_id: int, gone: Callable[[], Awaitable[Any]]) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[JobView] = loop.create_future()
        self._waiting.setdefault(job_id, _Waiting()).futures.append(future)
        job = self.store.get_job(job_id)
        if job.state.finished:  # it ended between the add and now
            future.set_result(self.queue.view(job))
        leaving = asyncio.ensure_future(gone())
        stopping = asyncio.ensure_future(self.stopping.wait())
        held: RefusedRequest | None = None
        paused_since: float | None = None
        try:
            while held is None:
                done, _ = await asyncio.wait(
                    {future, leaving, stopping}, timeout=HELD_CHECK, return_when=FIRST
                )
                if done:
                    break
                # halted, or paused for PAUSED_WAIT with this job not started: the client is
                # told, where it used to wait with no deadline
                paused = self.queue.paused and not self._is_running(job_id)
                paused_since = (paused_since or loop.time()) if paused else None
                waited = loop.time() - paused_since if paused_since is not None else 0.0
                if self.queue.halted or waited >= PAUSED_WAIT:
                    held = self._held(job_id)
        finally:
            for task in (leaving, stopping):
                task.cancel()
            waiting = self._waiting.get(job_id)
            if waiting is not None and future in waiting.futures:
                waiting.futures.remove(future)
                if not waiting.futures:
                    del self._waiting[job_id]
        if not future.done():
            if held is not None and not (leaving.done() or stopping.done()):
                raise held
            if leaving.done() and not stopping.done():
                self._client_left(job_id)
            raise RefusedRequest(
                503,
                "stopping",
                "the daemon is stopping; the job stays in its queue",
                f"`earwig show {job_id}` after the restart",
            )
        return self._answer(future.result())

    def _held(self, job_id: int) -> RefusedRequest:
        """The answer to a client whose job cannot start (the queue halted: the database
        removed; or paused). The job stays queued: it runs on resume, and the same request
        then finds its transcript stored."""
        if self.queue.halted:
            message = f"{self.queue.halted}; job {job_id} stays in the queue"
            return RefusedRequest(503, "halted", message, "`earwig status`")
        return RefusedRequest(
            503,
            "queue_paused",
            f"the queue has been paused for {PAUSED_WAIT:.0f} s: job {job_id} has not started "
            "and stays in the queue",
            "`earwig resume` (or the dashboard's or the page's Resume), then ask again",
        )

    def _is_running(self, job_id: int | None) -> bool:
        return job_id is not None and self.store.get_job(job_id).state.running

    def _client_left(self, job_id: int) -> None:
        job = self.store.get_job(job_id)
        if job.state in (JobState.QUEUED, JobState.PAUSED) and job_id not in self._waiting:
            self.queue.transition(
                job_id,
                Action.CANCEL,
                changes={"hint": "the HTTP client went away before it started"},
            )
            self.log("info", f"cancelled {job.title}: the HTTP client went away", job_id)

    def _answer(self, view: JobView) -> Answer:
        job = self.store.get_job(view["id"])
        if job.state is JobState.DONE:
            transcript = self._result(job)
            if transcript is not None:
                return Answer(self.queue.view(job), transcript)
            raise EarwigError(f"job {job.id} finished but its transcript is gone")
        if job.state is JobState.FAILED:
            raise RefusedRequest(
                422, "failed", job.error or "the transcription failed", job.hint or ""
            )
        raise RefusedRequest(
            409,
            str(job.state),
            f"job {job.id} was {job.state} before it finished",
            job.hint or f"`earwig retry {job.id}` queues it again",
        )

    def _result(self, job: Job) -> Transcript | None:
        """The transcript with its words, from the job's .json; else the stored segments."""
        for output in job.outputs:
            if output.endswith(".json"):
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                    return transcript_from_json(Path(output).read_text(encoding="utf-8"))
        assert job.id is not None
        return self.store.get_transcript(job.id)

    # ------------------------------------------------------------ the jobs' ends

    def _on_event(self, event: Event[Any]) -> None:
        data = event.data
        if event.kind is not JOB_UPDATED or data["state"] not in ("done", "failed", "cancelled"):
            return
        job_id = data["id"]
        waiting = self._waiting.get(job_id)
        for future in waiting.futures if waiting else ():
            if not future.done():
                future.set_result(data)
        if data.get("source") != API_SOURCE:
            return
        # The audio goes now (the transcript's .json stays beside it, in the cache); with
        # keep = false the job goes too once its waiters have their answer
        loop = asyncio.get_running_loop()
        loop.call_soon(self._tidy, job_id)

    def _tidy(self, job_id: int) -> None:
        with contextlib.suppress(EarwigError):
            job = self.store.get_job(job_id)
            if job.path and job.state is not JobState.QUEUED:
                Path(job.path).unlink(missing_ok=True)
            if not self.config().http.keep and job.state.finished:
                self.forget(job)

    def forget(self, job: Job) -> None:
        """keep = false: the job, its transcript and its folder in the cache go."""
        assert job.id is not None
        if job.id in self._waiting:
            return  # its answer is still being made; forgotten after
        self.queue.delete(job.id)
        if job.output_dir and Path(job.output_dir).is_relative_to(self.upload_dir):
            shutil.rmtree(job.output_dir, ignore_errors=True)

    def after_answer(self, answer: Answer) -> None:
        if self.config().http.keep or answer.deduplicated:
            return
        with contextlib.suppress(EarwigError):
            self.forget(self.store.get_job(answer.job["id"]))

    def recover(self) -> None:
        """At start-up: keep = false drops the API jobs a restart left unfinished (no client
        waits for them now); keep = true lets them finish into the history."""
        if self.config().http.keep:
            return
        for job in self.store.list_jobs(["queued", "paused"], 1000, 0):
            if job.source == API_SOURCE:
                self.log("info", f"dropped {job.title}: its HTTP client left in a restart")
                self.forget(job)


def _has_words(transcript: Transcript) -> bool:
    return any(s.words for s in transcript.segments)


def _probe(path: Path) -> float | None:
    from earwig.transcribe import audio

    try:
        return audio.probe(path)
    except MediaError as exc:
        raise RefusedRequest(
            400,
            "not_media",
            f"the upload is not audio or video earwig can read: {exc.message}",
            "send an audio or video file (or raw s16le 16 kHz mono PCM with encode=false)",
        ) from None


def _first_seconds(upload: Upload, seconds: float) -> Clip:
    """A WAV of the upload's first `seconds`, beside it (the upload itself goes)."""
    import hashlib

    import numpy as np

    from earwig.speech import write_wav
    from earwig.transcribe import audio

    _probe(upload.path)
    window = next(iter(audio.windows(upload.path, seconds)), None)
    samples = window.samples[: int(seconds * 16000)] if window is not None else np.zeros(0)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    clip = upload.path.with_name("first-30s.wav")
    write_wav(clip, pcm, 16000)
    upload.path.unlink(missing_ok=True)
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    return Clip(upload.filename, clip, sha)


def transcript_from_json(text: str) -> Transcript:
    """earwig's .json output read back, words included."""
    doc = json.loads(text)
    segments = tuple(
        Segment(
            float(s["start"]),
            float(s["end"]),
            s["text"],
            words=tuple(
                Word(float(w["start"]), float(w["end"]), w["word"], w.get("probability"))
                for w in s.get("words") or ()
            ),
            speaker=s.get("speaker"),
            language=s.get("language"),
            avg_logprob=s.get("avg_logprob"),
            compression_ratio=s.get("compression_ratio"),
        )
        for s in doc["segments"]
    )
    return Transcript(
        segments=segments,
        language=doc.get("language"),
        duration=float(doc.get("duration") or 0.0),
        backend=doc.get("backend") or "",
        model=doc.get("model") or "",
        language_probability=doc.get("language_probability"),
        warnings=tuple(doc.get("warnings") or ()),
    )
