"""One function per socket request, called with its params already parsed into their one
declaration (a protocol.Request Struct), answering with the declared result type, and
talking to the daemon through `Api`: what a request may ask of it, declared here, so this
module never imports the daemon's wiring (app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from earwig import protocol as p
from earwig import reach
from earwig.errors import ProtocolError

if TYPE_CHECKING:
    from earwig.config import Config
    from earwig.daemon.bus import Bus, Outbox
    from earwig.daemon.followups import Followups
    from earwig.daemon.intake import Intake
    from earwig.daemon.queue import JobQueue
    from earwig.daemon.steering import Steering
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
    steer: Steering  # pause, resume, cancel, retry, prioritize, delete; slots; the queue
    followups: Followups  # a done job's [llm] stage: its summary and translations

    @property
    def editable_config_path(self) -> Path: ...

    def status(self) -> p.Status: ...
    def job_view(self, job: Job) -> p.JobView: ...
    async def test_media_servers(self) -> list[p.MediaServerView]: ...
    async def reload(self) -> p.Reloaded: ...


Q = TypeVar("Q", bound=p.Request[Any])
# seconds `subscribe`'s check of a URL may take in all: a client gives up on the daemon at 30
CHECK_DEADLINE = 20.0
Handler = Callable[["Api", Any, "Outbox | None"], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handles(
    request: type[Q],
) -> Callable[[Callable[[Api, Q, Outbox | None], Awaitable[Any]]], Handler]:
    """Register the handler of `request`: mypy holds its params to the request's Struct, and
    tests/unit/test_protocol.py its return annotation to the request's declared result."""

    def register(fn: Callable[[Api, Q, Outbox | None], Awaitable[Any]]) -> Handler:
        HANDLERS[request.KIND] = fn
        return fn

    return register


@handles(p.PauseJob)
async def job_pause(daemon: Api, params: p.PauseJob, box: Outbox | None) -> p.JobResult:
    steer = daemon.steer
    return {"job": daemon.job_view(await steer.until_stopped(steer.pause_job(params.id)))}


@handles(p.ResumeJob)
async def job_resume(daemon: Api, params: p.ResumeJob, box: Outbox | None) -> p.JobResult:
    return {"job": daemon.job_view(daemon.steer.resume_job(params.id))}


@handles(p.CancelJob)
async def job_cancel(daemon: Api, params: p.CancelJob, box: Outbox | None) -> p.JobResult:
    steer = daemon.steer
    return {"job": daemon.job_view(await steer.until_stopped(steer.cancel_job(params.id)))}


@handles(p.PrioritizeJob)
async def job_prioritize(daemon: Api, params: p.PrioritizeJob, box: Outbox | None) -> p.JobResult:
    return {"job": daemon.job_view(daemon.steer.prioritize_job(params.id))}


@handles(p.GetStatus)
async def status(daemon: Api, params: p.GetStatus, box: Outbox | None) -> p.Status:
    return daemon.status()


@handles(p.ListJobs)
async def jobs_list(daemon: Api, params: p.ListJobs, box: Outbox | None) -> p.JobList:
    states = None if params.states is None else [str(s) for s in params.states]
    jobs = daemon.store.list_jobs(states, params.limit, params.offset, warned_only=params.warnings)
    return {"jobs": [daemon.job_view(j) for j in jobs], "total": daemon.store.count_jobs()}


@handles(p.GetJob)
async def job_get(daemon: Api, params: p.GetJob, box: Outbox | None) -> p.JobDetail:
    job = daemon.store.get_job(params.id)
    transcript = daemon.store.get_transcript(params.id) if params.transcript else None
    result: p.JobDetail = {"job": daemon.job_view(job), "log": daemon.store.logs(50, params.id)}
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
    elif params.transcript and params.id in daemon.bus.live:  # running: the lines so far
        live = list(daemon.bus.live[params.id])
        result["transcript"] = {"language": None, "languages": [], "segments": live, "live": True}
    summary, followups = daemon.followups.detail(params.id)
    if summary is not None:
        result["summary"] = summary
    if followups:
        result["followups"] = followups
    return result


