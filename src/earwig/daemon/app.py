"""The daemon's wiring: builds the parts, hands each the collaborators it uses, runs them
under the supervisor, and owns the lifecycle (start, reload, drain, stop). What a request
asks of jobs is daemon/steering.py's; what each request does, daemon/handlers.py's.

Every change to a job goes through the JobQueue (daemon/queue.py): advance (pure) -> store
(saved) -> publish (event) -> wake, so no client ever sees a state that a crash could take
back. Nothing else in daemon/ imports this module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, cast

from earwig import __version__, jobs, protocol, reach, redact
from earwig.config import SECTIONS, Config
from earwig.config import load as load_config
from earwig.daemon import history, pool
from earwig.daemon.aborts import Aborts
from earwig.daemon.apijobs import ApiJobs
from earwig.daemon.backends import Backends
from earwig.daemon.bus import Bus
from earwig.daemon.disk import DiskWaits
from earwig.daemon.downloads import DownloadManager
from earwig.daemon.followups import Followups
from earwig.daemon.hooks import Hooks
from earwig.daemon.hosts import HostPolicy
from earwig.daemon.inbox import Inbox, inbox_files
from earwig.daemon.intake import Intake
from earwig.daemon.lane import Lane
from earwig.daemon.lock import InstanceLock
from earwig.daemon.logs import secrets_of
from earwig.daemon.media_cache import MediaCache
from earwig.daemon.models import ModelFetcher
from earwig.daemon.notify import sd_notify
from earwig.daemon.queue import Events, JobQueue, RetryPolicy
from earwig.daemon.runner import Runner
from earwig.daemon.server import Server
from earwig.daemon.steering import Steering
from earwig.daemon.subscriptions import Subscriptions
from earwig.daemon.supervisor import Supervisor
from earwig.daemon.watch import FolderWatcher
from earwig.errors import ConfigError, EarwigError
from earwig.jobs import Action
from earwig.mediaservers.service import MediaServers
from earwig.model import Job, JobState
from earwig.store import Store
from earwig.transcribe import registry

logger = logging.getLogger("earwig")  # before the database is open; then self.log
READY_TIMEOUT = 30.0  # seconds the start-up scan of the watch folders may take


class HttpPart(Protocol):
    """What the daemon needs of its HTTP door (web/server.HttpServer): a supervised part
    that runs until `stop` is set, and what `earwig status` shows of it."""

    async def run(self, stop: asyncio.Event) -> None: ...
    def view(self) -> protocol.HttpView: ...


class Daemon:
    def __init__(
        self, config: Config, config_path: Path | None = None, http_listen: str | None = None
    ) -> None:
        # `earwig run --http ADDR` outranks [http] listen, at start and at every reload
        self.http_listen = http_listen
        self.config = config = overridden(config, http_listen)
        self.started_with = config  # what the parts read once at start-up were built from
        self.config_path = config_path  # what was asked for (None: the default lookup)
        self.bus = Bus()
        # [transcribe] is read once: the backend is built from it and lives until a restart
        self.backends = Backends(config.transcribe)
        self.started_at = time.time()
        self.aborts = Aborts()
        self.hosts = HostPolicy(config.downloads.per_host)
        self.supervisor = Supervisor(self.log)
        self._secrets = secrets_of(config)
        self.hooks = Hooks(
            lambda: self.config.hooks,
            lambda: [
                n for n in (self.config.transcribe.api_key_env, self.config.llm.api_key_env) if n
            ],
            self.log,
        )
        # Threads for network work (feed checks, webhooks), apart from asyncio's default pool
        # that hashes and probes local files: eight stalled servers cannot delay a dropped file.
        self.network = ThreadPoolExecutor(max_workers=8, thread_name_prefix="earwig-net")
        self._preload_task: asyncio.Task | None = None
        self._reloading: asyncio.Task | None = None  # a SIGHUP's reload, held while it runs
        self.slots = pool.build(config.transcribe)  # this machine's workers, and the servers
        local = config.transcribe.workers > 0
        self.models = ModelFetcher(
            missing=lambda: registry.missing_model(self.backends.config) if local else None,
            download=lambda: self.backends.config.download,
            log=self.log,
            on_ready=self._model_ready,
        )
        self.store: Store
        self.events: Events
        self.queue: JobQueue
        self.intake: Intake
        self.media: MediaCache
        self.runner: Runner
        self.downloads: DownloadManager
        self.subscriptions: Subscriptions
        self.watcher: FolderWatcher | None = None
        self.server: Server
        self.mediaservers: MediaServers
        self.steer: Steering  # what a person asks of jobs and the queue
        self.followups: Followups  # [llm]: a done job's summary and translations
        self.apijobs: ApiJobs  # the HTTP doors' transcription requests, as jobs
        self.http: HttpPart | None = None  # web/ when [http] listen is set
        self.disk: DiskWaits
        self.lost_history: str | None = None  # an empty database beside old transcripts

    @property
    def backend(self) -> registry.FallbackTranscriber:
        return self.backends.main

    def _build(self) -> None:
        """The parts that need the database, each given only what it uses."""
        self.events = Events(self.store, self.bus, self._secrets)
        self.queue = JobQueue(
            self.store,
            self.events,
            lambda: RetryPolicy(self.config.daemon.max_attempts, self.config.daemon.retry_backoff),
            waiting=lambda job: (
                self.disk.note(job.id) or (self.models.waiting_note() if job.path else None)
            ),
            on_finished=self._finished,
            back_off=self.hosts.back_off,
        )
        self.intake = Intake(
            self.queue,
            self.events,
            lambda w: self.config.output_dir_for(w),
            language=lambda: self.config.transcribe.language,
            watches=lambda: self.config.watch,
        )
        self.media = MediaCache(self.store, self.events, lambda: self.config.downloads)
        self.disk = DiskWaits(self.queue, self.events)
        self.runner = Runner(
            self.queue,
            self.events,
            self.aborts,
            self.backends,
            output=lambda: self.config.output,
            unload_after=lambda: self.config.transcribe.unload_after,
            model_ready=lambda: self.models.ready,
            media_done=self.media.transcribed,
            slots=self.slots,
            disk_full=self.disk.wait,
            lane=Lane(
                gather=self.config.transcribe.gather, batch_size=self.config.transcribe.batch_size
            ),
        )
        self.downloads = DownloadManager(
            self.queue,
            self.events,
            self.aborts,
            self.hosts,
            self.network,
            lambda: self.config.downloads,
            lambda: self.config.output,
            disk_full=self.disk.wait,
            reach_for=self._reach_for,
        )
        self.subscriptions = Subscriptions(
            self.queue,
            self.events,
            self.hosts,
            self.network,
            lambda: self.config,
            on_change=self.publish_subscriptions,
        )
        self.mediaservers = MediaServers(lambda: self.config, self.intake, self.queue, self.events)
        self.bus.listen(self.mediaservers.on_event)
        self.followups = Followups(self.queue, self.events, lambda: self.config)
        self.steer = Steering(
            self.queue,
            self.aborts,
            self.bus,
            self.log,
            check_model=self.backends.transcriber_for,
            slot=self.runner.slot,
            followups=self.followups,
        )
        self.apijobs = ApiJobs(
            self.queue,
            self.bus,
            self.log,
            lambda: self.config,
            self.stop,
            transcribe=lambda: self.backends.config,
        )
        self.server = Server(self, self.bus, self.config.socket_path)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        cfg = self.config
        lock = InstanceLock(cfg.lock_path)
        lock.acquire(cfg.socket_path)
        self.store = Store(cfg.daemon.database)
        self.store.check()
        self.stop = asyncio.Event()
        self._build()
        try:
            self._recover()
            await self._check_history()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
            loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
            await self.server.start()
            self._start_watchers()
            sv = self.supervisor
            self._start_http()
            sv.start("runner", self.runner.run, self.stop)
            sv.start("downloads", self.downloads.run, self.stop)
            sv.start("llm stage", self.followups.run, self.stop)
            sv.start("media clean-up", self.media.clean_periodically, self.stop)
            sv.start("disk space", self.disk.run, self.stop)
            sv.start("media servers", self.mediaservers.run, self.stop)
            sv.start(
                "database watch",
                lambda stop: history.watch_identity(self.queue, self.events, stop),
                self.stop,
            )
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
            await sv.wait("http")  # its waiting requests answer 503; streams end
            self.subscriptions.shutdown()
            await self._drain()
            await self.hooks.wait(self.config.hooks.timeout)
            await sv.wait("media servers")
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

    def _start_http(self) -> None:
        """The HTTP server (web/), when [http] listen is set: imported only here, so the
        HTTP stack costs nothing to a daemon without it or to any other command."""
        if not self.config.http.listen:
            return
        from earwig.web.server import HttpServer

        self.http = HttpServer(self, self.config.http.listen)
        self.supervisor.start("http", self.http.run, self.stop)

    def _model_ready(self) -> None:
        """The model is on disk: start the queued jobs, and load it if asked to."""
        self.queue.wake()
        local = self.backends.config.workers > 0
        if local and self.config.transcribe.preload and not self.backend.loaded:
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
            logger.info("stopping (%s): no new jobs will start", why)
            self.stop.set()
            self.queue.wake()

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
        await self.supervisor.wait("llm stage")  # its call is cut; it resumes at the next start
        self.log("info", "stopped")

    def _recover(self) -> None:
        now = time.time()
        for job in self.store.running_jobs():
            fixed = jobs.recover(job, now, self.config.daemon.max_attempts)
            self.store.save_job(fixed)
            self.log(
                "warning", f"recovered after an interruption: {job.title} -> {fixed.state}", job.id
            )
        self.apijobs.recover()  # keep = false: no client waits for those any more

    async def _check_history(self) -> None:
        """An empty database beside transcripts earwig wrote: the history was lost. Start
        with the queue paused and say so, instead of transcribing a library again."""
        if self.store.count_jobs():
            return
        out = self.config.output.dir
        count = await asyncio.to_thread(history.earlier_transcripts, [out])
        if count >= history.MANY:
            self.lost_history = history.lost_history_note(self.config.daemon.database, out, count)
            self.queue.paused = True
            self.log("warning", self.lost_history)

    def problems(self) -> list[str]:
        """What is wrong that the user must know, for `earwig status`: one sentence each."""
        found = [self.queue.halted] if self.queue.halted else []
        if cannot := self._blocked():
            found.append(cannot)
        found += self.disk.problems()
        if self.lost_history and self.queue.paused:
            found.append(self.lost_history)
        return found

    def _blocked(self) -> str | None:
        """Why nothing at all can be transcribed, if so (then the daemon is not "healthy"):
        this machine's model cannot be had, and no speech server is up to take the jobs."""
        cannot = self.models.blocking()
        if cannot and not any(s.kind == "server" and s.up for s in self.slots):
            return cannot
        return None

    def _start_watchers(self) -> None:
        """The folder watcher and the inbox: restarted when a reload changes them."""
        cfg = self.config
        self.watcher = FolderWatcher(
            cfg.watch,
            cfg.daemon.stable_after,
            self.intake.watched_file_ready,
            self.intake.already_known,
            report=self.log,
            own=inbox_files(cfg.inbox_path),
            empty=self.intake.empty_file,
        )
        self.supervisor.start("watcher", self.watcher.run)
        if cfg.inbox_path is not None:
            inbox = Inbox(
                self.queue,
                self.events,
                cfg.inbox_path,
                stable_after=lambda: self.config.daemon.stable_after,
                output_dir=lambda: self.config.output.dir,
            )
            self.supervisor.start("inbox", inbox.run)

    async def _stop_watchers(self) -> None:
        await self.supervisor.stop("watcher")
        await self.supervisor.stop("inbox")

    @property
    def editable_config_path(self) -> Path:
        """Where config edits go: the file the daemon was started with, or the default."""
        from earwig import paths

        return self.config.path or self.config_path or paths.default_config_path()

    def _reload_on_signal(self) -> None:
        """SIGHUP (the service's ExecReload): reload in a task nobody awaits, so its outcome
        is said here; reload() has logged a refusal in one line, and nothing else may reach
        the journal (an unawaited task's ConfigError prints "Task exception was never
        retrieved" with a traceback)."""
        self._reloading = asyncio.create_task(self._reload_quietly())

    async def _reload_quietly(self) -> None:
        try:
            await self.reload()
        except ConfigError:
            pass  # refused and said, the running config kept
        except Exception:  # a bug: its traceback in the log, and the daemon goes on
            logger.exception("reload failed")

    async def reload(self) -> protocol.Reloaded:
        """Re-read the config (SIGHUP, `config.reload`) and say exactly what was applied.

        Each part reads its settings when it uses them, so most sections apply at once; what
        is read once at start-up (the backend and model, the socket, the database, the number
        of download workers) is reported as needing a restart. A broken
        config is refused and the running one kept."""
        sd_notify("RELOADING=1")
        try:
            new = overridden(load_config(self.config_path), self.http_listen)
        except ConfigError as exc:
            self.log("error", f"reload refused, keeping the running config: {exc.message}")
            sd_notify("READY=1")
            raise
        old, self.config = self.config, new
        changed, needs_restart = reload_report(old, new)
        watching = (old.watch, old.daemon.stable_after, old.inbox, old.inbox_path)
        if watching != (new.watch, new.daemon.stable_after, new.inbox, new.inbox_path):
            await self._stop_watchers()  # the watcher and the inbox read these once
            self._start_watchers()
        if old.subscriptions != new.subscriptions:
            self.subscriptions.sync(new.subscriptions)
            self.publish_subscriptions()
        self.hosts.per_host = new.downloads.per_host
        message = "config reloaded: " + (", ".join(changed) or "nothing changed")
        if needs_restart:
            message += f"; after a restart: {', '.join(needs_restart)}"
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

    # ------------------------------------------------------------ events

    def publish_subscriptions(self) -> None:
        self.bus.publish(protocol.SUBSCRIPTIONS({"subscriptions": self.subscriptions.view()}))

    def log(self, level: str, message: str, job_id: int | None = None) -> None:
        if hasattr(self, "events"):
            self.events.log(level, message, job_id)
        else:  # before the database is open (the supervisor is built first)
            logger.log(
                logging.getLevelNamesMapping()[level.upper()], redact.scrub(message, self._secrets)
            )

    async def test_media_servers(self) -> list[protocol.MediaServerView]:
        return cast(list[protocol.MediaServerView], await self.mediaservers.test())

    def _finished(self, view: protocol.JobView) -> None:
        """A job reached done or failed: its hooks, then what the [llm] stage makes of it."""
        self.hooks.fire(view)
        if view["state"] == JobState.DONE:
            self.followups.job_finished(view["id"])

    # ------------------------------------------------------------ views

    def _reach_for(self, job: Job) -> reach.Reach | None:
        """What a job's downloads may reach: a network client's job is held to [http]'s
        rules for clients (earwig/reach.py); local work is not fenced."""
        return reach.for_clients(self.config) if job.source == reach.NETWORK_SOURCE else None

    def job_view(self, job: Job) -> protocol.JobView:
        return self.queue.view(job)

    def status(self) -> protocol.Status:
        current = None
        if self.runner.current is not None:
            current = self.job_view(self.store.get_job(self.runner.current))
        return {
            "version": __version__,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime": time.time() - self.started_at,
            "queue_paused": self.queue.paused,
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
            "running_jobs": sorted(self.runner.running),
            "slots": [slot.view() for slot in self.slots],
            "parts": self.supervisor.view(),
            "healthy": not (self.supervisor.unhealthy or self.queue.halted or self._blocked()),
            "problems": self.problems(),
            "restart_for": reload_report(self.started_with, self.config)[1],
            "empty_files": self.intake.empty_files(),
            "subscriptions": self.subscriptions.view(),
            "http": self.http.view() if self.http is not None else {"state": "off"},
            "media_servers": cast(list[protocol.MediaServerView], self.mediaservers.view()),
        }


def overridden(config: Config, http_listen: str | None) -> Config:
    """`config` with the command line's overrides (`earwig run --http`) applied: at start
    and at each reload, so a reload never reports them as changes."""
    if http_listen is None:
        return config
    return dataclasses.replace(config, http=dataclasses.replace(config.http, listen=http_listen))


def reload_report(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """What a reload from `old` to `new` applies at once, and what needs a restart, key by
    key, from each key's own declaration in config.py (`opt(..., restart=True)`: read once
    at start-up, such as the backend and the socket)."""
    changed: list[str] = []
    restart: list[str] = []
    for section, cls in SECTIONS.items():
        before, after = getattr(old, section), getattr(new, section)
        for f in dataclasses.fields(cls):
            if getattr(before, f.name) != getattr(after, f.name):
                needs = f.metadata.get("restart", False)
                (restart if needs else changed).append(f"[{section}] {f.name}")
    if old.watch != new.watch:
        changed.append("[[watch]] folders")
    if old.subscriptions != new.subscriptions:
        changed.append("[[subscription]]s")
    if old.media_servers != new.media_servers:
        changed.append("[[media_server]]s")
    return changed, restart
