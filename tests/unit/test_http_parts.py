"""The HTTP server's pure parts: the streaming multipart parser, the guard (Host, Origin,
token, trust, login), [http] config, and /api's derivation from the socket protocol."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from earwig import config, protocol
from earwig.config import HttpConfig
from earwig.errors import ConfigError
from earwig.web import rest
from earwig.web.guard import COOKIE, Guard
from earwig.web.uploads import UploadError, read_form

BOUNDARY = "----earwigtest"


def body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks_of(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def parse(data: bytes, tmp: Path, size: int = 7, limit: int = 10**9, **kw: Any):
    ctype = f"multipart/form-data; boundary={BOUNDARY}"
    return asyncio.run(read_form(chunks_of(data, size), ctype, tmp, limit, **kw))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 17, 64, 100000])
def test_multipart_parts_survive_any_chunking(tmp_path: Path, size: int) -> None:
    audio = bytes(range(256)) * 40 + b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r\n"  # near-miss
    data = body(
        [
            ("model", None, b"whisper-1"),
            ("file", "a b/../c.mp3", audio),
            ("timestamp_granularities[]", None, b"word"),
            ("timestamp_granularities[]", None, b"segment"),
        ]
    )
    form = parse(data, tmp_path, size)
    assert form.get("model") == "whisper-1"
    assert form.getall("timestamp_granularities[]") == ["word", "segment"]
    saved = form.file("file")
    assert saved is not None and saved.path.read_bytes() == audio
    assert saved.sha256 == hashlib.sha256(audio).hexdigest()
    assert saved.path.name == "c.mp3"  # no path from the client reaches the disk


def test_raw_pcm_gets_a_wav_header(tmp_path: Path) -> None:
    import wave

    pcm = b"\x01\x00\xff\x7f" * 8000  # 16000 samples: one second
    form = parse(body([("audio_file", "audio_file", pcm)]), tmp_path, 4096, raw_pcm=lambda f: True)
    saved = form.file("audio_file")
    assert saved is not None
    with wave.open(str(saved.path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() == 16000 and w.readframes(16000) == pcm


def test_limit_stops_reading_and_removes_the_files(tmp_path: Path) -> None:
    data = body([("file", "big.wav", b"x" * 5000)])
    with pytest.raises(UploadError) as err:
        parse(data, tmp_path / "cache", 100, limit=4000)
    assert err.value.status == 413
    assert not any((tmp_path / "cache").rglob("*"))  # the part already written is gone too


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"no boundary anywhere",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx".encode(),
        f"--{BOUNDARY}XX".encode(),
        body([("file", "a.wav", b"abc")])[:-10],
    ],
)
def test_garbage_multipart_is_a_400(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UploadError) as err:
        parse(data, tmp_path)
    assert err.value.status == 400 and err.value.code == "bad_multipart"


def test_not_multipart_is_a_400(tmp_path: Path) -> None:
    with pytest.raises(UploadError) as err:
        asyncio.run(read_form(chunks_of(b"{}", 2), "application/json", tmp_path, 100))
    assert err.value.code == "not_multipart"


# ---------------------------------------------------------------- the guard

TOKEN = "s3cret-token"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def call(
    path: str = "/api/status",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    client: str = "127.0.0.1",
    settings: HttpConfig | None = None,
    query: str = "",
) -> tuple[int, dict[str, str], bytes]:
    guard = Guard(_app, lambda: settings or HttpConfig(), TOKEN, lambda: "127.0.0.1")
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (client, 40000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    start = sent[0]
    head = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], head, b"".join(m.get("body", b"") for m in sent[1:])


HOST = {"Host": "127.0.0.1:8327"}
AUTH = {**HOST, "Authorization": f"Bearer {TOKEN}"}


def test_token_is_needed_except_for_the_page() -> None:
    status, head, data = call(headers=HOST)
    assert status == 401 and b'"unauthorized"' in data and head["www-authenticate"] == "Bearer"
    assert call(headers={**HOST, "Authorization": "Bearer wrong"})[0] == 401
    assert call(headers=AUTH)[0] == 200
    assert call(headers={**HOST, "Cookie": f"{COOKIE}={TOKEN}"})[0] == 200
    for public in ("/", "/jobs/3", "/static/app.js"):
        assert call(public, headers=HOST)[0] == 200


def test_trusted_networks_need_no_token() -> None:
    lan = HttpConfig(trust=("192.168.1.0/24",))
    assert call(headers=HOST, client="192.168.1.40", settings=lan)[0] == 200
    assert call(headers=HOST, client="::ffff:192.168.1.40", settings=lan)[0] == 200
    assert call(headers=HOST, client="192.168.2.40", settings=lan)[0] == 401
    assert call(headers=HOST, client="127.0.0.1", settings=lan)[0] == 401  # loopback: shared


def test_token_in_the_path_for_base_url_clients() -> None:
    status, _, data = call(f"/t/{TOKEN}/asr", "POST", headers=HOST)
    assert (status, data) == (200, b"/asr")
    assert call("/t/nope/asr", "POST", headers=HOST)[0] == 401


def test_host_header_must_name_this_server() -> None:
    assert call(headers={**AUTH, "Host": "evil.example:8327"})[0] == 403
    assert call(headers={**AUTH, "Host": "localhost:8327"})[0] == 200
    assert call(headers={**AUTH, "Host": "192.168.1.9:8327"})[0] == 200  # an address: no rebinding
    assert call(headers={**AUTH, "Host": "[::1]:8327"})[0] == 200
    named = HttpConfig(hosts=("earwig.lan",))
    assert call(headers={**AUTH, "Host": "earwig.lan:8327"}, settings=named)[0] == 200


def test_cross_origin_changes_are_refused() -> None:
    evil = {**AUTH, "Origin": "http://evil.example"}
    assert call("/api/queue/pause", "POST", headers=evil)[0] == 403
    assert call("/api/status", "GET", headers=evil)[0] == 200  # reads are the token's business
    same = {**AUTH, "Origin": "http://127.0.0.1:8327"}
    assert call("/api/queue/pause", "POST", headers=same)[0] == 200
    assert call("/api/queue/pause", "POST", headers=AUTH)[0] == 200  # no Origin: not a browser


def test_cors_only_for_listed_origins() -> None:
    app = HttpConfig(cors=("https://app.example",))
    origin = {**AUTH, "Origin": "https://app.example"}
    status, head, _ = call("/api/queue/pause", "POST", headers=origin, settings=app)
    assert status == 200 and head["access-control-allow-origin"] == "https://app.example"
    pre = {**HOST, "Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert call("/api/jobs", "OPTIONS", headers=pre, settings=app)[0] == 204
    _, head, _ = call(headers={**AUTH, "Origin": "https://other.example"})
    assert "access-control-allow-origin" not in head


def test_login_link_sets_the_cookie_and_drops_the_token_from_the_url() -> None:
    status, head, _ = call("/", headers=HOST, query=f"token={TOKEN}")
    assert status == 303 and head["location"] == "/"
    cookie = head["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert call("/", headers=HOST, query="token=wrong")[0] == 401


# ---------------------------------------------------------------- config and derivation


def test_http_config(tmp_path: Path) -> None:
    cfg = config.parse({}).http
    assert cfg.listen == f"127.0.0.1:{config.DEFAULT_PORT}" and cfg.max_upload == 2 * 10**9
    assert config.DEFAULT_PORT not in (8000, 8080, 8765, 8786, 9000)
    parsed = config.parse({"http": {"listen": "", "max_upload": "500MB", "keep": False}}).http
    assert (parsed.listen, parsed.max_upload, parsed.keep) == ("", 500 * 10**6, False)
    assert config.split_listen("[::1]:0") == ("::1", 0)
    for bad in ({"listen": "8327"}, {"trust": ["x"]}, {"max_upload": "lots"}, {"lisen": ""}):
        with pytest.raises(ConfigError):
            config.parse({"http": bad})


def test_every_socket_request_is_reachable_over_http() -> None:
    routed = {r.kind for r in rest.ROUTES} | rest.NOT_ROUTED | {"job.add"}  # POST /api/jobs
    assert set(protocol.REQUESTS) <= routed, set(protocol.REQUESTS) - routed
    for r in rest.ROUTES:
        declared = rest.declared(r.kind)
        names = {*rest._path_names(r.path), *r.query.values(), *r.fixed}
        assert names <= set(declared), (r.path, names - set(declared))


def test_query_values_take_the_declared_kind() -> None:
    jobs = next(r for r in rest.ROUTES if r.kind == "jobs.list")
    params = rest.params_for(
        jobs, {}, {"state": ["done", "failed"], "limit": ["5"], "warnings": ["true"]}, b""
    )
    assert params == {"states": ["done", "failed"], "limit": 5, "warnings": True}
    assert protocol.parse_params("jobs.list", params).limit == 5  # type: ignore[attr-defined]
    search = next(r for r in rest.ROUTES if r.kind == "search")
    assert rest.params_for(search, {}, {"q": ["budget"], "limit": ["3"]}, b"") == {
        "query": "budget",
        "limit": 3,
    }
    with pytest.raises(rest.BadRequest):
        rest.params_for(jobs, {}, {"limit": ["many"]}, b"")
    with pytest.raises(rest.BadRequest):
        rest.params_for(jobs, {}, {"colour": ["red"]}, b"")


def test_answers_are_not_held_back_by_nagle() -> None:
    """The listening socket says TCP, so asyncio sets TCP_NODELAY on every connection it
    accepts; without it each keep-alive answer waited ~40 ms for the client's delayed ACK
    (the latency itself is a figure in bench/http_api.py)."""
    import socket

    from earwig.web.server import bind_tcp

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listening = bind_tcp("127.0.0.1", 0)
        server = await asyncio.start_server(on_client, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0


@pytest.mark.parametrize(
    ("host", "port", "said"),
    [
        (
            "0.0.0.0",
            8327,
            "HTTP on every address, port 8327 (from this machine: http://127.0.0.1:8327/)",
        ),
        ("::", 8327, "HTTP on every address, port 8327 (from this machine: http://[::1]:8327/)"),
        ("127.0.0.1", 4000, "HTTP on http://127.0.0.1:4000/ ("),
    ],
)
def test_the_log_says_where_http_listens(host: str, port: int, said: str) -> None:
    """A container's daemon listens on 0.0.0.0: its log must not read as loopback only."""
    from earwig.web.server import listening_line

    assert listening_line(host, port).startswith(said)