@handles(p.AddJobs)
async def job_add(daemon: Api, params: p.AddJobs, box: Outbox | None) -> p.AddResults:
    return {"results": await daemon.intake.add_paths(params.paths, "cli", params.force)}


@handles(p.RetryJob)
async def job_retry(daemon: Api, params: p.RetryJob, box: Outbox | None) -> p.JobResult:
    job = daemon.steer.retry_job(params.id, model=params.model, only=params.only)
    return {"job": daemon.job_view(job)}


@handles(p.TranslateJob)
async def job_translate(daemon: Api, params: p.TranslateJob, box: Outbox | None) -> p.JobResult:
    return {"job": daemon.job_view(daemon.steer.translate_job(params.id, params.language))}


@handles(p.DeleteJob)
async def job_delete(daemon: Api, params: p.DeleteJob, box: Outbox | None) -> p.Deleted:
    job = daemon.store.get_job(params.id)
    deleted: p.Deleted = {"deleted": daemon.steer.delete_job(params.id)}
    if job.path and not job.url:
        deleted["kept_out"] = job.path
    return deleted


@handles(p.Search)
async def search_(daemon: Api, params: p.Search, box: Outbox | None) -> p.SearchResults:
    from earwig import search

    return {
        "hits": await search.search_apart(  # in a thread: the loop stays free
            daemon.store,
            params.query,
            source=params.source,
            since=search.parse_since(params.since) if params.since else None,
            limit=params.limit,
        )
    }


@handles(p.ListSubscriptions)
async def subscriptions_list(
    daemon: Api, params: p.ListSubscriptions, box: Outbox | None
) -> p.Subscriptions:
    return {"subscriptions": daemon.subscriptions.view()}


@handles(p.CheckSubscription)
async def subscription_check(
    daemon: Api, params: p.CheckSubscription, box: Outbox | None
) -> p.CheckResults:
    """Check one subscription (params.name) or all of them now, and report what was found."""
    names = [params.name] if params.name else [s.name for s in daemon.config.subscriptions]
    return {"results": [await daemon.subscriptions.check(n) for n in names]}


@handles(p.AddSubscription)
async def subscription_add(
    daemon: Api, params: p.AddSubscription, box: Outbox | None
) -> p.SubscriptionAdded:
    """Add a [[subscription]] to the config file (comments kept) and apply it."""
    import asyncio

    import msgspec

    from earwig import config_edit
    from earwig.sources.feeds import suggest_name

    client = reach.current()  # a network client: its feed is held to its rules, now and later
    if client is not None:
        await asyncio.to_thread(client.check_url, params.url)
    if params.check:  # a 404, a text file, a wav: refused now, with the reason
        from earwig import config as config_mod
        from earwig.sources.probe import NotFollowable, probe

        given = {k: v for k, v in msgspec.structs.asdict(params).items() if v is not None}
        given.pop("check")  # the values first: a bad one costs no request
        config_mod.parse({"subscription": [{**given, "name": "check"}]}, None)
        timeout = daemon.config.downloads.timeout
        kind = params.kind or "auto"
        checking = asyncio.to_thread(reach.within, client, probe, params.url, kind, timeout)
        try:  # a feed that trickles: answered before the client gives up on the daemon
            await asyncio.wait_for(checking, CHECK_DEADLINE)
        except TimeoutError:
            raise NotFollowable(
                f"not subscribed: {params.url} did not send a whole answer within "
                f"{CHECK_DEADLINE:.0f} s (it sends slowly, or not at all)",
                "check the URL, or subscribe with --no-check (its checks then run in the "
                "background)",
            ) from None
    name = params.name
    if not name:
        taken = {s.name for s in daemon.config.subscriptions}
        name = await asyncio.to_thread(reach.within, client, suggest_name, params.url, taken)
    entry = msgspec.structs.asdict(msgspec.structs.replace(params, name=name))
    entry.pop("check", None)
    if client is not None:
        entry["added_over_http"] = True
    config_edit.add_subscription(daemon.editable_config_path, entry)
    reloaded = await daemon.reload()
    return {
        "changed": reloaded["changed"],
        "needs_restart": reloaded["needs_restart"],
        "name": name,
        "first_check": daemon.subscriptions.first_check_note(name),  # now, or why not
    }


