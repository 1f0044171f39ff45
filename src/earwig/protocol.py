"""The wire protocol between the daemon and its clients (CLI, TUI, HTTP): NDJSON over a Unix socket.

One JSON object per line, at most MAX_LINE bytes. A connection starts with
    -> {"type": "hello", "protocol": 1}       <- {"type": "welcome", "protocol": 1, "version": ...}
then carries requests and responses matched by id
    -> {"id": 7, "type": "job.add", "params": {...}}
    <- {"id": 7, "ok": true, "result": {...}}  or  {"id": 7, "ok": false, "error": {...}}
and, after a "subscribe" request, events
    <- {"type": "event", "seq": N, "event": "job.updated", "data": {...}}
`seq` counts per connection; a gap means events were dropped for a slow reader and the client
should ask for a fresh snapshot. Progress events carry no seq: they are coalesced per job.

Everything that travels is declared here once, and the type checker holds every side to it:
- a request is a msgspec Struct, its parameters (with their ranges and choices as `Meta`), and
  its result type as the Struct's type argument: `class GetJob(Request[JobDetail])`. The
  daemon checks what arrives against the Struct (`parse_params`), a client builds one and gets
  the result typed (`client.call(GetJob(id=7))["job"]["state"]`).
- results and event data are TypedDicts: they describe the plain JSON objects that travel, so
  the bytes on the wire are what they always were, nothing is converted on either side, and
  mypy checks each key a caller reads.
- an event is an `EventKind(name, data type, topic)`.
`REQUESTS` (name -> Struct, whose `.RESULT` is the result type) and `EVENTS` (name -> kind)
are the tables to walk: the daemon's dispatch, docs/protocol.md and the HTTP routes derive
from them.

This module is pure (no sockets), so the daemon, the clients and the tests share it.
"""

from __future__ import annotations

import json
import numbers
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, ClassVar, Generic, Literal, NotRequired, TypedDict, TypeVar

import msgspec
from msgspec import Meta

from earwig.errors import ProtocolError, RemoteError, VersionMismatch
from earwig.model import JobState

PROTOCOL_VERSION = 1
MAX_LINE = 1024 * 1024

MAX_INT = 2**63 - 1  # SQLite's largest integer

R = TypeVar("R")
D = TypeVar("D")
Q = TypeVar("Q", bound="Request[Any]")

# A decoded line, before anything is known about it: the one shape that is plain JSON.
Message = dict[str, Any]

# ---------------------------------------------------------------- parameter types
# Each Meta's description is both the schema's description and how a refusal names the value
# ("params.id must be a job id (a positive integer)").
JobId = Annotated[int, Meta(ge=1, le=MAX_INT, description="a job id (a positive integer)")]
Text = Annotated[str, Meta(pattern=r"\S")]  # a non-empty string (not only blanks)
Count = Annotated[int, Meta(ge=0, le=MAX_INT)]
Since = Annotated[str, Meta(pattern=r"\S", description="a date like 2026-11-01, or an age like 7d")]
Topic = Literal["jobs", "log"]


# ---------------------------------------------------------------- results and event data


class Progress(TypedDict, total=False):
    """A running job's live progress (the `job.progress` event, and a job's `progress`).
    A transcription's is sent every second whatever the engine says (daemon/progress.py):
    its stage named, the fraction carried forward between the engine's reports, the time
    left counting down."""

    id: int
    # "downloading", or a transcription's stage: "decoding", "transcribing", "speakers",
    # "writing"
    phase: str
    fraction: float | None  # None: a download of unknown size, or a length not yet known
    bytes: int | None
    total: int | None
    speed: float | None  # transcribing: times real time; downloading: bytes a second
    eta: float | None  # seconds left
    elapsed: float  # seconds since the transcription started


