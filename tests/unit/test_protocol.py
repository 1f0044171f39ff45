"""Wire format: framing, oversized lines, handshake checks."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from earwig import protocol
from earwig.errors import ProtocolError, RemoteError, VersionMismatch
from earwig.model import JobState

ROOT = Path(__file__).parents[2]


def test_encode_decode_round_trip() -> None:
    msg = {"id": 3, "type": "job.get", "params": {"id": 7, "title": "Grüße ✓"}}
    line = protocol.encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert protocol.decode(line.rstrip(b"\n")) == msg


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"hello"'])
def test_decode_rejects_what_is_not_an_object(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode(raw)


def test_line_buffer_reassembles_split_lines() -> None:
    buf = protocol.LineBuffer(limit=100)
    assert buf.feed(b'{"a":') == []
    assert buf.feed(b'1}\n{"b":2}\n\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert buf.feed(b":3}\n") == [b'{"c":3}']


def test_oversized_line_is_reported_once_and_the_stream_stays_in_sync() -> None:
    buf = protocol.LineBuffer(limit=10)
    out = buf.feed(b"x" * 25)  # no newline yet: already over the limit
    assert out == []
    out = buf.feed(b"y" * 5 + b'\n{"ok":1}\n')
    assert out == [protocol.TooLong(30), b'{"ok":1}']


def test_oversized_line_within_one_chunk() -> None:
    buf = protocol.LineBuffer(limit=4)
    assert buf.feed(b"123456\n12\n") == [protocol.TooLong(6), b"12"]


def test_hello_must_come_first_with_the_same_version() -> None:
    protocol.check_hello(protocol.hello())
    with pytest.raises(ProtocolError, match="expected a hello"):
        protocol.check_hello({"type": "status"})
    with pytest.raises(ProtocolError, match="mismatch") as info:
        protocol.check_hello({"type": "hello", "protocol": 99})
    assert "99" in info.value.message and str(protocol.PROTOCOL_VERSION) in info.value.message


def test_every_declared_request_has_a_handler_and_every_handler_a_declaration() -> None:
    from earwig.daemon.handlers import HANDLERS

    assert set(HANDLERS) == set(protocol.REQUESTS)


def test_each_handler_takes_its_requests_params_and_answers_its_declared_result() -> None:
    """mypy checks each handler's body against its annotations; this holds the annotations to
    the declarations (`handles(GetJob)` on a function annotated for another request fails)."""
    from earwig.daemon import bus, handlers

    names = {**vars(handlers), "Outbox": bus.Outbox}  # imported there for the checker only
    for kind, handler in handlers.HANDLERS.items():
        hints = typing.get_type_hints(handler, names)
        declared = protocol.REQUESTS[kind]
        assert hints["params"] is declared, (kind, hints["params"])
        assert hints["return"] is declared.RESULT, (kind, hints["return"])


def test_a_job_view_declares_every_field_of_a_job() -> None:
    """JobView is the wire shape of model.Job: a field added to Job must be declared."""
    import dataclasses

    from earwig.model import Job

    declared = protocol.JobView.__required_keys__ | protocol.JobView.__optional_keys__
    fields = {f.name for f in dataclasses.fields(Job)}
    assert declared - fields == {"progress", "waiting"}
    assert fields <= declared, fields - declared


def test_docs_protocol_md_is_current() -> None:
    import importlib.util

    script = ROOT / "scripts" / "protocol_reference.py"
    spec = importlib.util.spec_from_file_location("protocol_reference", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "protocol.md").read_text()
    assert current == module.render(), (
        "docs/protocol.md is stale: run scripts/protocol_reference.py"
    )


def test_a_refusal_is_a_remote_error_and_a_refused_hello_a_version_mismatch() -> None:
    with pytest.raises(RemoteError) as info:
        protocol.unwrap(protocol.error(3, "not_found", "no job 3", "see earwig jobs"))
    assert (info.value.code, info.value.message, info.value.hint) == (
        "not_found",
        "no job 3",
        "see earwig jobs",
    )
    assert protocol.unwrap(protocol.ok(3, {"deleted": 3})) == {"deleted": 3}
    refusal = protocol.error(None, "protocol", "protocol mismatch: client speaks 2, ...", "")
    with pytest.raises(VersionMismatch):
        protocol.check_welcome(refusal)
    with pytest.raises(RemoteError) as info:
        protocol.check_welcome(protocol.error(None, "forbidden", "another user's daemon"))
    assert not isinstance(info.value, VersionMismatch) and info.value.code == "forbidden"
    welcome = protocol.welcome("1.0", 42)
    assert protocol.check_welcome(dict(welcome)) == welcome
    with pytest.raises(VersionMismatch):
        protocol.check_welcome({**welcome, "protocol": 99})


@pytest.mark.parametrize(
    ("kind", "params", "complaint"),
    [
        ("job.get", {}, "params.id is required: a job id (a positive integer)"),
        ("job.get", {"id": 0}, "params.id must be a job id"),
        ("job.get", {"id": True}, "params.id must be a job id"),
        ("job.get", {"id": "7"}, "params.id must be a job id"),
        ("job.get", {"id": 2**63}, "params.id must be a job id"),
        ("jobs.list", {"limit": 0}, "params.limit must be a whole number from 1 to 1000"),
        ("jobs.list", {"states": ["bogus"]}, "drawn from queued"),
        ("jobs.list", {"states": "done"}, "params.states must be a list of strings"),
        ("job.add", {"paths": []}, "params.paths must be a non-empty list of paths or URLs"),
        ("job.add", {}, "params.paths is required: a non-empty list of paths or URLs"),
        ("job.add", {"paths": ["/a"], "force": "yes"}, "params.force must be true or false"),
        ("status", {"verbose": True}, "status takes no parameter 'verbose' (it takes: none)"),
        (
            "job.get",
            {"id": 1, "ID": 1},
            "job.get takes no parameter 'ID' (it takes: id, transcript)",
        ),
        ("subscribe", {"topics": ["secrets"]}, "drawn from jobs, log"),
        ("search", {"query": "  "}, "params.query must be a non-empty string"),
        ("subscription.add", {"url": "u", "kind": "x"}, "drawn from feed, ytdlp"),
        ("logs.tail", [], "params must be a JSON object"),
    ],
)
def test_params_are_checked_against_their_declaration(kind, params, complaint) -> None:
    with pytest.raises(ProtocolError, match=re.escape(complaint)):
        protocol.parse_params(kind, params)


def test_parsed_params_get_their_defaults_and_null_counts_as_not_sent() -> None:
    parsed = protocol.parse_params("jobs.list", {"limit": None})
    assert parsed == protocol.ListJobs(states=None, limit=500, offset=0, warnings=False)
    assert protocol.parse_params("subscribe", None) == protocol.Subscribe(topics=["jobs"])
    listed = protocol.parse_params("jobs.list", {"states": ["done"]})
    assert isinstance(listed, protocol.ListJobs) and listed.states == [JobState.DONE]


def test_a_request_travels_as_the_json_a_client_of_the_previous_version_sent() -> None:
    """What the typed clients send is today's JSON: defaults left out, the daemon fills them."""
    assert protocol.request(4, protocol.GetStatus()) == {"id": 4, "type": "status", "params": {}}
    message = protocol.request(5, protocol.ListJobs(states=[JobState.DONE], limit=7))
    assert protocol.encode(message) == (
        b'{"id":5,"type":"jobs.list","params":{"states":["done"],"limit":7}}\n'
    )
    added = protocol.request(6, protocol.AddSubscription(url="http://x/feed", backfill=3))
    assert added["params"] == {"url": "http://x/feed", "backfill": 3}


