"""The wire protocol between the daemon and its clients (CLI, TUI): NDJSON over a Unix socket.

One JSON object per line, at most MAX_LINE bytes. A connection starts with
    -> {"type": "hello", "protocol": 1}       <- {"type": "welcome", "protocol": 1, "version": ...}
then carries requests and responses matched by id
    -> {"id": 7, "type": "job.add", "params": {...}}
    <- {"id": 7, "ok": true, "result": {...}}  or  {"id": 7, "ok": false, "error": {...}}
and, after a "subscribe" request, events
    <- {"type": "event", "seq": N, "event": "job.updated", "data": {...}}
`seq` counts per connection; a gap means events were dropped for a slow reader and the client
should ask for a fresh snapshot. Progress events carry no seq: they are coalesced per job.

This module is pure (no sockets), so the daemon, the clients and the tests share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from earwig.errors import ProtocolError
from earwig.model import JobState

PROTOCOL_VERSION = 1
MAX_LINE = 1024 * 1024

MAX_INT = 2**63 - 1  # SQLite's largest integer


@dataclass(frozen=True)
class Param:
    """One request parameter, declared once: the daemon checks every request against it
    before a handler runs, and a client reads here what it may send."""

    kind: str  # "int", "str", "bool", "strs" (a list of strings)
    default: Any = None
    required: bool = False
    low: int = 0
    high: int = MAX_INT
    choices: tuple[str, ...] | None = None
    what: str = ""  # how the error names the expected value

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            if self.required:
                raise ProtocolError(f"params.{name} is required: {self.expected}")
            return self.default
        ok = {
            "int": isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high,
            "str": isinstance(value, str) and value.strip() != "",
            "bool": isinstance(value, bool),
            "strs": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[self.kind]
        if ok and self.choices is not None:
            items = value if isinstance(value, list) else [value]
            ok = all(v in self.choices for v in items)
        if not ok:
            raise ProtocolError(f"params.{name} must be {self.expected}")
        return value

    @property
    def expected(self) -> str:
        if self.what:
            return self.what
        return {
            "int": f"a whole number from {self.low} to {self.high}",
            "str": "a non-empty string",
            "bool": "true or false",
            "strs": "a list of strings",
        }[self.kind] + (f" drawn from {', '.join(self.choices)}" if self.choices else "")


def _id() -> Param:
    return Param("int", required=True, low=1, what="a job id (a positive integer)")


def _limit(default: int, high: int) -> Param:
    return Param("int", default, low=1, high=high)


STATES = tuple(str(state) for state in JobState)
# Every request and its parameters: the one declaration the daemon validates against.
REQUESTS: dict[str, dict[str, Param]] = {
    "status": {},
    "jobs.list": {
        "states": Param("strs", choices=STATES),
        "limit": _limit(500, 1000),
        "offset": Param("int", 0),
        "warnings": Param("bool", False),
    },
    "job.get": {"id": _id(), "transcript": Param("bool", False)},
    "job.add": {
        "paths": Param("strs", required=True, what="a non-empty list of paths or URLs"),
        "force": Param("bool", False),
    },
    "job.pause": {"id": _id()},
    "job.resume": {"id": _id()},
    "job.cancel": {"id": _id()},
    "job.retry": {"id": _id(), "model": Param("str", what="a model name or path")},
    "job.prioritize": {"id": _id()},
    "job.delete": {"id": _id()},
    "queue.pause": {},
    "queue.resume": {},
    "logs.tail": {"limit": _limit(100, 10000)},
    "subscribe": {
        "topics": Param("strs", ["jobs"], choices=("jobs", "log")),
        "limit": _limit(500, 1000),
        "log_limit": _limit(50, 10000),
    },
    "search": {
        "query": Param("str", required=True),
        "source": Param("str"),
        "since": Param("str", what="a date like 2026-11-01, or an age like 7d"),
        "limit": _limit(50, 1000),
    },
    "subscriptions.list": {},
    "subscription.check": {"name": Param("str")},
    "subscription.add": {
        "name": Param("str"),  # none: the feed's title (sources/feeds.suggest_name)
        "url": Param("str", required=True),
        "every": Param("str"),
        "cron": Param("str"),
        "backfill": Param("int"),
        "since": Param("str"),
        "kind": Param("str", choices=("feed", "ytdlp")),
        "transcripts": Param("str", choices=("always-transcribe", "both")),
    },
    "subscription.remove": {"name": Param("str", required=True)},
    "speakers.list": {},
    "speaker.name": {
        "id": _id(),
        "speaker": Param("str", required=True),
        "name": Param("str", required=True),
        "everywhere": Param("bool", False),
    },
    "speaker.forget": {"name": Param("str", required=True)},
    "config.reload": {},
    "slots.list": {},
    "slot.drain": {"name": Param("str", required=True), "drain": Param("bool", True)},
}


def check_params(kind: str, params: Any) -> dict[str, Any]:
    """The params of a `kind` request, checked against REQUESTS, with defaults filled in."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError("params must be a JSON object")
    declared = REQUESTS[kind]
    unknown = sorted(set(params) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise ProtocolError(f"{kind} takes no parameter {unknown[0]!r} (it takes: {known})")
    checked = {name: p.check(name, params.get(name)) for name, p in declared.items()}
    if kind == "job.add" and not checked["paths"]:
        raise ProtocolError("params.paths must be a non-empty list of paths or URLs")
    return checked


EVENT_JOB_ADDED = "job.added"
EVENT_JOB_UPDATED = "job.updated"
EVENT_JOB_DELETED = "job.deleted"
EVENT_JOB_PROGRESS = "job.progress"
# {"id", "segments": [{"start", "end", "text", "speaker"}]}: lines of a running job's
# transcript as the engine finishes them, on the file's clock, each sent once
EVENT_JOB_SEGMENTS = "job.segments"
EVENT_LOG = "log"
EVENT_QUEUE = "queue"
EVENT_SUBSCRIPTIONS = "subscriptions"


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    except RecursionError:
        raise ProtocolError("the JSON is nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def hello() -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION}


def welcome(version: str, pid: int) -> dict[str, Any]:
    return {"type": "welcome", "protocol": PROTOCOL_VERSION, "version": version, "pid": pid}


def request(msg_id: int, kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": msg_id, "type": kind, "params": params or {}}


def ok(msg_id: Any, result: Any) -> dict[str, Any]:
    return {"id": msg_id, "ok": True, "result": result}


def error(msg_id: Any, code: str, message: str, hint: str = "") -> dict[str, Any]:
    return {"id": msg_id, "ok": False, "error": {"code": code, "message": message, "hint": hint}}


def event(name: str, data: dict[str, Any], seq: int | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "event", "event": name, "data": data}
    if seq is not None:
        msg["seq"] = seq
    return msg


def check_hello(message: dict[str, Any]) -> None:
    if message.get("type") != "hello":
        raise ProtocolError("expected a hello first", 'send {"type":"hello","protocol":1}')
    check_version(message.get("protocol"), "client")


def check_version(theirs: Any, who: str) -> None:
    if theirs != PROTOCOL_VERSION:
        raise ProtocolError(
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