class JobView(TypedDict):
    """A job as clients see it: its record (model.Job), its live progress, why it waits."""

    id: int
    source: str
    title: str
    path: str | None
    url: str | None
    subscription: str | None
    sha256: str | None
    size: int | None
    mtime: float | None
    state: str  # a JobState's value
    priority: int
    attempts: int
    force: bool
    error: str | None
    hint: str | None
    backend: str | None
    model: str | None
    duration: float | None
    output_dir: str | None
    output_base: str | None
    outputs: list[str]
    model_request: str | None
    slot: str | None
    language: str | None  # the language it mostly speaks
    languages: list[str]  # every language it speaks, the most spoken first
    warnings: list[str]
    publisher: dict[str, Any]  # a feed item's Podcasting 2.0 links, as the feed gave them
    text_from: str | None
    chapters: list[dict[str, Any]]  # the publisher's chapters, as the publisher wrote them
    beside: list[str]
    created_at: float
    updated_at: float
    not_before: float | None
    times: dict[str, float]  # state -> when it was last entered
    options: dict[str, Any]  # what its request asked over [transcribe] (an HTTP API job's)
    saved: float  # seconds from the start already transcribed and kept: a resume goes on there
    # a done job's [llm] stage: "summarizing", "translating", "waiting", "paused", or None
    stage: str | None
    progress: NotRequired[Progress]
    waiting: NotRequired[str]  # why a queued job cannot start yet


class LogEntry(TypedDict):
    id: int
    ts: float
    level: str
    job_id: int | None
    message: str


class ModelState(TypedDict, total=False):
    state: str
    name: str
    repo: str
    bytes: int
    total: int | None
    fraction: float | None
    error: str
    hint: str | None
    retry_at: float | None


class BackendView(TypedDict):
    name: str
    model: str
    loaded: bool
    device: str | None
    fallbacks: list[str]
    model_state: ModelState


class SlotView(TypedDict):
    name: str
    kind: str  # "local" or a server's kind
    url: str | None
    model: str | None
    capacity: int
    busy: list[int]
    up: bool
    drained: bool
    done: int
    throughput: float | None
    errors: int
    last_error: str | None
    gap_ms: float | None


class PartView(TypedDict):
    state: str
    restarts: int
    last_error: str | None
    last_error_at: float | None


class SubscriptionView(TypedDict):
    name: str
    url: str
    schedule: str
    next_check: float | None
    checking: bool
    last_check: float | None
    last_ok: float | None
    last_error: str | None
    items_found: int
    last_new: int | None


class HttpView(TypedDict, total=False):
    """Where the HTTP server listens (web/server.py), or why it does not."""

    state: str  # "off", "starting", "listening", "port taken", "cannot listen", "restarting"
    configured: str  # [http] listen (or `earwig run --http`)
    listen: str  # the bound address, "127.0.0.1:PORT" (the real port when it was 0)
    url: str  # http://127.0.0.1:PORT/
    error: str
    retry_at: float | None


class MediaEventView(TypedDict):
    at: float
    what: str  # the sender's name for the event and its item: "ItemAdded Night Train"
    outcome: str  # "queued as job 12", "refused: in no library earwig knows", ...


class MediaRefreshView(TypedDict):
    at: float
    ok: bool
    what: str  # the calls made ("POST /Library/Media/Updated"), or why they failed


class MediaFolderView(TypedDict):
    library: str | None  # the server's name for it; None: a path_map pair alone
    theirs: str  # as the server names it
    ours: str | None  # where it lies here (None: no path_map covers it)
    readable: bool


class MediaServerView(TypedDict, total=False):
    """One [[media_server]] table (mediaservers/), or a sender that posted without one."""

    name: str
    kind: str  # jellyfin, plex, emby; sonarr, radarr, tautulli, bazarr
    events: list[str]
    last_event: MediaEventView | None
    url: str  # scheme://host:port, never a key
    refresh: bool
    reachable: bool | None  # None: not asked yet
    server: str | None  # "Jellyfin 10.11.0 (living-room)"
    checked_at: float | None
    error: str | None  # the last problem talking to it, until it answers again
    last_refresh: MediaRefreshView | None
    pending: int  # files whose refresh waits to be sent
    folders: list[MediaFolderView]  # `media_servers.test` only


class MediaServerTests(TypedDict):
    servers: list[MediaServerView]


class Status(TypedDict):
    version: str
    pid: int
    started_at: float
    uptime: float
    queue_paused: bool
    counts: dict[str, int]  # state -> jobs in it
    current: JobView | None
    backend: BackendView
    watch: list[str]
    output_dir: str
    database: str
    socket: str
    log_file: str
    inbox: str | None
    downloading: list[int]
    running_jobs: list[int]
    slots: list[SlotView]
    parts: dict[str, PartView]
    healthy: bool
    problems: list[str]  # sentences: the database lost, a disk full (daemon/history.py, disk.py)
    # config keys changed since the daemon started that apply only after a restart
    # ("[transcribe] model"): the running daemon still uses what it started with
    restart_for: list[str]
    # files in watched folders skipped for now because they are empty (taken once they fill)
    empty_files: NotRequired[list[str]]
    subscriptions: list[SubscriptionView]
    http: HttpView  # the HTTP server: {"state": "off"} without [http] listen
    media_servers: list[MediaServerView]  # [[media_server]] tables and senders seen


