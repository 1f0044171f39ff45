"""The daemon itself: owns the store, the bus, the runner, the watchers and the server.

Every change to a job goes through `transition`, in the order advance (pure) -> store (saved)
-> publish (event), so no client ever sees a state that a crash could take back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import logging.handlers
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from earwig import __version__, jobs, media, outputs, redact
from earwig.config import Config, WatchConfig
from earwig.config import load as load_config
from earwig.daemon.aborts import Aborts
from earwig.daemon.bus import Bus
from earwig.daemon.downloads import DownloadManager
from earwig.daemon.hooks import Hooks
from earwig.daemon.hosts import HostPolicy
from earwig.daemon.inbox import Inbox
from earwig.daemon.lock import InstanceLock
from earwig.daemon.models import ModelFetcher
from earwig.daemon.notify import sd_notify
from earwig.daemon.runner import Runner
from earwig.daemon.server import Server
from earwig.daemon.subscriptions import Subscriptions
from earwig.daemon.supervisor import Supervisor
from earwig.daemon.watch import FolderWatcher
from earwig.errors import ConfigError, EarwigError, InvalidTransition
from earwig.jobs import Action
from earwig.model import Job, JobState
from earwig.protocol import (
    EVENT_JOB_ADDED,
    EVENT_JOB_DELETED,
    EVENT_JOB_UPDATED,
    EVENT_LOG,
    EVENT_QUEUE,
    EVENT_SUBSCRIPTIONS,
)
from earwig.sources.errors import RateLimited
from earwig.store import Store
from earwig.transcribe import registry
from earwig.urls import is_url

log = logging.getLogger("earwig")
READY_TIMEOUT = 30.0  # seconds the start-up scan of the watch folders may take


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that is 0600 from its creation: it names files and jobs."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # one made 0644 by an older earwig, too
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def setup_logging(config: Config) -> None:
    """Levelled logs to stderr (journald/launchd pick it up) and a rotating file."""
    root = logging.getLogger("earwig")
    root.setLevel(config.daemon.log_level.upper())
    root.handlers.clear()
    fmt: logging.Formatter = (
        JsonFormatter()
        if config.daemon.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    root.addHandler(stderr)
    config.daemon.state_dir.mkdir(parents=True, exist_ok=True)
    rotating = PrivateRotatingFileHandler(
        config.log_path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    rotating.setFormatter(fmt)
    root.addHandler(rotating)


class Daemon:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path  # what was asked for (None: the default lookup)
        self.bus = Bus()
        # [transcribe] is read once: the backend is built from it and lives until a restart
        self.backend_config = config.transcribe
        self.backend = registry.create(config.transcribe)  # checks the model can be had
        self.options = registry.options(config.transcribe)
        self.queue_paused = False
        self.started_at = time.time()
        self.aborts = Aborts()
        self.hosts = HostPolicy(config.downloads.per_host)
        self.hooks = Hooks(self)
        self.store: Store
        self.runner: Runner
        self.downloads: DownloadManager
        self.subscriptions: Subscriptions
        self.watcher: FolderWatcher | None = None
        self.server: Server
        self.supervisor = Supervisor(self.log)
        self._secrets = redact.env_secrets([config.transcribe.api_key_env])
        # Threads for network work (feed checks, webhooks), apart from asyncio's default pool
        # that hashes and probes local files: eight stalled servers cannot delay a dropped file.
        self.network = ThreadPoolExecutor(max_workers=8, thread_name_prefix="earwig-net")
        self._preload_task: asyncio.Task | None = None
        self._alternates: dict[str, registry.FallbackTranscriber] = {}  # retry --model
        self.models = ModelFetcher(
            missing=lambda: registry.missing_model(self.backend_config),
            download=lambda: self.backend_config.download,
            log=self.log,
            on_ready=self._model_ready,
        )

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        cfg = self.config
        lock = InstanceLock(cfg.lock_path)
        lock.acquire(cfg.socket_path)
        self.store = Store(cfg.daemon.database)
        self.store.check()
        self.stop = asyncio.Event()
        self.runner = Runner(self)
        self.downloads = DownloadManager(self)
        self.subscriptions = Subscriptions(self)
        self.server = Server(self, cfg.socket_path)
        try:
            self._recover()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
            await self.server.start()
            self._start_watchers()
            sv = self.supervisor
            sv.start("runner", self.runner.run, self.stop)
            sv.start("downloads", self.downloads.run, self.stop)
            sv.start("media clean-up", self._clean_media_periodically, self.stop)
            self.subscriptions.start()
            assert self.watcher is not None
            try:  # a watcher that keeps dying must not keep the daemon from starting
                await asyncio.wait_for(self.watcher.ready.wait(), READY_TIMEOUT)
            except TimeoutError:
                self.log("error", "the folder watcher is not ready; see `earwig status`")
            folders = ", ".join(str(w.path) for w in cfg.watch)
            self.log(
                "info",
                f"earwig {__version__} ready (pid {os.getpid()}): socket "
                f"{cfg.socket_path}, watching {folders}, backend {self.backend.name} "
                f"({self.backend.model_name} on {self.backend.device})",
            )
            self._warn_about_exposed_secrets()
            sv.start("model", self.models.run, self.stop)
            sd_notify(f"READY=1\nMAINPID={os.getpid()}\nSTATUS=watching {folders}")
            await self.stop.wait()
            sd_notify("STOPPING=1")
            self.subscriptions.shutdown()
            await self._drain()
            await self.hooks.wait(self.config.hooks.timeout)
            await sv.wait("media clean-up")
            await self._stop_watchers()
            await sv.wait("model")
            if self._preload_task is not None and not self._preload_task.done():
                await self._preload_task  # a load cannot be interrupted; it takes seconds
        finally:
            await self.server.close()
            self.store.close()
            self.network.shutdown(wait=False, cancel_futures=True)
            lock.release()

    def _model_ready(self) -> None:
        """The model is on disk: start the queued jobs, and load it if asked to."""
        self.runner.poke()
        if self.config.transcribe.preload and not self.backend.loaded:
            self._preload_task = asyncio.create_task(self._preload())

    async def _preload(self) -> None:
        """Load the model in the background as soon as the daemon is up, so the first job
        does not wait for it; the socket answers meanwhile."""
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.backend.load)
        except EarwigError as exc:
            self.log("error", f"could not load the model: {exc.message}")
            return
        self.log(
            "info",
            f"model {self.backend.model_name} loaded on {self.backend.device} in "
            f"{time.monotonic() - started:.1f}s",
        )

    def request_stop(self, why: str = "request") -> None:
        if not self.stop.is_set():
            log.info("stopping (%s): no new jobs will start", why)
            self.stop.set()
            self.runner.poke()
            self.downloads.poke()

    async def _drain(self) -> None:
        """Give running jobs `shutdown_grace` seconds, then put them back in the queue.

        Downloads are requeued at once: their partial files are resumed at the next start.
        """
        for job_id in list(self.downloads.active):
            self.aborts.request(job_id, Action.REQUEUE)
        grace = self.config.daemon.shutdown_grace
        runner = self.supervisor.parts["runner"].task
        assert runner is not None
        try:
            await asyncio.wait_for(asyncio.shield(runner), grace)
        except TimeoutError:
            self.aborts.request_all(Action.REQUEUE)
            await self.supervisor.wait("runner")
        await self.supervisor.wait("downloads")
        self.log("info", "stopped")

    def _recover(self) -> None:
        now = time.time()
        for job in self.store.running_jobs():
            fixed = jobs.recover(job, now, self.config.daemon.max_attempts)
            self.store.save_job(fixed)
            self.log(
                "warning", f"recovered after an interruption: {job.title} -> {fixed.state}", job.id
            )

    def _start_watchers(self) -> None:
        """The folder watcher and the inbox: restarted when a reload changes them."""
        cfg = self.config
        self.watcher = FolderWatcher(
            cfg.watch,
            cfg.daemon.stable_after,
            self._watched_file_ready,
            self._already_known,
            report=self.log,
        )
        self.supervisor.start("watcher", self.watcher.run)
        if cfg.inbox_path is not None:
            self.supervisor.start("inbox", Inbox(self, cfg.inbox_path).run)

    async def _stop_watchers(self) -> None:
        await self.supervisor.stop("watcher")
        await self.supervisor.stop("inbox")

    @property
    def editable_config_path(self) -> Path:
        """Where config edits go: the file the daemon was started with, or the default."""
        from earwig import paths

        return self.config.path or self.config_path or paths.default_config_path()

    async def reload(self) -> dict[str, Any]:
        """Re-read the config (SIGHUP, `config.reload`): watch folders, inbox and
        subscriptions follow it; running jobs are untouched. A broken config is refused and
        the running one kept."""
        sd_notify("RELOADING=1")
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            self.log("error", f"reload refused, keeping the running config: {exc.message}")
            sd_notify("READY=1")
            raise
        old, self.config = self.config, new
        changed = []
        if (old.watch, old.inbox_path, old.daemon.stable_after) != (
            new.watch,
            new.inbox_path,
            new.daemon.stable_after,
        ):
            await self._stop_watchers()
            self._start_watchers()
            changed.append("watch folders")
        if old.subscriptions != new.subscriptions:
            self.subscriptions.sync(new.subscriptions)
            self.publish_subscriptions()
            changed.append("subscriptions")
        if old.downloads != new.downloads:
            self.hosts.per_host = new.downloads.per_host
            changed.append("downloads")
        if old.output != new.output:
            changed.append("output")
        needs_restart = [
            name for name in ("transcribe", "daemon") if getattr(old, name) != getattr(new, name)
        ]
        message = "config reloaded: " + (", ".join(changed) or "nothing changed")
        if needs_restart:
            message += f" ([{'], ['.join(needs_restart)}] take effect after a restart)"
        self.log("info", message)
        sd_notify("READY=1")
        return {"changed": changed, "needs_restart": needs_restart}

    def _warn_about_exposed_secrets(self) -> None:
        """A webhook URL often carries a token: its config file should be private."""
        path, hook = self.config.path, self.config.hooks.webhook
        if path is None or not hook or not ("?" in hook or "@" in hook):
            return
        mode = path.stat().st_mode
        if mode & 0o077:
            self.log(
                "warning",
                f"{path} holds a webhook secret and is readable by others "
                f"(mode {mode & 0o777:o}); run: chmod 600 {path}",
            )

    # ------------------------------------------------------------ state changes

    def transition(
        self, job_id: int, action: Action, *, changes: dict[str, Any] | None = None, **kw: Any
    ) -> Job:
        job = jobs.advance(self.store.get_job(job_id), action, time.time(), **kw)
        if changes:
            job = job.replace(**changes)
        self.store.save_job(job)
        view = self.job_view(job)
        self.bus.publish("jobs", EVENT_JOB_UPDATED, view)
        if job.state in (JobState.DONE, JobState.FAILED):
            self.hooks.fire(view)
        if job.state is JobState.QUEUED:
            self.runner.poke()
            self.downloads.poke()
        return job

    def announce_job(self, job: Job) -> None:
        """Publish a job that was just inserted (by the inbox, a check, an add)."""
        self.bus.publish("jobs", EVENT_JOB_ADDED, self.job_view(job))

    def publish_subscriptions(self) -> None:
        self.bus.publish("jobs", EVENT_SUBSCRIPTIONS, {"subscriptions": self.subscriptions.view()})

    def job_failed(self, job_id: int, title: str, exc: EarwigError, host: str | None = None):
        """Fail a job, or requeue it with backoff when the error may go away by itself."""
        exc.message = redact.scrub(exc.message, self._secrets)  # never a secret in the record
        exc.hint = redact.scrub(exc.hint, self._secrets)
        current = self.store.get_job(job_id)
        if not exc.permanent and current.attempts + 1 < self.config.daemon.max_attempts:
            delay = self.config.daemon.retry_backoff * 2**current.attempts
            if isinstance(exc, RateLimited) and host:
                delay = max(delay, exc.retry_after or 0)
                self.hosts.back_off(host, delay)
            self.transition(
                job_id,
                Action.REQUEUE,
                count_attempt=True,
                not_before=time.time() + delay,
                error=exc.message,
                hint=exc.hint,
            )
            self.log("warning", f"will retry in {delay:.0f}s: {title}: {exc.message}", job_id)
            return
        self.transition(job_id, Action.FAIL, error=exc.message, hint=exc.hint, count_attempt=True)
        self.log("error", f"failed: {title}: {exc.message}", job_id)

    def media_done(self, job: Job) -> None:
        """keep_media = "none": a downloaded file goes as soon as its transcript exists."""
        if self.config.downloads.keep_media == 0:
            self._remove_media(job)

    def _remove_media(self, job: Job) -> None:
        if not (job.url and job.path):
            return
        path = Path(job.path)
        cache = self.config.downloads.dir.resolve()
        if not path.resolve().is_relative_to(cache):
            return  # never delete anything outside the media cache
        shutil.rmtree(path.parent if path.parent != cache else path, ignore_errors=True)
        self.log("info", f"removed downloaded media of {job.title}", job.id)

    async def _clean_media_periodically(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            keep = self.config.downloads.keep_media
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(3600.0, max(1.0, (keep or 3600.0) / 2)))
            if keep is None or stop.is_set():
                continue
            cache = str(self.config.downloads.dir.resolve())
            for job in self.store.media_to_clean(time.time() - keep, cache):
                if Path(job.path or "").exists():
                    self._remove_media(job)

    def download_progress(self, job_id: int, p: dict[str, Any]) -> None:
        total, done = p.get("total"), p.get("downloaded")
        self.bus.publish_progress(
            job_id,
            {
                "id": job_id,
                "phase": "fetching",
                "fraction": round(done / total, 4) if total and done is not None else None,
                "bytes": done,
                "total": total,
                "speed": p.get("speed"),
                "eta": p.get("eta"),
            },
        )

    def progress(self, job_id: int, fraction: float, duration: float, started: float) -> None:
        elapsed = time.monotonic() - started
        done = fraction * duration
        speed = done / elapsed if elapsed > 0 else None  # seconds of audio per second
        eta = (duration - done) / speed if speed else None
        self.bus.publish_progress(
            job_id,
            {
                "id": job_id,
                "phase": "transcribing",
                "fraction": round(fraction, 4),
                "speed": speed and round(speed, 2),
                "eta": eta and round(eta, 1),
            },
        )

    def log(self, level: str, message: str, job_id: int | None = None) -> None:
        message = redact.scrub(message, self._secrets)
        log.log(logging.getLevelNamesMapping()[level.upper()], message)
        entry = self.store.log(level, message, job_id)
        self.bus.publish("log", EVENT_LOG, entry)

    # ------------------------------------------------------------ adding work

    def _already_known(self, path: Path, st: os.stat_result) -> bool:
        """A file the start-up scan need not hash again: queued before, or skipped before
        (same content as a job, not media) and unchanged since."""
        where, size, mtime = str(path), st.st_size, st.st_mtime
        return (
            self.store.find_by_file(where, size, mtime) is not None
            or self.store.skipped_file(where, size, mtime) is not None
        )

    async def _watched_file_ready(self, path: Path, watch: WatchConfig) -> None:
        await self.add_file(path, "watch", watch=watch, must_be_media=True)

    async def add_folder(self, folder: Path, source: str, *, force: bool = False):
        """`earwig add FOLDER`: its media, recursively, by the watched folders' rules."""
        from earwig.config import DEFAULT_IGNORE
        from earwig.daemon.watch import candidates

        found = await asyncio.to_thread(lambda: list(candidates(folder, DEFAULT_IGNORE)))
        results = []
        for path in found:
            result = await self.add_file(path, source, force=force, must_be_media=True)
            if result.get("skipped") != "not media":
                results.append({"input": str(path), **result})
        if not results:
            results.append(
                {
                    "input": str(folder),
                    "error": f"{folder} holds no audio or video files",
                    "hint": "hidden files, *.part and other temporary names are left out",
                }
            )
        return results

    async def add_file(
        self,
        path: Path,
        source: str,
        *,
        watch: WatchConfig | None = None,
        force: bool = False,
        must_be_media: bool = False,
    ) -> dict[str, Any]:
        """Queue a local file unless the same content is already queued or transcribed.

        `must_be_media` (files found in folders, not named by the user): a name that does not
        say it is media is probed, and a file without sound is skipped, logged once."""
        try:
            st = path.stat()
            if not path.is_file():
                return {"error": f"{path} is not a file"}
            if (
                must_be_media
                and not media.is_media_name(path)
                and not await asyncio.to_thread(media.has_sound, path)
            ):
                self.store.remember_skipped(str(path), st.st_size, st.st_mtime, "not media")
                self.log("info", f"skipped {media.shown(path)}: no sound PyAV can find in it")
                return {"skipped": "not media"}
            sha = await asyncio.to_thread(media.sha256_file, path)
        except FileNotFoundError:
            return {"error": f"{path} does not exist", "hint": "check the path"}
        except OSError as exc:
            return {"error": f"cannot read {path}: {exc.strerror}"}
        if not force:
            existing = self.store.find_by_sha(sha)
            if existing is not None:
                note = f"same content as job {existing.id} ({existing.state}), not queued again"
                self.log("info", f"skipped {path.name}: {note}", existing.id)
                if source == "watch":  # the start-up scan need not hash it again
                    self.store.remember_skipped(str(path), st.st_size, st.st_mtime, note)
                return {
                    "duplicate_of": self.job_view(existing),
                    "hint": f"`earwig retry {existing.id}` transcribes it again",
                }
        out_dir = self.config.output_dir_for(watch)
        if watch is not None:
            with contextlib.suppress(ValueError):
                out_dir = out_dir / path.parent.relative_to(watch.path)
        now = time.time()
        job = self.store.add_job(
            Job(
                id=None,
                source=source,
                title=path.name,
                path=str(path),
                sha256=sha,
                size=st.st_size,
                mtime=st.st_mtime,
                force=force,
                output_dir=str(out_dir),
                created_at=now,
                updated_at=now,
                times={"queued": now},
            )
        )
        self.bus.publish("jobs", EVENT_JOB_ADDED, self.job_view(job))
        self.log("info", f"queued {path} (from {source})", job.id)
        self.runner.poke()
        return {"job": self.job_view(job)}

    def add_url(self, url: str, source: str, *, force: bool = False) -> dict[str, Any]:
        """Queue a URL for download and transcription, unless it is already queued or done."""
        if not is_url(url):
            return {"error": f"not a URL: {url!r}", "hint": "give an http:// or https:// URL"}
        if not force and (existing := self.store.find_by_url(url)) is not None:
            return {
                "duplicate_of": self.job_view(existing),
                "hint": f"`earwig retry {existing.id}` transcribes it again",
            }
        now = time.time()
        job = self.store.add_job(
            Job(
                id=None,
                source=source,
                title=url,
                url=url,
                force=force,
                output_dir=str(self.config.output.dir),
                created_at=now,
                updated_at=now,
                times={"queued": now},
            )
        )
        self.announce_job(job)
        self.log("info", f"queued {url} (from {source})", job.id)
        self.downloads.poke()
        return {"job": self.job_view(job)}

    def output_target(self, job: Job) -> tuple[Path, str]:
        """The directory and file stem for a job's transcripts, unique per source.

        A retried job keeps its name; another source with the same name gets "name (2)".
        """
        out_dir = Path(job.output_dir or self.config.output.dir)
        if job.output_base:
            return out_dir, job.output_base
        base = outputs.choose_base(
            out_dir,
            media.safe_stem(Path(job.title).stem),
            self.config.output.formats,
            job.url or job.path or "",
            lambda base: self.store.output_base_owners(str(out_dir), base),
        )
        return out_dir, base

    # ------------------------------------------------------------ steering

    def pause_job(self, job_id: int) -> Job:
        if self.aborts.request(job_id, Action.PAUSE):
            return self.store.get_job(job_id)
        return self.transition(job_id, Action.PAUSE)

    def resume_job(self, job_id: int) -> Job:
        return self.transition(job_id, Action.RESUME)

    def cancel_job(self, job_id: int) -> Job:
        if self.aborts.request(job_id, Action.CANCEL):
            return self.store.get_job(job_id)
        return self.transition(job_id, Action.CANCEL)

    def retry_job(self, job_id: int, model: str | None = None) -> Job:
        """Queue a finished job again; with `model`, transcribe it with that model (its
        transcript, outputs and search hits are replaced, and record the model)."""
        job = self.store.get_job(job_id)
        if model is not None:
            self.transcriber_for(model)  # an unknown or unusable model is refused now
        changes: dict[str, Any] = {"model_request": model}
        if job.url and job.path and not Path(job.path).exists():
            changes["path"] = None  # its media was cleaned up: download it again
        return self.transition(job_id, Action.RETRY, changes=changes)

    @property
    def models_loaded(self) -> bool:
        return self.backend.loaded or any(t.loaded for t in self._alternates.values())

    def unload_models(self) -> None:
        """Free every model's memory (idle): the configured one loads again on the next job."""
        self.backend.unload()
        for other in self._alternates.values():
            other.unload()
        self._alternates.clear()

    def transcriber_for(self, model: str | None) -> registry.FallbackTranscriber:
        """The configured backend, or one for another model a retry asked for (built once,
        kept while it is used, unloaded with the rest when idle)."""
        if model is None or model == self.backend_config.model:
            return self.backend
        if model not in self._alternates:
            cfg = dataclasses.replace(self.backend_config, model=model)
            self._alternates.clear()  # one other model at a time
            self._alternates[model] = registry.create(cfg)
        return self._alternates[model]

    def prioritize_job(self, job_id: int) -> Job:
        job = self.store.get_job(job_id)
        if job.state not in (JobState.QUEUED, JobState.PAUSED):
            raise InvalidTransition(f"job {job_id} is {job.state}; only waiting jobs can move up")
        top = self.store.max_priority()
        return self.transition_fields(job.replace(priority=top + 1, updated_at=time.time()))

    def transition_fields(self, job: Job) -> Job:
        """Save a change that is not a state transition (priority), then publish it."""
        self.store.save_job(job)
        self.bus.publish("jobs", EVENT_JOB_UPDATED, self.job_view(job))
        return job

    def delete_job(self, job_id: int) -> int:
        """Forget a finished job (its transcript files on disk stay where they are)."""
        job = self.store.get_job(job_id)
        if not job.state.finished:
            raise InvalidTransition(
                f"job {job_id} is {job.state}; only finished jobs can be deleted",
                f"`earwig cancel {job_id}` first",
            )
        self.store.delete_job(job_id)
        self.bus.publish("jobs", EVENT_JOB_DELETED, {"id": job_id})
        self.log("info", f"deleted job {job_id} ({job.title})")
        return job_id

    def set_queue_paused(self, paused: bool) -> None:
        self.queue_paused = paused
        self.log(
            "info",
            "queue paused: running job finishes, no new ones start" if paused else "queue resumed",
        )
        self.bus.publish("jobs", EVENT_QUEUE, {"paused": paused})
        self.runner.poke()

    # ------------------------------------------------------------ views

    def job_view(self, job: Job) -> dict[str, Any]:
        view = job.to_dict()
        if job.id in self.bus.progress:
            view["progress"] = self.bus.progress[job.id]
        if job.state is JobState.QUEUED and job.path and (note := self.models.waiting_note()):
            view["waiting"] = note
        return view

    def status(self) -> dict[str, Any]:
        current = None
        if self.runner.current is not None:
            current = self.job_view(self.store.get_job(self.runner.current))
        return {
            "version": __version__,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime": time.time() - self.started_at,
            "queue_paused": self.queue_paused,
            "counts": self.store.counts(),
            "current": current,
            "backend": {
                "name": self.backend.name,
                "model": self.backend.model_name,
                "loaded": self.backend.loaded,
                "device": self.backend.device,
                "fallbacks": self.backend.names[1:],
                "model_state": self.models.view(),
            },
            "watch": [str(w.path) for w in self.config.watch],
            "output_dir": str(self.config.output.dir),
            "database": str(self.config.daemon.database),
            "socket": str(self.config.socket_path),
            "log_file": str(self.config.log_path),
            "inbox": str(self.config.inbox_path) if self.config.inbox_path else None,
            "downloading": sorted(self.downloads.active),
            "parts": self.supervisor.view(),
            "healthy": not self.supervisor.unhealthy,
            "subscriptions": self.subscriptions.view(),
        }
