"""One function per socket request. Each validates its params and calls into the daemon
through `Api`: what a request may ask of it, declared here, so this module never imports
the daemon's wiring (app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from earwig.errors import ProtocolError

MAX_INT = 2**63 - 1  # SQLite's largest integer

if TYPE_CHECKING:
    from earwig.config import Config
    from earwig.daemon.bus import Bus, Outbox
    from earwig.daemon.intake import Intake
    from earwig.daemon.queue import JobQueue
    from earwig.daemon.subscriptions import Subscriptions
    from earwig.model import Job
    from earwig.store import Store


class Api(Protocol):
    """What the socket's requests may use of the daemon."""

    config: Config
    store: Store
    bus: Bus
    queue: JobQueue
    intake: Intake
    subscriptions: Subscriptions

    @property
    def editable_config_path(self) -> Path: ...

    def status(self) -> dict[str, Any]: ...
    def job_view(self, job: Job) -> dict[str, Any]: ...
    def pause_job(self, job_id: int) -> Job: ...
    def resume_job(self, job_id: int) -> Job: ...
    def cancel_job(self, job_id: int) -> Job: ...
    def retry_job(self, job_id: int, model: str | None = None) -> Job: ...
    def prioritize_job(self, job_id: int) -> Job: ...
    def delete_job(self, job_id: int) -> int: ...
    def set_queue_paused(self, paused: bool) -> None: ...
    async def reload(self) -> dict[str, Any]: ...


Daemon = Api  # the handlers' first argument, by its old name

Handler = Callable[["Api", dict[str, Any], "Outbox"], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def _job_id(params: dict[str, Any]) -> int:
    value = params.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise ProtocolError("params.id must be a job id (a positive integer)")
    return value


def _count(params: dict[str, Any], key: str, default: int, top: int) -> int:
    """A whole-number parameter from 0 (or 1, for limits) to `top`, checked before use."""
    value = params.get(key, default)
    low = 1 if key.endswith("limit") else 0
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
        raise ProtocolError(f"params.{key} must be a whole number from {low} to {top}")
    return value


@handles("status")
async def status(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return daemon.status()


@handles("jobs.list")
async def jobs_list(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    states = params.get("states")
    if states is not None and not (
        isinstance(states, list) and all(isinstance(s, str) for s in states)
    ):
        raise ProtocolError("params.states must be a list of state names")
    limit = _count(params, "limit", 500, 1000)
    offset = _count(params, "offset", 0, MAX_INT)
    warned = params.get("warnings", False)
    if not isinstance(warned, bool):
        raise ProtocolError("params.warnings must be true or false")
    jobs = daemon.store.list_jobs(states, limit, offset, warned_only=warned)
    return {"jobs": [daemon.job_view(j) for j in jobs], "total": daemon.store.count_jobs()}


@handles("job.get")
async def job_get(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    job_id = _job_id(params)
    job = daemon.store.get_job(job_id)
    transcript = daemon.store.get_transcript(job_id) if params.get("transcript") else None
    result: dict[str, Any] = {"job": daemon.job_view(job), "log": daemon.store.logs(50, job_id)}
    if transcript is not None:
        result["transcript"] = {
            "language": transcript.language,
            "segments": [
                {"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments
            ],
        }
    return result


@handles("job.add")
async def job_add(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    items = params.get("paths")
    if not isinstance(items, list) or not items or not all(isinstance(p, str) for p in items):
        raise ProtocolError("params.paths must be a non-empty list of strings")
    force = params.get("force", False)
    if not isinstance(force, bool):
        raise ProtocolError("params.force must be true or false")
    return {"results": await daemon.intake.add_paths(items, "cli", force)}


@handles("job.pause")
async def job_pause(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return {"job": daemon.job_view(daemon.pause_job(_job_id(params)))}


@handles("job.resume")
async def job_resume(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return {"job": daemon.job_view(daemon.resume_job(_job_id(params)))}


@handles("job.cancel")
async def job_cancel(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return {"job": daemon.job_view(daemon.cancel_job(_job_id(params)))}


@handles("job.retry")
async def job_retry(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    model = params.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ProtocolError("params.model must be a model name or path")
    return {"job": daemon.job_view(daemon.retry_job(_job_id(params), model=model))}


@handles("job.prioritize")
async def job_prioritize(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return {"job": daemon.job_view(daemon.prioritize_job(_job_id(params)))}


@handles("job.delete")
async def job_delete(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return {"deleted": daemon.delete_job(_job_id(params))}


@handles("search")
async def search_(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    from earwig import search

    query, limit = params.get("query"), _count(params, "limit", 50, 1000)
    if not isinstance(query, str):
        raise ProtocolError("params.query must be a string")
    since = params.get("since")
    return {
        "hits": search.search(
            daemon.store,
            query,
            source=params.get("source") or None,
            since=search.parse_since(since) if since else None,
            limit=limit,
        )
    }


@handles("subscriptions.list")
async def subscriptions_list(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return {"subscriptions": daemon.subscriptions.view()}


@handles("subscription.check")
async def subscription_check(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    """Check one subscription (params.name) or all of them now, and report what was found."""
    name = params.get("name")
    if name is not None and not isinstance(name, str):
        raise ProtocolError("params.name must be a string")
    names = [name] if name else [s.name for s in daemon.config.subscriptions]
    return {"results": [await daemon.subscriptions.check(n) for n in names]}


@handles("subscription.add")
async def subscription_add(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    """Add a [[subscription]] to the config file (comments kept) and apply it."""
    from earwig import config_edit

    entry = {k: params.get(k) for k in ("name", "url", "every", "cron", "backfill", "since")}
    if not isinstance(entry["url"], str) or not isinstance(entry["name"], str):
        raise ProtocolError("params.name and params.url must be strings")
    config_edit.add_subscription(daemon.editable_config_path, entry)
    return await daemon.reload()


@handles("subscription.remove")
async def subscription_remove(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    from earwig import config_edit

    name = params.get("name")
    if not isinstance(name, str):
        raise ProtocolError("params.name must be a string")
    config_edit.remove_subscription(daemon.editable_config_path, name)
    return await daemon.reload()


@handles("config.reload")
async def config_reload(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    return await daemon.reload()


@handles("queue.pause")
async def queue_pause(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    daemon.set_queue_paused(True)
    return {"paused": True}


@handles("queue.resume")
async def queue_resume(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    daemon.set_queue_paused(False)
    return {"paused": False}


@handles("logs.tail")
async def logs_tail(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    limit = _count(params, "limit", 100, 10000)
    return {"log": daemon.store.logs(limit)}


@handles("subscribe")
async def subscribe(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    """Start streaming events on this connection; the reply is the snapshot they build on."""
    topics = params.get("topics", ["jobs"])
    if not (
        isinstance(topics, list)
        and all(isinstance(t, str) for t in topics)
        and set(topics) <= {"jobs", "log"}
    ):
        raise ProtocolError('params.topics must be a list drawn from "jobs", "log"')
    limit = _count(params, "limit", 500, 1000)
    log_limit = _count(params, "log_limit", 50, 1000)
    box.topics.update(topics)  # only once every parameter has been checked
    daemon.bus.attach(box)
    snapshot: dict[str, Any] = {"status": daemon.status()}
    if "jobs" in topics:
        snapshot["jobs"] = [daemon.job_view(j) for j in daemon.store.list_jobs(limit=limit)]
    if "log" in topics:
        snapshot["log"] = daemon.store.logs(log_limit)
    return snapshot