class JobList(TypedDict):
    jobs: list[JobView]
    total: int


class SegmentView(TypedDict):
    start: float
    end: float
    text: str
    speaker: str | None
    language: str | None  # the language it is spoken in, where the backend found it


class TranscriptView(TypedDict):
    language: str | None
    languages: list[str]  # every language spoken, the most spoken first
    segments: list[SegmentView]
    live: NotRequired[bool]  # a running job's lines so far (job.segments brings the rest)


class ChapterView(TypedDict):
    start: float
    end: float
    title: str


class FollowupView(TypedDict):
    """One summary or translation of a job by the [llm] model."""

    id: int
    kind: str  # "summary" or "translation"
    language: str | None  # a translation's target
    state: str  # queued, running, done, failed, cancelled, paused
    attempts: int
    error: str | None
    outputs: list[str]  # the files it wrote (a translation's NAME.de.srt)


class SummaryView(TypedDict):
    summary: str
    title: str
    chapters: list[ChapterView]  # the model's; a publisher's own are the job's `chapters`
    model: str


class JobDetail(TypedDict):
    job: JobView
    log: list[LogEntry]
    transcript: NotRequired[TranscriptView]  # when asked for and there is one
    summary: NotRequired[SummaryView]  # when the [llm] model wrote one
    followups: NotRequired[list[FollowupView]]  # its summaries and translations, if any


class AddOutcome(TypedDict, total=False):
    """One input of `job.add`: queued (`job`), a duplicate, skipped on purpose, or an error."""

    input: str
    job: JobView
    duplicate_of: JobView
    skipped: str
    reason: str
    error: str
    hint: str


class AddResults(TypedDict):
    results: list[AddOutcome]


class JobResult(TypedDict):
    job: JobView


class Deleted(TypedDict):
    deleted: int
    # the file it was made from, now kept out of the queue: scans skip it until it is
    # added again with force
    kept_out: NotRequired[str]


class QueueState(TypedDict):
    paused: bool


class LogTail(TypedDict):
    log: list[LogEntry]


class Snapshot(TypedDict):
    status: Status
    jobs: NotRequired[list[JobView]]  # topic "jobs"
    log: NotRequired[list[LogEntry]]  # topic "log"


class SearchHit(TypedDict):
    job_id: int
    start: float
    end: float
    speaker: str | None
    title: str
    subscription: str | None
    source: str | None
    outputs: list[str]
    created_at: float
    snippet: str  # the matched words between formatting.HIGHLIGHT_START and _END
    clock: str
    transcript: str | None  # the .txt file
    summary: NotRequired[bool]  # the words are in the job's summary ([llm]), not its speech


class SearchResults(TypedDict):
    hits: list[SearchHit]


class Subscriptions(TypedDict):
    subscriptions: list[SubscriptionView]


class CheckOutcome(TypedDict, total=False):
    """One subscription's check: `new` items queued (their `jobs`), or `unchanged` (304), or
    an `error`. `skipped` is, alas, two things: how many old items a first check left out
    (a number), or why no check ran (a string: "a check is already running")."""

    name: str
    new: int
    jobs: list[int]
    unchanged: bool
    skipped: int | str
    error: str
    hint: str


class CheckResults(TypedDict):
    results: list[CheckOutcome]


class Reloaded(TypedDict):
    changed: list[str]
    needs_restart: list[str]


class SubscriptionAdded(Reloaded):
    name: str
    first_check: str  # "its first check runs now", or why it waits (a host's 429)


class Voice(TypedDict):
    name: str
    scope: str
    job_id: int
    created_at: float


class Voices(TypedDict):
    voices: list[Voice]


class SpeakerNamed(TypedDict):
    job: int
    speaker: str
    name: str
    scope: str
    files: list[str]


class SpeakerForgotten(TypedDict):
    forgotten: str