@handles(p.RemoveSubscription)
async def subscription_remove(
    daemon: Api, params: p.RemoveSubscription, box: Outbox | None
) -> p.Reloaded:
    from earwig import config_edit

    config_edit.remove_subscription(daemon.editable_config_path, params.name)
    return await daemon.reload()


@handles(p.ListSpeakers)
async def speakers_list(daemon: Api, params: p.ListSpeakers, box: Outbox | None) -> p.Voices:
    from earwig.speakers.naming import list_voices

    return list_voices(daemon.store)


@handles(p.NameSpeaker)
async def speaker_name(daemon: Api, params: p.NameSpeaker, box: Outbox | None) -> p.SpeakerNamed:
    """Name one speaker of a job's transcript (files and search too) and remember the voice."""
    from earwig.speakers.naming import name_speaker

    result = name_speaker(daemon.store, params.id, params.speaker, params.name, params.everywhere)
    daemon.queue.save(daemon.store.get_job(params.id))  # clients see the change
    return result


@handles(p.ForgetSpeaker)
async def speaker_forget(
    daemon: Api, params: p.ForgetSpeaker, box: Outbox | None
) -> p.SpeakerForgotten:
    from earwig.speakers.naming import forget_voice

    return forget_voice(daemon.store, params.name)


@handles(p.ReloadConfig)
async def config_reload(daemon: Api, params: p.ReloadConfig, box: Outbox | None) -> p.Reloaded:
    return await daemon.reload()


@handles(p.PauseQueue)
async def queue_pause(daemon: Api, params: p.PauseQueue, box: Outbox | None) -> p.QueueState:
    daemon.steer.set_queue_paused(True)
    return {"paused": True}


@handles(p.ResumeQueue)
async def queue_resume(daemon: Api, params: p.ResumeQueue, box: Outbox | None) -> p.QueueState:
    daemon.steer.set_queue_paused(False)
    return {"paused": False}


@handles(p.ListSlots)
async def slots_list(daemon: Api, params: p.ListSlots, box: Outbox | None) -> p.Slots:
    return {"slots": daemon.status()["slots"], "paused": daemon.queue.paused}


@handles(p.DrainSlot)
async def slot_drain(daemon: Api, params: p.DrainSlot, box: Outbox | None) -> p.SlotResult:
    return {"slot": daemon.steer.drain_slot(params.name, params.drain)}


@handles(p.TestMediaServers)
async def media_servers_test(
    daemon: Api, params: p.TestMediaServers, box: Outbox | None
) -> p.MediaServerTests:
    return {"servers": await daemon.test_media_servers()}


@handles(p.TailLogs)
async def logs_tail(daemon: Api, params: p.TailLogs, box: Outbox | None) -> p.LogTail:
    return {"log": daemon.store.logs(params.limit)}


@handles(p.Subscribe)
async def subscribe(daemon: Api, params: p.Subscribe, box: Outbox | None) -> p.Snapshot:
    """Start streaming events on this connection; the reply is the snapshot they build on."""
    if box is None:
        raise ProtocolError("subscribe needs a connection that carries events")
    box.topics.update(params.topics)  # the params were checked before this handler ran
    daemon.bus.attach(box)
    snapshot: p.Snapshot = {"status": daemon.status()}
    if "jobs" in params.topics:
        jobs = daemon.store.list_jobs(limit=params.limit)
        snapshot["jobs"] = [daemon.job_view(j) for j in jobs]
    if "log" in params.topics:
        snapshot["log"] = daemon.store.logs(params.log_limit)
    return snapshot
