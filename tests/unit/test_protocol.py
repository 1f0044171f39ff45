"""Wire format: framing, oversized lines, handshake checks."""

from __future__ import annotations

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

    assert set(HANDLERS) == protocol.REQUESTS