class Slots(TypedDict):
    slots: list[SlotView]
    paused: bool


class SlotResult(TypedDict):
    slot: SlotView


class JobDeleted(TypedDict):
    id: int


class JobSegments(TypedDict):
    """Lines of a running job's transcript as the engine finishes them, on the file's clock,
    each sent once (the `job.segments` event)."""

    id: int
    segments: list[SegmentView]


# ---------------------------------------------------------------- requests


class Request(
    msgspec.Struct, Generic[R], kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One request's parameters; the type argument is its result. Subclasses are declared
    with `@declare("name")`, which records them in REQUESTS."""

    KIND: ClassVar[str] = ""  # the request's name on the wire
    RESULT: ClassVar[type]  # the type of its result

    def as_params(self) -> dict[str, Any]:
        """The parameters as they travel (defaults left out: the daemon fills them in)."""
        return typing.cast("dict[str, Any]", msgspec.to_builtins(self))


REQUESTS: dict[str, type[Request[Any]]] = {}


def declare(kind: str) -> Callable[[type[Q]], type[Q]]:
    """Record a request class under its wire name, with its result type from its base."""

    def register(cls: type[Q]) -> type[Q]:
        base = next(b for b in cls.__orig_bases__ if typing.get_origin(b) is Request)  # type: ignore[attr-defined]
        cls.KIND = kind
        cls.RESULT = typing.get_args(base)[0]
        REQUESTS[kind] = cls
        return cls

    return register


@declare("status")
class GetStatus(Request[Status]):
    """The daemon's state: counts, the running job, backend, slots, parts, subscriptions."""


@declare("jobs.list")
class ListJobs(Request[JobList]):
    """Jobs, running first, then the queue in order, then the newest history."""

    states: list[JobState] | None = None
    limit: Annotated[int, Meta(ge=1, le=1000)] = 500
    offset: Count = 0
    warnings: bool = False  # only jobs that are done with warnings


@declare("job.get")
class GetJob(Request[JobDetail]):
    """One job, its log, and (with transcript) its segments."""

    id: JobId
    transcript: bool = False


@declare("job.add")
class AddJobs(Request[AddResults]):
    """Queue files (absolute paths) or URLs; each input gets its own outcome."""

    paths: Annotated[list[str], Meta(min_length=1, description="a non-empty list of paths or URLs")]
    force: bool = False  # even if the same content was transcribed before


@declare("job.pause")
class PauseJob(Request[JobResult]):
    """Pause a waiting or running job: a running one keeps every finished window of its
    file and goes on from there when resumed; the answer comes once it has stopped. Or a
    done job's summary or translation ([llm])."""

    id: JobId


@declare("job.resume")
class ResumeJob(Request[JobResult]):
    id: JobId


@declare("job.cancel")
class CancelJob(Request[JobResult]):
    """Cancel a job, or a done job's summary or translation (its transcript stays)."""

    id: JobId


@declare("job.retry")
class RetryJob(Request[JobResult]):
    """Queue a finished job again, with `model` instead of the configured one; with `only`,
    just its summary or its translations ([llm]), asked of the model afresh."""

    id: JobId
    model: Annotated[str, Meta(pattern=r"\S", description="a model name or path")] | None = None
    only: Literal["summary", "translation"] | None = None


@declare("job.translate")
class TranslateJob(Request[JobResult]):
    """Subtitles of a done job in another language, by the [llm] model (NAME.de.srt)."""

    id: JobId
    language: Annotated[str, Meta(pattern=r"^[A-Za-z-]{2,20}$", description="a language code")]


@declare("job.prioritize")
class PrioritizeJob(Request[JobResult]):
    """Move a waiting job to the front of the queue."""

    id: JobId


@declare("job.delete")
class DeleteJob(Request[Deleted]):
    """Forget a finished job (its files stay)."""

    id: JobId


@declare("queue.pause")
class PauseQueue(Request[QueueState]):
    """The running jobs finish; no new ones start."""


@declare("queue.resume")
class ResumeQueue(Request[QueueState]):
    pass


@declare("logs.tail")
class TailLogs(Request[LogTail]):
    """The newest lines of the daemon's log (subscribe to topic log to follow it)."""

    limit: Annotated[int, Meta(ge=1, le=10000)] = 100


@declare("subscribe")
class Subscribe(Request[Snapshot]):
    """Stream the topics' events on this connection; the result is the snapshot they build on."""

    topics: list[Topic] = msgspec.field(default_factory=lambda: ["jobs"])
    limit: Annotated[int, Meta(ge=1, le=1000)] = 500
    log_limit: Annotated[int, Meta(ge=1, le=10000)] = 50


@declare("search")
class Search(Request[SearchResults]):
    """Full-text search over every transcript."""

    query: Text
    source: Text | None = None  # a subscription's name, or part of a path
    since: Since | None = None
    limit: Annotated[int, Meta(ge=1, le=1000)] = 50


@declare("subscriptions.list")
class ListSubscriptions(Request[Subscriptions]):
    pass


@declare("subscription.check")
class CheckSubscription(Request[CheckResults]):
    """Check one subscription (`name`), or all of them, now."""

    name: Text | None = None


@declare("subscription.add")
class AddSubscription(Request[SubscriptionAdded]):
    """Add a [[subscription]] to the config file (comments kept) and apply it."""

    url: Text
    name: Text | None = None  # none: the feed's title (sources/feeds.suggest_name)
    every: Text | None = None
    cron: Text | None = None
    backfill: Count | None = None
    since: Text | None = None
    kind: Literal["feed", "ytdlp"] | None = None
    transcripts: Literal["always-transcribe", "both"] | None = None
    # fetch the URL first and refuse what is neither a feed nor a page yt-dlp can list
    check: bool = True


@declare("subscription.remove")
class RemoveSubscription(Request[Reloaded]):
    name: Text


@declare("speakers.list")
class ListSpeakers(Request[Voices]):
    """The named voices."""


@declare("speaker.name")
class NameSpeaker(Request[SpeakerNamed]):
    """Name one speaker of a job's transcript (files and search too) and remember the voice."""

    id: JobId
    speaker: Text
    name: Text
    everywhere: bool = False  # the name holds in every job, not only the job's source


@declare("speaker.forget")
class ForgetSpeaker(Request[SpeakerForgotten]):
    name: Text


@declare("config.reload")
class ReloadConfig(Request[Reloaded]):
    """Re-read the config file and say what was applied and what needs a restart."""


@declare("media_servers.test")
class TestMediaServers(Request[MediaServerTests]):
    """Ask every [[media_server]] now: reachable, key accepted, its library folders and
    where each lies here."""


@declare("slots.list")
class ListSlots(Request[Slots]):
    pass


@declare("slot.drain")
class DrainSlot(Request[SlotResult]):
    """Give a slot no new jobs (drain=false: give it jobs again)."""

    name: Text
    drain: bool = True


def parse_params(kind: str, params: Any) -> Request[Any]:
    """The params of a `kind` request as its declared Struct, defaults filled in, or a
    ProtocolError that names the field and what it must be."""
    cls = REQUESTS[kind]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError("params must be a JSON object")
    fields = _fields(cls)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise ProtocolError(f"{kind} takes no parameter {unknown[0]!r} (it takes: {known})")
    given = {name: value for name, value in params.items() if value is not None}  # null: absent
    for name, field in fields.items():
        if name not in given:
            if field.required:
                raise ProtocolError(f"params.{name} is required: {field.expected}")
            continue
        try:
            msgspec.convert(given[name], field.type)
        except msgspec.ValidationError:
            raise ProtocolError(f"params.{name} must be {field.expected}") from None
    checked: Request[Any] = msgspec.convert(given, cls)
    return checked


@dataclass(frozen=True)
class Field:
    """One parameter as parse_params and docs/protocol.md read it from the Struct."""

    type: Any  # the annotation, with its Meta
    required: bool
    default: Any
    expected: str  # how a refusal names the value


_FIELDS: dict[type, dict[str, Field]] = {}


def _fields(cls: type[Request[Any]]) -> dict[str, Field]:
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls, include_extras=True)
        info = msgspec.structs.fields(cls)
        _FIELDS[cls] = {
            f.name: Field(
                hints[f.name],
                f.required,
                f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default,
                expected(hints[f.name]),
            )
            for f in info
        }
    return _FIELDS[cls]


