"""Writes docs/protocol.md, the socket protocol's reference, from the declarations in
src/earwig/protocol.py (REQUESTS, EVENTS and the result types), so the reference cannot say
what the daemon does not do: `python scripts/protocol_reference.py` after changing a request
(tests/unit/test_protocol.py fails while docs/protocol.md is stale; `--check` says so
without writing)."""

from __future__ import annotations

import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from earwig import protocol

TARGET = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"

PREAMBLE = f"""\
# The socket protocol

Generated from `src/earwig/protocol.py` by `python scripts/protocol_reference.py`: do not edit
by hand (`tests/unit/test_protocol.py` fails when this file is out of date).

The daemon listens on a Unix socket (`earwig status` names it; 0600, in a 0700 folder, and
only its own user is answered). One JSON object per line, UTF-8, at most {protocol.MAX_LINE}
bytes. A client sends `{{"type":"hello","protocol":{protocol.PROTOCOL_VERSION}}}` and gets
`{{"type":"welcome","protocol":{protocol.PROTOCOL_VERSION},"version":...,"pid":...}}`, or an
error and a hang-up when the protocol versions differ. Then each request
`{{"id":7,"type":"job.add","params":{{...}}}}` gets `{{"id":7,"ok":true,"result":...}}` or
`{{"id":7,"ok":false,"error":{{"code":...,"message":...,"hint":...}}}}`. A parameter that is
missing, of the wrong type, out of range or unknown is refused with a message naming it; a
parameter sent as `null` counts as not sent. A line that is not JSON, or too long, gets an
error reply and the connection goes on.

After `subscribe`, events arrive on the same connection:
`{{"type":"event","seq":N,"event":"job.updated","data":...}}`. `seq` counts per connection; a
gap means events were dropped for a slow reader: ask for a new snapshot. `job.progress`
events are coalesced per job and carry no `seq`.

Clients in Python: `earwig.client.DaemonClient` (blocking) and `AsyncDaemonClient` (asyncio):
`client.call(protocol.GetJob(id=7))["job"]["state"]`, typed for mypy. Both raise the same
exception for the same failure (`earwig.errors`):

| what happened | exception |
|---|---|
| no socket, or nobody listens on it | `DaemonNotRunning` |
| the socket is another user's (EACCES) | `DaemonNotAllowed` (a `DaemonNotRunning`) |
| it accepts but does not answer in time, or its backlog is full | `DaemonNotAnswering` |
| the daemon speaks another protocol version | `VersionMismatch` (a `ProtocolError`) |
| the daemon refused the request (`ok: false`) | `RemoteError`, with its `code` |
| `DaemonClient.events(timeout)` saw no event for that long | `earwig.client.NoEvent` |

A new request is one `@declare("name")` Struct and one `@handles(Struct)` handler in
`daemon/handlers.py`; a new event is one `event_kind("name", DataType, "topic")` line and
its data's TypedDict. Run this script after either.
"""


def render() -> str:
    out = [PREAMBLE, "## Requests\n"]
    for kind, cls in protocol.REQUESTS.items():
        out.append(f"### `{kind}`\n")
        doc = " ".join((cls.__doc__ or "").split())
        if doc:
            out.append(doc + "\n")
        params = protocol.fields(cls)
        if params:
            out.append("| parameter | value | default |\n|---|---|---|")
            for name, field in params.items():
                default = "required" if field.required else _json(field.default)
                out.append(f"| `{name}` | {field.expected} | {default} |")
            out.append("")
        else:
            out.append("No parameters.\n")
        out.append(f"Result: {_type(cls.RESULT)}.\n")
    out.append("## Events\n")
    out.append("| event | topic | data | what happened |\n|---|---|---|---|")
    for name, kind in protocol.EVENTS.items():
        out.append(f"| `{name}` | `{kind.topic}` | {_type(kind.data)} | {kind.doc} |")
    out.append("\n## Types\n")
    for td in _typed_dicts():
        out.append(f"### {td.__name__}\n")
        doc = " ".join((td.__doc__ or "").split())
        if doc and not doc.startswith(td.__name__ + "("):
            out.append(doc + "\n")
        hints = typing.get_type_hints(td)
        out.append("| key | value |\n|---|---|")
        for key, annotation in hints.items():
            optional = " (only sometimes there)" if key in td.__optional_keys__ else ""
            out.append(f"| `{key}` | {_type(annotation)}{optional} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _typed_dicts() -> list[Any]:
    """Every TypedDict a request's result or an event's data reaches, in first-use order."""
    seen: list[Any] = []

    def visit(annotation: Any) -> None:
        if typing.is_typeddict(annotation):
            if annotation in seen:
                return
            seen.append(annotation)
            for value in typing.get_type_hints(annotation).values():
                visit(value)
        for arg in typing.get_args(annotation):
            visit(arg)

    for cls in protocol.REQUESTS.values():
        visit(cls.RESULT)
    for kind in protocol.EVENTS.values():
        visit(kind.data)
    return seen


def _type(annotation: Any) -> str:
    if typing.is_typeddict(annotation):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return "object" if args[1] is Any else f"object of {_type(args[1])}"
    if origin is Literal:
        return " or ".join(_json(a) for a in args)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(_type(a) for a in rest) + " or null"
    if args:
        return " or ".join(_type(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " or ".join(_json(m.value) for m in annotation)
    names = {str: "string", int: "integer", float: "number", bool: "true or false"}
    return names.get(annotation, "any JSON" if annotation is Any else str(annotation))


def _json(value: Any) -> str:
    import json

    return f"`{json.dumps(value)}`"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            sys.exit(f"{TARGET} is stale: run python scripts/protocol_reference.py")
    else:
        TARGET.write_text(text)
