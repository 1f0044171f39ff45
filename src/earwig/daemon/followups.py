"""The [llm] stage: what follows a transcript through a language model (a summary, a title
and chapters; subtitles in other languages), run as follow-ups of a done job.

A follow-up, not a job state: the job is `done` the moment its transcript is saved and
searchable (hooks fire, an API client gets its answer), and nothing the model does can take
that back. Each summary or translation is a row of its own (store `followups`), taken by one
worker apart from the transcription slots, so a slow model never holds the next
transcription. While one runs or waits, the job's `stage` says so ("summarizing",
"translating", "waiting", "paused") and its progress is published like a transcription's.
Cancel and pause on a done job reach its follow-ups (the running one is an asyncio task:
cancelling it closes the connection at once). An endpoint that is down is asked again with
back-off; any other failure is a warning on the job, never a failed transcript. The same
transcript, prompt and model are answered from the stored result (`earwig retry --only`
asks afresh). The key comes from the environment at each call and goes nowhere else.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earwig import languages, outputs, subtitles
from earwig.config import Config, LlmConfig, SubscriptionConfig, WatchConfig
from earwig.daemon.delivery import API_SOURCE
from earwig.daemon.queue import Events, JobQueue
from earwig.errors import ConfigError, EarwigError, InvalidTransition, RefusedRequest, UsageError
from earwig.llm import prompts
from earwig.llm.client import Chat, Endpoint, EndpointDown, LlmError
from earwig.llm.lines import fingerprint, lines_of
from earwig.llm.summarize import summarize
from earwig.llm.translate import WRITERS, Cue, from_cues, parse_srt, parse_vtt, translate
from earwig.model import Job, JobState, Transcript
from earwig.protocol import FollowupView, Progress, SummaryView

log = logging.getLogger("earwig.followups")

MAX_ATTEMPTS = 10  # an endpoint down this many times in a row: the follow-up fails
MAX_BACKOFF = 3600.0  # seconds between two tries at most
HOUR = 3600.0
ACTIVE = ("queued", "running", "paused")
WHAT = {"summary": "summary", "translation": "translation"}


@dataclass(frozen=True)
class Wishes:
    """What a job's source asks of the model: [llm]'s defaults, overruled by its [[watch]]
    folder or [[subscription]]."""

    summary: bool
    chapters: bool
    translate_to: tuple[str, ...]
    prompt: str | None


def source_of(job: Job, cfg: Config) -> WatchConfig | SubscriptionConfig | None:
    if job.subscription:
        return cfg.subscription(job.subscription)
    if job.path and not job.url:
        path = Path(job.path)
        inside = [w for w in cfg.watch if path.is_relative_to(w.path)]
        return max(inside, key=lambda w: len(w.path.parts), default=None)
    return None


def wishes(job: Job, cfg: Config) -> Wishes | None:
    """None when [llm] is off. An HTTP API job asks for nothing here: a request that wants
    a translation waits for it (`Followups.translation`)."""
    llm = cfg.llm
    if not llm.enabled:
        return None
    if job.source == API_SOURCE:  # its request asks for what it wants (translation())
        return Wishes(False, False, (), None)
    source = source_of(job, cfg)

    def pick(name: str) -> Any:
        value = getattr(source, name) if source is not None else None
        return getattr(llm, name) if value is None else value

    return Wishes(pick("summary"), pick("chapters"), pick("translate_to"), pick("prompt"))


def warning_prefix(kind: str, language: str | None) -> str:
    """How the stage's warnings on a job begin, so a later success can take them away."""
    return f"translation into {languages.name(language)}:" if language else f"{WHAT[kind]}:"


@dataclass
class _Running:
    followup_id: int
    job_id: int
    task: asyncio.Task[dict[str, Any]]
    stop: str | None = None  # why it is being stopped: cancel, pause, requeue, drop