def fields(cls: type[Request[Any]]) -> dict[str, Field]:
    """A request's parameters, in declaration order."""
    return _fields(cls)


def expected(annotation: Any) -> str:
    """How a refusal names what a field of this type must be: its Meta's description, or
    words for its type and bounds."""
    base, metas = _unwrap(annotation)
    for meta in metas:
        if meta.description:
            return str(meta.description)
    origin = typing.get_origin(base)
    if origin in (typing.Union, _UnionType):
        options = [a for a in typing.get_args(base) if a is not type(None)]
        return " or ".join(expected(a) for a in options)
    if origin is list:
        (item,) = typing.get_args(base)
        choices = _choices(item)
        words = "a list of strings"
        return words + (f" drawn from {', '.join(choices)}" if choices else "")
    choices = _choices(base)
    if choices:
        return f"a non-empty string drawn from {', '.join(choices)}"
    if base is bool:
        return "true or false"
    if base is int:
        low = next((m.ge for m in metas if m.ge is not None), 0)
        high = next((m.le for m in metas if m.le is not None), MAX_INT)
        return f"a whole number from {low} to {high}"
    if base is str:
        return "a non-empty string"
    return str(base)


_UnionType = type(int | None)


def _unwrap(annotation: Any) -> tuple[Any, list[Meta]]:
    if typing.get_origin(annotation) is Annotated:
        base, *extra = typing.get_args(annotation)
        return base, [m for m in extra if isinstance(m, Meta)]
    return annotation, []


