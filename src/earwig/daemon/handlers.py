"""One function per socket request, called with params already checked against their one
declaration (protocol.REQUESTS), talking to the daemon through `Api`: what a request may ask
of it, declared here, so this module never imports the daemon's wiring (app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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
    def drain_slot(self, name: str, drain: bool) -> dict[str, Any]: ...
    async def reload(self) -> dict[str, Any]: ...


Handler = Callable[["Api", dict[str, Any], "Outbox"], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


# The steering requests, from a table: each moves one job and answers with it.
STEERING = {
    "job.pause": "pause_job",
    "job.resume": "resume_job",
    "job.cancel": "cancel_job",
    "job.prioritize": "prioritize_job",
}


def _steer(method: str) -> Handler:
    async def handler(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
        return {"job": daemon.job_view(getattr(daemon, method)(params["id"]))}

    return handler


for _kind, _method in STEERING.items():
    HANDLERS[_kind] = _steer(_method)


@handles("status")
async def status(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return daemon.status()


@handles("jobs.list")
async def jobs_list(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    jobs = daemon.store.list_jobs(
        params["states"], params["limit"], params["offset"], warned_only=params["warnings"]
    )
    return {"jobs": [daemon.job_view(j) for j in jobs], "total": daemon.store.count_jobs()}


@handles("job.get")
async def job_get(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    job_id = params["id"]
    job = daemon.store.get_job(job_id)
    transcript = daemon.store.get_transcript(job_id) if params["transcript"] else None
    result: dict[str, Any] = {"job": daemon.job_view(job), "log": daemon.store.logs(50, job_id)}
    if transcript is not None:
        result["transcript"] = {
            "language": transcript.language,
            "languages": list(transcript.languages),
            "segments": [
                {
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "speaker": s.speaker,
                    "language": s.language,
                }
                for s in transcript.segments
            ],
        }
    return result


@handles("job.add")
async def job_add(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"results": await daemon.intake.add_paths(params["paths"], "cli", params["force"])}


@handles("job.retry")
async def job_retry(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"job": daemon.job_view(daemon.retry_job(params["id"], model=params["model"]))}


@handles("job.delete")
async def job_delete(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"deleted": daemon.delete_job(params["id"])}


@handles("search")
async def search_(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    from earwig import search

    since = params["since"]
    return {
        "hits": search.search(
            daemon.store,
            params["query"],
            source=params["source"],
            since=search.parse_since(since) if since else None,
            limit=params["limit"],
        )
    }


@handles("subscriptions.list")
async def subscriptions_list(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"subscriptions": daemon.subscriptions.view()}


@handles("subscription.check")
async def subscription_check(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    """Check one subscription (params.name) or all of them now, and report what was found."""
    name = params["name"]
    names = [name] if name else [s.name for s in daemon.config.subscriptions]
    return {"results": [await daemon.subscriptions.check(n) for n in names]}


@handles("subscription.add")
async def subscription_add(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    """Add a [[subscription]] to the config file (comments kept) and apply it."""
    import asyncio

    from earwig import config_edit
    from earwig.sources.feeds import suggest_name

    if not params.get("name"):
        taken = {s.name for s in daemon.config.subscriptions}
        params = {**params, "name": await asyncio.to_thread(suggest_name, params["url"], taken)}
    config_edit.add_subscription(daemon.editable_config_path, params)
    return {**await daemon.reload(), "name": params["name"]}


@handles("subscription.remove")
async def subscription_remove(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    from earwig import config_edit

    config_edit.remove_subscription(daemon.editable_config_path, params["name"])
    return await daemon.reload()


@handles("speakers.list")
async def speakers_list(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    from earwig.speakers.naming import list_voices

    return list_voices(daemon.store)


@handles("speaker.name")
async def speaker_name(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    """Name one speaker of a job's transcript (files and search too) and remember the voice."""
    from earwig.speakers.naming import name_speaker

    result = name_speaker(
        daemon.store, params["id"], params["speaker"], params["name"], params["everywhere"]
    )
    daemon.queue.save(daemon.store.get_job(params["id"]))  # clients see the change
    return result


@handles("speaker.forget")
async def speaker_forget(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    from earwig.speakers.naming import forget_voice

    return forget_voice(daemon.store, params["name"])


@handles("config.reload")
async def config_reload(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return await daemon.reload()


@handles("queue.pause")
async def queue_pause(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    daemon.set_queue_paused(True)
    return {"paused": True}


@handles("queue.resume")
async def queue_resume(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    daemon.set_queue_paused(False)
    return {"paused": False}


@handles("slots.list")
async def slots_list(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"slots": daemon.status()["slots"], "paused": daemon.queue.paused}


@handles("slot.drain")
async def slot_drain(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"slot": daemon.drain_slot(params["name"], params["drain"])}


@handles("logs.tail")
async def logs_tail(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    return {"log": daemon.store.logs(params["limit"])}


@handles("subscribe")
async def subscribe(daemon: Api, params: dict[str, Any], box: Outbox) -> Any:
    """Start streaming events on this connection; the reply is the snapshot they build on."""
    topics = params["topics"]
    box.topics.update(topics)  # the params were checked before this handler ran
    daemon.bus.attach(box)
    snapshot: dict[str, Any] = {"status": daemon.status()}
    if "jobs" in topics:
        limit = params["limit"]
        snapshot["jobs"] = [daemon.job_view(j) for j in daemon.store.list_jobs(limit=limit)]
    if "log" in topics:
        snapshot["log"] = daemon.store.logs(params["log_limit"])
    return snapshot
