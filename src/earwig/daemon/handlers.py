"""One function per socket request. Each validates its params and calls into the daemon."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig.errors import ProtocolError

MAX_INT = 2**63 - 1  # SQLite's largest integer

if TYPE_CHECKING:
    from earwig.daemon.app import Daemon
    from earwig.daemon.bus import Outbox

Handler = Callable[["Daemon", dict[str, Any], "Outbox"], Awaitable[Any]]
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
    return {"jobs": [daemon.job_view(j) for j in jobs], "total": daemon.store.db["jobs"].count}


@handles("job.get")
async def job_get(daemon: Daemon, params: dict[str, Any], box: Outbox) -> Any:
    job = daemon.store.get_job(_job_id(params))
    transcript = daemon.store.get_transcript(job.id) if params.get("transcript") else None
    result: dict[str, Any] = {"job": daemon.job_view(job), "log": daemon.store.logs(50, job.id)}
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
    force = bool(params.get("force", False))
    results = []
    for item in items:
        if "://" in item:
            results.append({"input": item, **daemon.add_url(item, "cli", force=force)})
            continue
        path = Path(item)
        if not path.is_absolute():
            results.append({"input": item, "error": "the path must be absolute"})
            continue
        if path.is_dir():
            results += await daemon.add_folder(path, "cli", force=force)
            continue
        results.append({"input": item, **await daemon.add_file(path, "cli", force=force)})
    return {"results": results}


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
    daemon.bus.outboxes.add(box)
    snapshot: dict[str, Any] = {"status": daemon.status()}
    if "jobs" in topics:
        snapshot["jobs"] = [daemon.job_view(j) for j in daemon.store.list_jobs(limit=limit)]
    if "log" in topics:
        snapshot["log"] = daemon.store.logs(log_limit)
    return snapshot