def test_an_event_is_published_as_its_kind_says() -> None:
    event = protocol.JOB_DELETED({"id": 7})
    assert (event.kind.name, event.kind.topic, event.data) == ("job.deleted", "jobs", {"id": 7})
    message = protocol.event(event.kind.name, event.data, 3)
    assert protocol.JOB_DELETED.data_of(message) == {"id": 7}
    assert protocol.JOB_UPDATED.data_of(message) is None
    assert set(protocol.EVENTS) == {
        "job.added",
        "job.updated",
        "job.deleted",
        "job.progress",
        "job.segments",
        "log",
        "queue",
        "subscriptions",
    }


def test_every_declaration_has_a_json_schema() -> None:
    """What the HTTP API's OpenAPI is built from: each request's params, each result, each
    event's data, as msgspec reads them."""
    import msgspec

    types: list[object] = [*protocol.REQUESTS.values()]
    types += [cls.RESULT for cls in protocol.REQUESTS.values()]
    types += [kind.data for kind in protocol.EVENTS.values()]
    _, components = msgspec.json.schema_components(types)
    get_job = components["GetJob"]
    assert get_job["required"] == ["id"] and get_job["additionalProperties"] is False
    assert get_job["properties"]["id"]["minimum"] == 1
    assert "state" in components["JobView"]["required"]


def test_the_one_encoder_writes_numbers_of_any_kind_as_numbers() -> None:
    """The engines hand back numpy's scalars (a progress fraction, a probability): they go
    out as JSON numbers and booleans, never as strings; what JSON has no type for, as text."""
    import json
    from pathlib import Path

    import numpy as np

    doc = {
        "f64": np.float64(0.5),
        "f32": np.float32(0.25),
        "i64": np.int64(3),
        "yes": np.bool_(True),
        "path": Path("/x"),
        "text": "é",
    }
    assert json.loads(protocol.dumps(doc)) == {
        "f64": 0.5,
        "f32": 0.25,
        "i64": 3,
        "yes": True,
        "path": "/x",
        "text": "é",
    }
    assert protocol.encode({"a": 1}) == b'{"a":1}\n'