def _choices(annotation: Any) -> tuple[str, ...]:
    base, _ = _unwrap(annotation)
    if typing.get_origin(base) is Literal:
        return tuple(str(a) for a in typing.get_args(base))
    if isinstance(base, type) and issubclass(base, Enum):
        return tuple(str(m.value) for m in base)
    return ()


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class EventKind(Generic[D]):
    """One kind of event: its wire name, the type of its data, and the topic that carries it
    (`subscribe` with topics=[...]). Declared once with `event_kind`, recorded in EVENTS;
    calling it with data makes an Event, which mypy checks against the declared type."""

    name: str
    data: type[D]
    topic: Topic
    doc: str = ""

    def __call__(self, data: D) -> Event[D]:
        """One event of this kind, to publish: `bus.publish(JOB_DELETED({"id": 7}))`."""
        return Event(self, data)

    def data_of(self, message: Message) -> D | None:
        """The data of `message` when it is this kind of event, else None."""
        if message.get("type") == "event" and message.get("event") == self.name:
            return typing.cast(D, message.get("data"))
        return None


@dataclass(frozen=True)
class Event(Generic[D]):
    """One event on its way to the subscribers of its kind's topic."""

    kind: EventKind[D]
    data: D


EVENTS: dict[str, EventKind[Any]] = {}


def event_kind(name: str, data: type[D], topic: Topic, doc: str = "") -> EventKind[D]:
    kind = EventKind(name, data, topic, doc)
    EVENTS[name] = kind
    return kind


JOB_ADDED = event_kind("job.added", JobView, "jobs", "a job was queued")
JOB_UPDATED = event_kind("job.updated", JobView, "jobs", "a job changed (state, priority, ...)")
JOB_DELETED = event_kind("job.deleted", JobDeleted, "jobs", "a finished job was forgotten")
JOB_PROGRESS = event_kind(
    "job.progress", Progress, "jobs", "a running job's progress (coalesced per job, no seq)"
)
JOB_SEGMENTS = event_kind(
    "job.segments", JobSegments, "jobs", "a running job's newly transcribed lines"
)
LOG = event_kind("log", LogEntry, "log", "a line of the daemon's log")
QUEUE = event_kind("queue", QueueState, "jobs", "the queue was paused or resumed")
SUBSCRIPTIONS = event_kind(
    "subscriptions", Subscriptions, "jobs", "the subscriptions changed (added, checked, ...)"
)


# ---------------------------------------------------------------- messages


class ErrorBody(TypedDict):
    code: str
    message: str
    hint: str


class Welcome(TypedDict):
    type: Literal["welcome"]
    protocol: int
    version: str
    pid: int


def _plain(value: Any) -> Any:
    """A value msgspec has no JSON type for: a number of another kind (numpy's float64,
    int64, float32, bool_, which the engines hand back) as the plain value; anything else as
    its str()."""
    item = getattr(value, "item", None)  # a numpy scalar's own Python value
    if callable(item) and isinstance(plain := item(), bool | int | float | str):
        return plain
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_plain)