class Followups:
    """The stage's one worker and the steering of its rows; given the queue (jobs change
    through it), the events (log, progress) and the config getter (read at each use)."""

    def __init__(self, queue: JobQueue, events: Events, config: Callable[[], Config]) -> None:
        self.queue = queue
        self.store = queue.store
        self.events = events
        self.config = config
        self.current: _Running | None = None
        self._calls: collections.deque[float] = collections.deque()  # the per-hour cap
        self._changed = asyncio.Event()  # replaced at each finished follow-up (translation())

    # ------------------------------------------------------------ what the daemon asks

    def job_finished(self, job_id: int) -> None:
        """A job is done (its transcript saved): queue what its source asks of the model."""
        job = self.store.get_job(job_id)
        if job.state is not JobState.DONE:
            return
        want = wishes(job, self.config())
        if want is None:
            return
        added = False
        if want.summary or want.chapters:
            self.store.add_followup(job_id, "summary")
            added = True
        for language in want.translate_to:
            if language == job.language:
                continue  # it already speaks it
            self.store.add_followup(job_id, "translation", language)
            added = True
        if added:
            self._publish(job_id)
            self.queue.wake()

    def translate(self, job_id: int, language: str) -> Job:
        """Subtitles of a done job in `language` (Whisper's code for it), queued now."""
        job = self._ready(job_id)
        try:
            code = languages.check_language(language)
        except ValueError as exc:
            raise UsageError(f"cannot translate into {language!r}", f"give {exc}") from None
        if code is None:
            raise UsageError("cannot translate into auto", 'give a code such as "de"')
        if code == job.language:
            raise InvalidTransition(
                f"job {job_id} already speaks {languages.name(code)}",
                "its subtitles are in that language",
            )
        self.store.add_followup(job_id, "translation", code, force=True)
        self.events.log("info", f"{job.title}: translation into {languages.name(code)} queued")
        self.queue.wake()
        return self._publish(job_id)

    def retry(self, job_id: int, only: str) -> Job:
        """Ask the model again for a done job's summary, or for each of its translations
        (the stored answers are not reused)."""
        job = self._ready(job_id)
        if only == "summary":
            self.store.add_followup(job_id, "summary", force=True)
        else:
            targets = {
                r["language"] for r in self.store.followups(job_id) if r["kind"] == "translation"
            }
            want = wishes(job, self.config())
            targets.update(want.translate_to if want else ())
            targets.discard(job.language)
            if not targets:
                raise InvalidTransition(
                    f"job {job_id} has no translation to make again",
                    f"`earwig translate {job_id} de` makes one",
                )
            for language in sorted(t for t in targets if t):
                self.store.add_followup(job_id, "translation", language, force=True)
        self.events.log("info", f"{job.title}: {only} asked of the model again", job_id)
        self.queue.wake()
        return self._publish(job_id)

    def steer(self, job_id: int, action: str) -> Job | None:
        """Cancel, pause or resume a done job's follow-ups; None when it has none to steer
        (the caller then treats the request as being about the job itself)."""
        rows = [r for r in self.store.followups(job_id) if r["state"] in ACTIVE]
        if action == "resume":
            paused = [r for r in rows if r["state"] == "paused"]
            for row in paused:
                self.store.update_followup(row["id"], state="queued", not_before=None)
            if not paused:
                return None
            self.queue.wake()
            return self._publish(job_id)
        if not rows or (action == "pause" and not any(r["state"] != "paused" for r in rows)):
            return None
        target = "cancelled" if action == "cancel" else "paused"
        for row in rows:
            if self.current is not None and self.current.followup_id == row["id"]:
                self.current.stop = action
                self.current.task.cancel()
            elif row["state"] != target:
                self.store.update_followup(row["id"], state=target)
        job = self._publish(job_id)
        self.events.log("info", f"{job.title}: the [llm] stage {target}", job_id)
        return job

    async def translation(
        self, job_id: int, language: str, gone: Callable[[], Awaitable[Any]]
    ) -> list[Cue]:
        """A done job's transcript in `language`, for an HTTP request that waits for it: the
        stored translation, or a new one (queued before the background's, as the request
        waits). Raises RefusedRequest when it fails or `gone` returns first."""
        self._ready(job_id)
        if (result := self.store.job_translation(job_id, language)) is None:
            rows = self._translations(job_id, language)
            if not rows or rows[-1]["state"] not in ACTIVE:
                self.store.add_followup(job_id, "translation", language)
                self._publish(job_id)
                self.queue.wake()
            leaving = asyncio.ensure_future(gone())
            try:
                while (result := self.store.job_translation(job_id, language)) is None:
                    rows = self._translations(job_id, language)
                    if rows and rows[-1]["state"] in ("failed", "cancelled"):
                        raise RefusedRequest(
                            502,
                            "translation_failed",
                            f"the translation into {languages.name(language)} "
                            f"{rows[-1]['state']}: {rows[-1]['error'] or 'cancelled'}",
                            f"`earwig show {job_id}` says more",
                        )
                    changed = asyncio.ensure_future(self._changed.wait())
                    await asyncio.wait({changed, leaving}, return_when=asyncio.FIRST_COMPLETED)
                    changed.cancel()
                    if leaving.done():
                        raise RefusedRequest(499, "gone", "the client went away")
            finally:
                leaving.cancel()
        return translated_cues(result)

    def _translations(self, job_id: int, language: str) -> list[dict[str, Any]]:
        rows = self.store.followups(job_id)
        return [r for r in rows if r["kind"] == "translation" and r["language"] == language]

    def forget(self, job_id: int) -> None:
        """The job is transcribed again or deleted: what was queued for its old transcript
        is dropped (its new one gets its own follow-ups when it is done)."""
        for row in self.store.followups(job_id):
            if self.current is not None and self.current.followup_id == row["id"]:
                self.current.stop = "drop"
                self.current.task.cancel()
            elif row["state"] in ("queued", "paused"):
                self.store.update_followup(row["id"], state="cancelled")

    def detail(self, job_id: int) -> tuple[SummaryView | None, list[FollowupView]]:
        """For job.get: the newest summary, and every follow-up of the job."""
        summary = self.store.job_summary(job_id)
        view: SummaryView | None = None
        if summary is not None:
            view = {
                "summary": summary.get("summary", ""),
                "title": summary.get("title", ""),
                "chapters": summary.get("chapters", []),
                "model": summary.get("model", ""),
            }
        rows: list[FollowupView] = [
            {
                "id": r["id"],
                "kind": r["kind"],
                "language": r["language"],
                "state": r["state"],
                "attempts": r["attempts"] or 0,
                "error": r["error"],
                "outputs": list((r["result"] or {}).get("outputs", [])),
            }
            for r in self.store.followups(job_id)
        ]
        return view, rows

    # ------------------------------------------------------------ the worker

    async def run(self, stop: asyncio.Event) -> None:
        """Take follow-ups one at a time while [llm] is set and the queue is not paused."""
        if count := self.store.requeue_running_followups():
            self.events.log("info", f"{count} interrupted summaries/translations queued again")
        while not stop.is_set():
            signal = self.queue.signal()
            row = None
            if self.config().llm.enabled and not self.queue.paused and not self.queue.halted:
                row = self.store.next_followup(time.time())
            if row is None:  # woken by any change to the queue, a stop included
                when = self.store.followup_wakeup()
                timeout = 60.0 if when is None else min(60.0, max(0.05, when - time.time()))
                await self.queue.wait(signal, timeout)
                continue
            await self._run_one(row, stop)

    async def _run_one(self, row: dict[str, Any], stop: asyncio.Event) -> None:
        fid, job_id = row["id"], row["job_id"]
        job = self.store.get_job(job_id)
        transcript = self.store.get_transcript(job_id)
        if job.state is not JobState.DONE or transcript is None:
            self.store.update_followup(fid, state="cancelled", error="the job is not done")
            self._publish(job_id)
            return
        self.store.update_followup(fid, state="running")
        self._publish(job_id)
        task = asyncio.create_task(self._work(row, job, transcript))
        running = self.current = _Running(fid, job_id, task)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            try:
                await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:  # the worker itself is stopped (supervisor)
                running.stop = "requeue"
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                self.store.update_followup(fid, state="queued")
                raise
            if not task.done():
                running.stop = running.stop or "requeue"
                task.cancel()
            try:
                result = await task
            except asyncio.CancelledError:
                self._stopped(row, job, running.stop or "requeue")
            except EndpointDown as exc:
                self._later(row, job, exc)
            except EarwigError as exc:
                self._failed(row, job, exc.message, exc.hint)
            except Exception as exc:
                log.exception("the [llm] stage crashed on job %s", job_id)
                self._failed(row, job, f"unexpected error: {type(exc).__name__}: {exc}", "")
            else:
                self._done(row, job, result)
        finally:
            stopping.cancel()
            self.current = None
            self.events.clear_progress(job_id)
            self._publish(job_id)
            self._changed.set()  # whoever waits for this one looks again
            self._changed = asyncio.Event()

    async def _work(self, row: dict[str, Any], job: Job, transcript: Transcript) -> dict[str, Any]:
        """Ask the model (or find the same answer stored), write the files; the result."""
        cfg = self.config()
        llm = cfg.llm
        assert llm.base_url and llm.model and job.id is not None
        want = wishes(job, cfg) or Wishes(True, True, (), None)
        kind, language = row["kind"], row["language"]
        phase = "summarizing" if kind == "summary" else "translating"
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            assert job.id is not None
            elapsed = time.monotonic() - started
            data: Progress = {
                "id": job.id,
                "phase": phase if kind == "summary" else f"{phase} ({language})",
                "fraction": min(done / total, 1.0) if total else None,
                "elapsed": elapsed,
                "eta": elapsed / done * (total - done) if done else None,
            }
            self.events.progress(job.id, data)

        progress(0, 1)
        lines = lines_of(transcript.segments)
        chapters = want.chapters and not job.chapters  # a publisher's own chapters win
        prompt = want.prompt if kind == "summary" else None
        key = _key(kind, language, fingerprint(lines), prompt, chapters, llm)
        self.store.update_followup(row["id"], key=key)
        stored = None if row["force"] else self.store.stored_answer(key)
        if stored is not None:
            result = {**stored, "reused": True}
        else:
            chat = Chat(
                Endpoint(llm.base_url, llm.model, _api_key(llm), llm.timeout, llm.temperature),
                before_call=self._cap,
            )
            if kind == "summary":
                summary = await summarize(
                    lines,
                    transcript.duration,
                    chat.ask,
                    budget=llm.max_input_chars,
                    prompt=prompt,
                    chapters=chapters,
                    progress=progress,
                )
                result = summary.to_dict()
            else:
                rules = cfg.output.cue_rules()
                cues = await asyncio.to_thread(source_cues, job, transcript, rules)
                source = languages.name(transcript.language) if transcript.language else None
                done = await translate(
                    cues,
                    chat.ask,
                    source=source or "the language it is in",
                    target=languages.name(language),
                    budget=llm.max_input_chars,
                    progress=progress,
                )
                result = {
                    "language": language,
                    "cues": [
                        [c.id, c.start, c.end, c.text, c.speaker, c.label, list(c.lines)]
                        for c in done.cues
                    ],
                    "kept": done.kept,
                    "sent": done.sent,
                }
            result.update(model=llm.model, calls=chat.calls, seconds=round(chat.seconds, 3))
        if job.source != API_SOURCE:
            if kind == "summary":
                written = await asyncio.to_thread(_write_summary, job, transcript, result)
            else:
                width = cfg.output.cue_rules().line_width
                written = await asyncio.to_thread(_write_translation, job, result, width)
            result["outputs"] = [str(p) for p in written]
        return result

    # ------------------------------------------------------------ outcomes

    def _done(self, row: dict[str, Any], job: Job, result: dict[str, Any]) -> None:
        assert job.id is not None
        kind, language = row["kind"], row["language"]
        self.store.update_followup(row["id"], state="done", result=result, error=None)
        warning = None
        if kind == "summary":
            if result.get("summary"):
                self.store.index_summary(job.id, result["summary"], result.get("title", ""))
            else:
                warning = "the model answered no summary; `earwig retry --only summary` asks again"
            title = result.get("title") or "(no title)"
            said = f"{job.title}: summary by {result.get('model')}: {title}"
        else:
            kept, sent = result.get("kept", 0), result.get("sent", 0)
            if kept:
                warning = (
                    f"{kept} of {sent} cues kept their original text (the model lost their "
                    f"ids); `earwig retry {job.id} --only translation` asks again"
                )
            said = f"{job.title}: translated into {languages.name(language)} ({sent} cues)"
        reused = " (the same answer as before, reused)" if result.get("reused") else ""
        calls = f"; {result.get('calls', 0)} calls in {result.get('seconds', 0):.1f}s"
        self.events.log("info", said + reused + ("" if reused else calls), job.id)
        self._warn(job.id, kind, language, warning, outputs=result.get("outputs", ()))

    def _later(self, row: dict[str, Any], job: Job, exc: EarwigError) -> None:
        attempts = (row["attempts"] or 0) + 1
        if attempts >= MAX_ATTEMPTS:
            self._failed(row, job, exc.message, exc.hint)
            return
        delay = min(MAX_BACKOFF, self.config().daemon.retry_backoff * 2 ** (attempts - 1))
        message = self.events.scrub(exc.message)
        self.store.update_followup(
            row["id"],
            state="queued",
            attempts=attempts,
            not_before=time.time() + delay,
            error=message,
        )
        what = warning_prefix(row["kind"], row["language"]).rstrip(":")
        self.events.log(
            "warning", f"{job.title}: {what}: {message}; asked again in {delay:.0f}s", job.id
        )

    def _failed(self, row: dict[str, Any], job: Job, message: str, hint: str) -> None:
        assert job.id is not None
        message, hint = self.events.scrub(message), self.events.scrub(hint)
        self.store.update_followup(row["id"], state="failed", error=message)
        again = f"`earwig retry {job.id} --only {row['kind']}`"
        warning = f"{message} ({hint}; then {again})" if hint else f"{message} ({again})"
        what = warning_prefix(row["kind"], row["language"]).rstrip(":")
        self.events.log("warning", f"{job.title}: {what} failed: {message}", job.id)
        self._warn(job.id, row["kind"], row["language"], warning)

    def _stopped(self, row: dict[str, Any], job: Job, why: str) -> None:
        state = {"cancel": "cancelled", "pause": "paused", "drop": "cancelled"}.get(why, "queued")
        self.store.update_followup(row["id"], state=state)
        if why == "requeue":
            self.events.log("info", f"{job.title}: the [llm] stage stopped; it resumes later")

    def _warn(
        self,
        job_id: int,
        kind: str,
        language: str | None,
        warning: str | None,
        outputs: Any = (),
    ) -> None:
        """Replace the stage's earlier warning of this kind on the job (a success clears it),
        and list the files it wrote among the job's outputs."""
        job = self.store.get_job(job_id)
        prefix = warning_prefix(kind, language)
        kept = [w for w in job.warnings if not w.startswith(prefix)]
        if warning:
            kept.append(f"{prefix} {warning}")
            self.events.log("warning", f"{job.title}: {prefix} {warning}", job_id)
        files = [*job.outputs, *(p for p in outputs if p not in job.outputs)]
        self.queue.save(job.replace(warnings=tuple(kept), outputs=tuple(files)))

    # ------------------------------------------------------------ helpers

    def _ready(self, job_id: int) -> Job:
        job = self.store.get_job(job_id)
        if not self.config().llm.enabled:
            raise ConfigError(
                "no language model is set up",
                "add [llm] with base_url and model to the config (docs/llm.md)",
            )
        if job.state is not JobState.DONE:
            raise InvalidTransition(
                f"job {job_id} is {job.state}; only a done job has a transcript to use"
            )
        return job

    def _publish(self, job_id: int) -> Job:
        """The job's `stage` from its follow-ups, saved and published if it changed."""
        job = self.store.get_job(job_id)
        rows = self.store.followups(job_id)
        stage = None
        running = [r for r in rows if r["state"] == "running"]
        if running:
            stage = "summarizing" if running[0]["kind"] == "summary" else "translating"
        elif any(r["state"] == "queued" for r in rows):
            stage = "waiting"
        elif any(r["state"] == "paused" for r in rows):
            stage = "paused"
        if stage != job.stage:
            job = self.queue.save(job.replace(stage=stage))
        return job

    async def _cap(self) -> None:
        """[llm] max_calls_per_hour: a call over it waits for the oldest to be an hour old."""
        cap = self.config().llm.max_calls_per_hour
        now = time.time()
        while self._calls and self._calls[0] <= now - HOUR:
            self._calls.popleft()
        if cap and len(self._calls) >= cap:
            wait = self._calls[0] + HOUR - now
            self.events.log(
                "info", f"[llm] max_calls_per_hour ({cap}) reached: the next call in {wait:.0f}s"
            )
            await asyncio.sleep(wait)
            self._calls.popleft()
        self._calls.append(time.time())


