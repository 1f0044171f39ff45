"""The HTTP server under what a hostile or broken client sends (issue 41, items 2 to 9): a
spoofed X-Forwarded-For, malformed Host headers, huge and deep JSON, names of 4 KB, a 1-byte
PCM body, 1,100 connections that send their headers a byte at a time, 500 event-stream
clients that never read, the descriptor limit, and kill -9 with uploads in flight. Always a
real daemon, real uvicorn, raw sockets or httpx on 127.0.0.x; load is bounded in count and
time, and the test process raises its own descriptor limit first (or skips, saying why)."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Home
from earwig import protocol as p
from earwig.client import DaemonClient
from helpers import DaemonProcess, wait_for

FLOOD = 1100
SOURCES = [f"127.0.0.{i}" for i in range(2, 22)]  # 20 addresses: 55 connections each


def need_descriptors(count: int) -> None:
    """Raise this process's soft descriptor limit to its hard one; skip when even that is
    too low for `count` sockets (the test must not fail for the machine's settings)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} descriptors; this process may have {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class Site:
    def __init__(self, daemon: DaemonProcess, home: Home) -> None:
        info = daemon.http()
        self.daemon = daemon
        self.home = home
        self.url = info["url"].rstrip("/")
        self.host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.token = info["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.client = httpx.Client(base_url=self.url, headers=self.auth, timeout=60)

    def raw(self, request: bytes, source: str = "127.0.0.1", timeout: float = 30) -> bytes:
        """One request as bytes on a fresh connection; the whole answer."""
        with socket.create_connection((self.host, self.port), timeout, (source, 0)) as s:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while data := s.recv(65536):
                answer += data
            return answer

    def status_answers(self, deadline: float = 1.0) -> bool:
        """`earwig status`'s request over the socket, with a client that gives up after
        `deadline` seconds: the functional check, not a stopwatch."""
        with DaemonClient(self.daemon.socket, timeout=deadline) as client:
            return bool(client.call(p.GetStatus())["pid"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hardening")
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    with pytest.MonkeyPatch.context() as mp:
        (root / "home").mkdir()
        mp.setenv("HOME", str(root / "home"))
        home = Home(root / "earwig", runtime, models_dir)
        home.write_config(http='listen = "127.0.0.1:0"\ntrust = ["192.168.1.0/24"]')
        daemon = home.daemon().start()
    try:
        yield Site(daemon, home)
    finally:
        daemon.stop()
        shutil.rmtree(runtime, ignore_errors=True)


# ---------------------------------------------------------------- 2: X-Forwarded-For


def test_x_forwarded_for_from_a_local_process_is_not_trust(site: Site) -> None:
    """uvicorn believed X-Forwarded-For from 127.0.0.1 by default: any local user sending
    `X-Forwarded-For: 192.168.1.5` counted as the trusted LAN, with no token."""
    for spoof in ("192.168.1.5", "192.168.1.5, 127.0.0.1"):
        r = httpx.get(
            site.url + "/api/logs", headers={"X-Forwarded-For": spoof, "Forwarded": "for=1"}
        )
        assert r.status_code == 401, r.text
        r = httpx.post(
            site.url + "/api/jobs",
            json={"url": "/etc/passwd"},
            headers={"X-Forwarded-For": spoof},
        )
        assert r.status_code == 401, r.text


# ---------------------------------------------------------------- 6: Host


@pytest.mark.parametrize(
    ("host_lines", "status"),
    [
        (b"Host: [::1].evil.com\r\n", b"400"),
        (b"Host: [::1]evil.com\r\n", b"400"),
        (b"Host: localhost:PORT@evil.com\r\n", b"400"),
        (b"", b"400"),  # HTTP/1.1 without Host
        (b"Host: evil.com\r\nHost: localhost:PORT\r\n", b"400"),
        (b"Host: localhost:PORT\r\nHost: evil.com\r\n", b"400"),
        (b"Host: evil.com\r\n", b"403"),
        (b"Host: localhost:PORT\r\n", b"200"),
        (b"Host: 127.0.0.1:PORT\r\n", b"200"),
    ],
)
def test_the_host_header_through_the_real_server(
    site: Site, host_lines: bytes, status: bytes
) -> None:
    lines = host_lines.replace(b"PORT", str(site.port).encode())
    auth = f"Authorization: Bearer {site.token}\r\nConnection: close\r\n\r\n".encode()
    request = b"GET /api/status HTTP/1.1\r\n" + lines + auth
    answer = site.raw(request)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:300]


# ---------------------------------------------------------------- 4 and 9: bodies


def test_json_bodies_are_capped_and_deep_or_huge_numbers_are_4xx(site: Site) -> None:
    assert site.daemon.proc is not None
    pid = site.daemon.proc.pid
    before = rss_mb(pid)
    big = b'{"urls": ["' + b"x" * (50 * 10**6) + b'"]}'
    r = site.client.post("/api/jobs", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large", r.text[:300]
    assert "send fewer" in r.json()["error"]["hint"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"urls": ["'
        for _ in range(50):
            yield b"x" * 10**6
        yield b'"]}'

    try:
        r = site.client.post("/api/jobs", content=chunks(), headers={"content-type": "text/json"})
        assert r.status_code == 413, r.text[:300]
    except httpx.HTTPError:
        pass  # the server answered and closed while the client was still sending
    assert rss_mb(pid) - before < 40, f"RSS grew {rss_mb(pid) - before:.0f} MB"
    for route, body in (
        ("/api/jobs", b"[" * 100_000 + b"]" * 100_000),
        ("/api/subscriptions", b'{"url": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        ("/api/jobs/1/retry", b"{" + b'"a":' * 30_000 + b"1" + b"}" * 30_000),
    ):
        r = site.client.post(route, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, (route, r.text[:300])
    for path in ("/api/jobs/99999999999999999999999", "/api/jobs/99999999999999999999/media"):
        r = site.client.get(path)
        assert 400 <= r.status_code < 500, (path, r.text[:300])
    r = site.client.get("/api/jobs/99999999999999999999/transcript.txt")
    assert 400 <= r.status_code < 500, r.text[:300]
    assert "Traceback" not in site.daemon.log()


def test_names_of_4kb_in_3_byte_characters_are_not_a_500(site: Site, speech_wav: Path) -> None:
    name = "語" * 1400 + ".wav"  # 4,200 bytes of UTF-8
    audio = speech_wav.read_bytes()
    r = site.client.post("/api/jobs", files={"file": (name, audio, "audio/wav")})
    assert r.status_code == 200, r.text[:300]
    job = r.json()["results"][0]["job"]
    assert len(Path(job["path"]).name.encode()) <= 255
    done = site.daemon.wait_job(lambda j: j["id"] == job["id"] and j["state"] == "done", 180)
    assert all(len(Path(o).name.encode()) <= 255 for o in done["outputs"])
    v1 = site.client.post(
        "/v1/audio/transcriptions", files={"file": (name, audio)}, data={"model": "whisper-1"}
    )
    assert v1.status_code == 200, v1.text[:300]
    asr = site.client.post("/asr?output=txt", files={"audio_file": (name, audio)})
    assert asr.status_code == 200, asr.text[:300]
    assert len(asr.headers["content-disposition"]) < 1000


def test_a_1_byte_pcm_body_is_400_and_leaves_no_folder(site: Site) -> None:
    cache = site.home.root / "media"
    r = site.client.post("/asr?encode=false", files={"audio_file": ("audio_file", b"\x01")})
    assert r.status_code == 400 and r.json()["error"]["code"] in ("empty", "too_short"), r.text
    r = site.client.post("/asr?encode=false", files={"audio_file": ("audio_file", b"\x01\x00")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_short", r.text
    assert not list(cache.glob("api/upload-*"))  # /asr's uploads go to api/


def test_a_client_waiting_on_a_paused_queue_is_told_so(site: Site, speech_wav: Path) -> None:
    """Item 9: a /v1 or /asr request waited with no deadline while the queue was paused (no
    job starts). Now, after PAUSED_WAIT (30 s) paused, a 503 that says so; the job stays
    queued, and no upload folder is left."""
    audio = speech_wav.read_bytes()[:-2] + b"\x05\x00"  # new audio: no stored answer
    answers: dict[str, httpx.Response] = {}

    def ask(door: str) -> None:
        if door == "v1":
            answers[door] = site.client.post(
                "/v1/audio/transcriptions",
                files={"file": ("held.wav", audio)},
                data={"model": "whisper-1"},
                timeout=120,
            )
        else:
            answers[door] = site.client.post(
                "/asr?output=txt", files={"audio_file": ("held.wav", audio)}, timeout=120
            )

    site.daemon.call(p.PauseQueue())
    try:
        askers = [threading.Thread(target=ask, args=(door,)) for door in ("v1", "asr")]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join(120)
    finally:
        site.daemon.call(p.ResumeQueue())
    assert set(answers) == {"v1", "asr"}, "a client still waits"
    for r in answers.values():
        assert r.status_code == 503, r.text[:300]
        error = r.json()["error"]
        assert error["code"] == "queue_paused" and "earwig resume" in error["hint"], error
        assert "stays in the queue" in error["message"]
    assert not list((site.home.root / "media").glob("api/upload-*"))


# ---------------------------------------------------------------- 3: slow clients


def slow_connections(site: Site, count: int) -> list[socket.socket]:
    """`count` connections that have sent the first bytes of a request line, from 20
    loopback addresses, each sending a byte more now and then (on another thread)."""
    held: list[socket.socket] = []
    for i in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.bind((SOURCES[i % len(SOURCES)], 0))
        with contextlib.suppress(BlockingIOError):
            s.connect((site.host, site.port))
        held.append(s)
    time.sleep(0.5)
    for s in held:
        with contextlib.suppress(OSError):
            s.send(b"G")
    return held


def test_1100_slow_header_connections_leave_the_socket_answering(
    site: Site, speech_wav: Path
) -> None:
    need_descriptors(FLOOD + 400)
    assert site.daemon.proc is not None
    pid = site.daemon.proc.pid
    # the setting: the daemon at a 1,024-descriptor limit
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (1024, hard))
    before_log = len(site.daemon.log())
    baseline = open_fds(pid)
    dribbling = threading.Event()
    held: list[socket.socket] = []
    try:
        held = slow_connections(site, FLOOD)

        def dribble() -> None:  # a byte a second on each: never a whole header
            while not dribbling.wait(1):
                for s in held:
                    with contextlib.suppress(OSError):
                        s.send(b"E")

        thread = threading.Thread(target=dribble, daemon=True)
        thread.start()
        for _ in range(5):  # it used to be "not answering" for as long as they were held
            assert site.status_answers(deadline=5.0)
            time.sleep(0.5)
        assert open_fds(pid) < 1024 - 100, "HTTP took the reserve"
        # a flood degrades HTTP only: watched folders and the queue go on
        unique = speech_wav.read_bytes()[:-2] + b"\x03\x00"  # not a duplicate of earlier ones
        (site.home.watch / "during the flood.wav").write_bytes(unique)
        site.daemon.wait_job(lambda j: j["title"] == "during the flood.wav", 60, "queued")
        # the slow ones are closed at their header deadline, with a 408 where they listen
        wait_for(lambda: open_fds(pid) <= baseline + 20, 60, what="slow clients closed")
    finally:
        dribbling.set()
        for s in held:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    grown = site.daemon.log()[before_log:]
    assert "Traceback" not in grown, grown[-3000:]
    assert grown.count("HTTP: refused") <= 3, grown[-3000:]
    assert site.client.get("/api/status").status_code == 200  # HTTP is back


def test_one_address_cannot_take_every_connection(site: Site) -> None:
    """Past 64 from one address, that address gets a quick 503; another address still gets
    in."""
    need_descriptors(400)
    held = []
    try:
        for _ in range(70):
            s = socket.create_connection((site.host, site.port), 10, ("127.0.0.30", 0))
            held.append(s)
        refused = held[-1].recv(4096)
        assert refused.startswith(b"HTTP/1.1 503"), refused[:200]
        assert b'"busy"' in refused and b"retry-after: 5" in refused.lower()
        other = httpx.get(site.url + "/api/status", headers=site.auth, timeout=10)
        assert other.status_code == 200
    finally:
        for s in held:
            s.close()


# ---------------------------------------------------------------- 8: streams that never read


def test_500_event_streams_that_never_read_close_without_stalling_or_growing(
    site: Site,
) -> None:
    need_descriptors(900)
    assert site.daemon.proc is not None
    pid = site.daemon.proc.pid
    before = rss_mb(pid)
    streams: list[socket.socket] = []
    try:
        for i in range(500):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.bind((SOURCES[i % len(SOURCES)], 0))
            s.settimeout(30)
            s.connect((site.host, site.port))
            s.sendall(
                f"GET /api/events HTTP/1.1\r\nHost: {site.host}:{site.port}\r\n"
                f"Authorization: Bearer {site.token}\r\n\r\n".encode()
            )
            streams.append(s)
        # events for every stream, none read: the daemon must go on answering
        for _ in range(100):
            for action in ("pause", "resume"):
                assert site.client.post(f"/api/queue/{action}").status_code == 200
        # a third of a CLI's patience, on a loaded machine (bench/http_floods.py measures)
        assert site.status_answers(deadline=10.0)
        grown = rss_mb(pid) - before
        for s in streams:  # all at once
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        streams.clear()
        for _ in range(10):
            assert site.status_answers(deadline=10.0)
        assert grown < 200, f"RSS grew {grown:.0f} MB with 500 streams"
    finally:
        for s in streams:
            s.close()
    wait_for(lambda: rss_mb(pid) - before < 200, 60, what="memory to stay bounded")


# ---------------------------------------------------------------- 8: the descriptor limit


def test_at_the_descriptor_limit_a_dropped_file_is_queued_once_it_passes(
    home: Home, speech_wav: Path
) -> None:
    home.write_config(http='listen = "127.0.0.1:0"')
    daemon = home.daemon().start()
    try:
        pid = daemon.process.pid
        wait_for(lambda: daemon.call(p.GetStatus())["backend"]["loaded"], 60, what="the model")
        site = Site(daemon, home)
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid) + 12, hard))
        before = len(daemon.log())
        held = []
        try:
            for _ in range(60):  # the socket's clients take what is left, and wait
                for path, family in ((daemon.socket, socket.AF_UNIX),):
                    s = socket.socket(family, socket.SOCK_STREAM)
                    s.setblocking(False)
                    try:
                        s.connect(str(path))
                    except (BlockingIOError, ConnectionRefusedError):
                        s.close()
                        continue
                    held.append(s)
            for _ in range(200):  # and HTTP clients knock meanwhile
                with contextlib.suppress(OSError):
                    socket.create_connection((site.host, site.port), 1).close()
            wait_for(lambda: "cannot take new" in daemon.log()[before:], 30, what="the limit")
            shutil.copy(speech_wav, home.watch / "dropped at the limit.wav")
            wait_for(lambda: "could not queue" in daemon.log()[before:], 60, what="the file tried")
        finally:
            for s in held:
                s.close()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        daemon.wait_job(lambda j: j["title"] == "dropped at the limit.wav", 120, "queued")
        daemon.wait_job(
            lambda j: j["title"] == "dropped at the limit.wav" and j["state"] == "done", 180
        )
        grown = daemon.log()[before:]
        assert "Traceback" not in grown and len(grown) < 4000, grown[-3000:]
    finally:
        daemon.stop()


# ---------------------------------------------------------------- 5: what a kill leaves


def test_kill_9_with_uploads_in_flight_leaves_no_upload_folder(
    home: Home, speech_wav: Path
) -> None:
    home.write_config(http='listen = "127.0.0.1:0"')
    daemon = home.daemon().start()
    cache = home.root / "media"
    site = Site(daemon, home)
    audio = speech_wav.read_bytes()
    stop_sending = threading.Event()

    def send_slowly(route: str, field: str) -> None:
        def body() -> Iterator[bytes]:
            yield (
                f'--b\r\nContent-Disposition: form-data; name="{field}"; filename="x.wav"\r\n\r\n'
            ).encode()
            yield audio[:20000]
            while not stop_sending.wait(0.2):
                yield b"\0" * 1000

        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                site.url + route,
                content=body(),
                headers={**site.auth, "content-type": "multipart/form-data; boundary=b"},
                timeout=60,
            )

    senders = [
        threading.Thread(target=send_slowly, args=(route, field), daemon=True)
        for route, field in (
            ("/v1/audio/transcriptions", "file"),
            ("/api/jobs", "file"),
            ("/asr", "audio_file"),
            ("/detect-language", "audio_file"),
        )
    ]
    try:
        for t in senders:
            t.start()
        wait_for(lambda: len(list(cache.glob("*/upload-*"))) >= 4, 60, what="4 uploads")
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(30)
    finally:
        stop_sending.set()
        for t in senders:
            t.join(30)
    left = list(cache.glob("*/upload-*"))
    assert len(left) >= 4  # what the kill left, as before the fix
    (cache / "api" / "job-orphan").mkdir(parents=True)  # a kill between folder and job
    daemon = home.daemon().start()
    try:
        wait_for(lambda: not list(cache.glob("*/upload-*")), 60, what="the sweep")
        assert not (cache / "api" / "job-orphan").exists()
        line = "removed 5 upload folder(s) no job owns"  # written once they are gone
        wait_for(lambda: line in daemon.log(), 30, what="the sweep's line in the log")
        # a refused upload and a client that hangs up while it waits leave nothing either
        site = Site(daemon, home)
        daemon.call(p.PauseQueue())
        waiting = threading.Thread(target=lambda: _hang_up_while_waiting(site, audio), daemon=True)
        waiting.start()
        wait_for(lambda: any(j["source"] == "api" for j in daemon.jobs()), 60, what="its job")
        waiting.join(60)
        refused = site.client.post(
            "/v1/audio/transcriptions", files={"file": ("x.wav", b"RIFF not audio")}
        )
        assert refused.status_code == 400
        assert not list(cache.glob("*/upload-*"))
    finally:
        daemon.stop()


def _hang_up_while_waiting(site: Site, audio: bytes) -> None:
    # the client gives up: its job is cancelled, its upload folder gone
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(
            site.url + "/v1/audio/transcriptions",
            headers=site.auth,
            files={"file": ("wait.wav", audio)},
            timeout=3,
        )
