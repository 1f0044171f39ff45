"""Wire format: framing, oversized lines, handshake checks."""

from __future__ import annotations

import re

import pytest

from earwig import protocol
from earwig.errors import ProtocolError


def test_encode_decode_round_trip() -> None:
    msg = protocol.request(3, "job.get", {"id": 7, "title": "Grüße ✓"})
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


def test_every_documented_request_has_a_handler() -> None:
    from earwig.daemon.handlers import HANDLERS

    assert set(HANDLERS) == set(protocol.REQUESTS)


def test_the_architecture_lists_exactly_the_requests_there_are() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text()
    section = doc.split("## The socket protocol", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z]+(?:\.[a-z]+)?)`", section.split("Requests:", 1)[1]))
    assert set(protocol.REQUESTS) <= listed, set(protocol.REQUESTS) - listed
    assert listed - set(protocol.REQUESTS) <= {"jobs", "log"}  # the topics of `subscribe`


def test_every_request_a_client_sends_uses_declared_parameters() -> None:
    """The CLI and the dashboard send only what protocol.REQUESTS declares (the daemon
    refuses anything else), found by reading their source."""
    from pathlib import Path

    src = Path(__file__).parents[2] / "src" / "earwig"
    calls = re.findall(
        r'call\(\s*"([a-z.]+)"((?:, *\w+=)[^)]*)?\)',
        "".join(p.read_text() for p in src.rglob("*.py")),
    )
    assert len(calls) > 15
    for kind, args in calls:
        assert kind in protocol.REQUESTS, kind
        for key in re.findall(r"(\w+)=", args or ""):
            assert key in protocol.REQUESTS[kind], (kind, key)


@pytest.mark.parametrize(
    ("kind", "params", "complaint"),
    [
        ("job.get", {}, "params.id is required"),
        ("job.get", {"id": 0}, "params.id must be a job id"),
        ("job.get", {"id": True}, "params.id must be a job id"),
        ("jobs.list", {"limit": 0}, "params.limit must be a whole number from 1 to 1000"),
        ("jobs.list", {"states": ["bogus"]}, "drawn from queued"),
        ("job.add", {"paths": []}, "non-empty list"),
        ("job.add", {"paths": ["/a"], "force": "yes"}, "params.force must be true or false"),
        ("status", {"verbose": True}, "status takes no parameter 'verbose'"),
        ("subscribe", {"topics": ["secrets"]}, "drawn from jobs, log"),
    ],
)
def test_params_are_checked_against_their_declaration(kind, params, complaint) -> None:
    with pytest.raises(ProtocolError, match=re.escape(complaint)):
        protocol.check_params(kind, params)


def test_checked_params_get_their_defaults() -> None:
    assert protocol.check_params("jobs.list", {}) == {
        "states": None,
        "limit": 500,
        "offset": 0,
        "warnings": False,
    }