def _api_key(llm: LlmConfig) -> str | None:
    if not llm.api_key_env:
        return None
    value = os.environ.get(llm.api_key_env)
    if not value:
        raise LlmError(
            f"the variable {llm.api_key_env} ([llm] api_key_env) is not set",
            "set it where the daemon starts (its service file), then restart it",
        )
    return value


def _key(
    kind: str,
    language: str | None,
    transcript: str,
    prompt: str | None,
    chapters: bool,
    llm: LlmConfig,
) -> str:
    """The deduplication key: the same transcript, prompt and model give the same answer."""
    parts: list[Any] = [kind, language, transcript, prompt, chapters, llm.model]
    parts += [llm.max_input_chars, prompts.VERSION, llm.temperature]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _write_summary(job: Job, transcript: Transcript, result: dict[str, Any]) -> list[Path]:
    """The summary into the job's .json (read and written back: its words and other fields
    stay) and .md (written again from the transcript), where the job has them."""
    meta = outputs.summary_meta(job, result)
    for path in (Path(p) for p in job.outputs):
        if path.suffix == ".json" and path.exists():
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc.update(meta)
            outputs.write_atomic(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        elif path.suffix == ".md" and path.exists():
            full = {**outputs.transcript_meta(job), **meta}
            outputs.write_atomic(path, outputs.to_md(transcript, full))
    return []  # rewritten, not new: the job lists them already


def translated_cues(result: dict[str, Any]) -> list[Cue]:
    """A stored translation's cues."""
    return [
        Cue(r[0], r[1], r[2], r[3], r[4], r[5], tuple(r[6]) if len(r) > 6 else ())
        for r in result["cues"]
    ]


def source_cues(job: Job, transcript: Transcript, rules: Any) -> list[Cue]:
    """The cues a translation keeps: those of the job's own .srt (or .vtt), as written (their
    cuts came from word times the database does not keep), else the cue builder's for the
    stored transcript with these rules. The job's own come first in its outputs; the
    translations it lists after them."""
    speakers = {s.speaker for s in transcript.segments if s.speaker}
    for suffix, parse in ((".srt", lambda t: parse_srt(t, speakers)), (".vtt", parse_vtt)):
        path = next((Path(p) for p in job.outputs if p.endswith(suffix)), None)
        if path is not None and path.exists():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if found := parse(path.read_text(encoding="utf-8")):
                    return found
    return from_cues(outputs.subtitle_cues(transcript, rules))


def _write_translation(job: Job, result: dict[str, Any], width: int) -> list[Path]:
    """NAME.LANG.srt (and .vtt) beside the job's own subtitles: next to the media for a
    `beside` folder, else in its output folder."""
    cues = translated_cues(result)
    language = result["language"]
    if job.beside and job.path:
        paths = subtitles.beside_paths(Path(job.path), language, job.beside, job.outputs)
    elif job.output_dir and job.output_base:
        formats = [f for f in WRITERS if any(o.endswith(f".{f}") for o in job.outputs)]
        folder = Path(job.output_dir)
        paths = [folder / f"{job.output_base}.{language}.{f}" for f in formats or ["srt"]]
    else:
        return []
    for path in paths:
        outputs.write_atomic(path, WRITERS[path.suffix[1:]](cues, width))
    return paths