def dumps(value: Any) -> bytes:
    """The one JSON encoder: socket lines, HTTP answers and events are written by it, compact
    and UTF-8 (msgspec: TypedDicts, Structs, enums, tuples and sets natively)."""
    return _ENCODER.encode(value)


def encode(message: Any) -> bytes:
    """One NDJSON line."""
    return _ENCODER.encode(message) + b"\n"


def decode(line: bytes) -> Message:
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    except RecursionError:
        raise ProtocolError("the JSON is nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def hello() -> Message:
    return {"type": "hello", "protocol": PROTOCOL_VERSION}


def welcome(version: str, pid: int) -> Welcome:
    return {"type": "welcome", "protocol": PROTOCOL_VERSION, "version": version, "pid": pid}


def request(msg_id: int, req: Request[Any]) -> Message:
    return {"id": msg_id, "type": req.KIND, "params": req.as_params()}


def ok(msg_id: Any, result: Any) -> Message:
    return {"id": msg_id, "ok": True, "result": result}


def error(msg_id: Any, code: str, message: str, hint: str = "") -> Message:
    body: ErrorBody = {"code": code, "message": message, "hint": hint}
    return {"id": msg_id, "ok": False, "error": body}


def event(name: str, data: Any, seq: int | None = None) -> Message:
    msg: Message = {"type": "event", "event": name, "data": data}
    if seq is not None:
        msg["seq"] = seq
    return msg


def unwrap(reply: Message) -> Any:
    """A reply's result, or the RemoteError it carries: the one place both clients (and
    anything else that reads replies) turn an answer into a value or an exception."""
    if reply.get("ok") is True:
        return reply.get("result")
    err = reply.get("error")
    if not isinstance(err, dict):
        raise ProtocolError(f"unexpected answer from the daemon: {_short(reply)}")
    code = str(err.get("code") or "error")
    message, hint = str(err.get("message") or "?"), str(err.get("hint") or "")
    raise RemoteError(code, message, hint)


def check_welcome(reply: Message) -> Welcome:
    """The daemon's answer to hello: its welcome, or the error it refused with. A hello this
    module wrote can only be refused with code "protocol" for its version."""
    if reply.get("type") != "welcome":
        try:
            unwrap(reply)
        except RemoteError as exc:
            if exc.code == ProtocolError.code:
                raise VersionMismatch(exc.message, exc.hint) from None
            raise  # forbidden: another user's daemon
        raise ProtocolError(f"unexpected greeting from the daemon: {_short(reply)}")
    check_version(reply.get("protocol"), "the daemon")
    return typing.cast(Welcome, reply)


def _short(message: Message) -> str:
    text = repr(message)
    return text if len(text) < 200 else text[:200] + "..."


def check_hello(message: Message) -> None:
    if message.get("type") != "hello":
        raise ProtocolError("expected a hello first", 'send {"type":"hello","protocol":1}')
    check_version(message.get("protocol"), "client")


def check_version(theirs: Any, who: str) -> None:
    if theirs != PROTOCOL_VERSION:
        raise VersionMismatch(
            f"protocol mismatch: {who} speaks {theirs!r}, this side speaks {PROTOCOL_VERSION}",
            "run the same earwig version for the daemon and the client (restart the daemon "
            "after an upgrade)",
        )


@dataclass(frozen=True)
class TooLong:
    """Stands in for a line that exceeded MAX_LINE; its bytes were discarded."""

    size: int


class LineBuffer:
    """Split a byte stream into lines, discarding (not buffering) any line over the limit.

    An oversized line yields one TooLong and the stream stays in sync: the reader skips to the
    next newline instead of dropping the connection.
    """

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._discarding = 0  # bytes of an oversized line skipped so far (0: not skipping)

    def feed(self, data: bytes) -> list[bytes | TooLong]:
        out: list[bytes | TooLong] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if self._discarding:
                if nl < 0:
                    self._discarding += len(self._buf)
                    self._buf.clear()
                    return out
                out.append(TooLong(self._discarding + nl))
                del self._buf[: nl + 1]
                self._discarding = 0
                continue
            if nl < 0:
                if len(self._buf) > self.limit:
                    self._discarding = len(self._buf)
                    self._buf.clear()
                return out
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if len(line) > self.limit:
                out.append(TooLong(len(line)))
            elif line.strip():
                out.append(line)
