"""The HTTP server end to end: a real daemon serving HTTP on a free loopback port, reached by
the real openai SDK, by requests shaped exactly as Bazarr's and whisper-asr-webservice
clients', by REST, Server-Sent Events and a WebSocket, and by another earwig in a pool."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from conftest import SECOND_TEXT, Home
from earwig import protocol as p
from earwig.speech import SAMPLE_TEXT
from helpers import DaemonProcess, daemon_env, run_cli, wait_for, wer
from httpserver import LocalServer


class Http:
    """A running daemon's HTTP side: its base URL and token, and a client with the token."""

    def __init__(self, daemon: DaemonProcess, home: Home | None = None) -> None:
        self.daemon = daemon
        self.home = home
        info = daemon.http()
        self.url: str = info["url"].rstrip("/")
        self.token: str = info["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.client = httpx.Client(base_url=self.url, headers=self.auth, timeout=120)

    def api_jobs(self) -> list[dict[str, Any]]:
        return self.client.get("/api/jobs").json()["jobs"]


def _env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Http]:
    """One HTTP daemon for the module (a daemon with the model loaded takes seconds)."""
    root = tmp_path_factory.mktemp("http")
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    with pytest.MonkeyPatch.context() as mp:
        (root / "home").mkdir()
        _env(mp, root / "home")
        home = Home(root / "earwig", runtime, models_dir)
        # 127.0.0.2 stands for a public server: a network client's URLs may reach only it
        home.write_config(
            http='listen = "127.0.0.1:0"\nmax_upload = "200MB"\nprivate_networks = ["127.0.0.2"]'
        )
        daemon = home.daemon()
        try:
            daemon.start()
        except BaseException:
            home.finish()
            raise
    try:
        yield Http(daemon, home)
    finally:
        try:
            daemon.stop()  # gently; killed if it will not stop
        finally:
            home.finish()
            shutil.rmtree(runtime, ignore_errors=True)


def openai_client(http: Http) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=http.url + "/v1", api_key=http.token, max_retries=0, timeout=120)


# ---------------------------------------------------------------- OpenAI-compatible


def test_openai_sdk_every_format(server: Http, speech_wav: Path) -> None:
    client = openai_client(server)

    def create(**kw: Any) -> Any:
        with speech_wav.open("rb") as fh:
            return client.audio.transcriptions.create(model="whisper-1", file=fh, **kw)

    both = create(response_format="verbose_json", timestamp_granularities=["word", "segment"])
    assert wer(SAMPLE_TEXT, both.text) < 0.25
    assert both.language == "english" and both.duration == pytest.approx(11.3, abs=0.5)
    assert both.segments and both.words and both.words[0].word == "Welcome"
    assert all(w.start <= w.end for w in both.words)
    words = create(response_format="verbose_json", timestamp_granularities=["word"])
    assert words.words and not words.segments  # OpenAI's rule: words alone, no segments
    segments = create(response_format="verbose_json")
    assert segments.segments and not segments.words
    assert segments.segments[1].start > 0 and segments.segments[0].id == 0
    assert wer(SAMPLE_TEXT, create(response_format="json").text) < 0.25
    text = create(response_format="text")
    assert isinstance(text, str) and wer(SAMPLE_TEXT, text) < 0.25
    assert create(response_format="srt").startswith("1\n00:00:00,000 --> 00:00:0")
    assert create(response_format="vtt").startswith("WEBVTT\n\n00:00:00.000 --> ")
    events = list(create(stream=True))
    assert [e.type for e in events[:-1]] == ["transcript.text.delta"] * (len(events) - 1)
    assert events[-1].type == "transcript.text.done" and wer(SAMPLE_TEXT, events[-1].text) < 0.25
    assert "".join(e.delta for e in events[:-1]).strip() == events[-1].text
    models = [m.id for m in client.models.list()]
    assert "whisper-1" in models and "bundled" in models
    # one job, of kind api, made every answer: the same audio is answered from its transcript
    api = [j for j in server.api_jobs() if j["source"] == "api"]
    assert len(api) == 1, [(j["options"], j["sha256"], j["state"], j["created_at"]) for j in api]
    assert api[0]["state"] == "done" and api[0]["priority"] >= 1_000_000
    assert api[0]["output_dir"].startswith(str(Path(api[0]["path"]).parent))


def test_openai_errors_are_clear_4xx(server: Http, speech_wav: Path, tmp_path: Path) -> None:
    import openai

    client = openai_client(server)
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(
            model="whisper-1",
            file=speech_wav.open("rb"),
            response_format="yaml",
        )
    assert err.value.body["code"] == "bad_response_format"  # type: ignore[index]
    assert err.value.body["param"] == "response_format"  # type: ignore[index]
    assert err.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(
            model="whisper-1",
            file=speech_wav.open("rb"),
            response_format="json",
            timestamp_granularities=["word"],
        )
    assert "verbose_json" in err.value.body["message"]  # type: ignore[index]
    corrupt = tmp_path / "broken.mp3"
    corrupt.write_bytes(b"ID3" + b"\x00garbage" * 500)
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(model="whisper-1", file=corrupt.open("rb"))
    assert err.value.body["code"] == "not_media"  # type: ignore[index]
    from openai import OpenAI

    stranger = OpenAI(base_url=server.url + "/v1", api_key="not-the-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.audio.transcriptions.create(model="whisper-1", file=speech_wav.open("rb"))
    garbage = server.client.post(
        "/v1/audio/transcriptions",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nab',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "bad_multipart"
    assert "Traceback" not in garbage.text
    assert set(garbage.json()["error"]) == {"code", "message", "hint", "type", "param"}
    assert garbage.json()["error"]["type"] == "invalid_request_error"


# ---------------------------------------------------------------- whisper-asr-webservice


def pcm_of(wav: Path) -> bytes:
    """What Bazarr sends: ffmpeg's s16le mono 16 kHz of the audio, no header."""
    import numpy as np

    from earwig.transcribe.audio import decode

    return (np.clip(decode(wav), -1, 1) * 32767).astype("<i2").tobytes()


def test_bazarr_requests(server: Http, second_wav: Path) -> None:
    import requests

    # Bazarr's endpoint setting is a base URL; the token rides in its path
    endpoint = f"{server.url}/t/{server.token}"
    session = requests.Session()
    session.headers["User-Agent"] = "Subliminal/2.1"
    assert session.get(f"{endpoint}/status", timeout=(5, 10)).json()["version"]
    out = pcm_of(second_wav)
    r = session.post(
        f"{endpoint}/detect-language",
        params=cast(Any, {"encode": "false", "video_file": {None}}),
        files={"audio_file": out},
        timeout=(5, 3600),
    )
    assert r.status_code == 200
    assert r.json()["detected_language"] == "english" and r.json()["language_code"] == "en"
    r = session.post(
        f"{endpoint}/asr",
        params={
            "task": "transcribe",
            "language": "en",
            "output": "srt",
            "encode": "false",
            "video_file": {"/tv/Show/S01E01.mkv"},
        },
        files={"audio_file": out},
        timeout=(5, 3600),
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-disposition"] == 'attachment; filename="audio_file.srt"'
    srt = r.content.decode()
    assert srt.startswith("1\n00:00:00,")
    cues = [block.split("\n", 2)[2] for block in srt.strip().split("\n\n")]
    assert wer(SECOND_TEXT, " ".join(cues)) < 0.25
    # Bazarr stores the body whatever the status: an error is short and never a 200
    r = session.post(
        f"{endpoint}/asr", params={"encode": "false", "output": "srt"}, files={"audio_file": b""}
    )
    assert r.status_code == 400 and len(r.content) < 400


@pytest.mark.parametrize("output", ["txt", "vtt", "srt", "tsv", "json"])
def test_whisper_asr_clients_every_output(server: Http, speech_mp3: Path, output: str) -> None:
    with speech_mp3.open("rb") as fh:
        r = server.client.post(
            "/asr",
            params={"output": output, "encode": "true", "word_timestamps": "true"},
            files={"audio_file": ("meeting.mp3", fh, "audio/mpeg")},
        )
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="meeting.mp3.{output}"'
    body = r.text
    if output == "json":
        doc = json.loads(body)
        assert set(doc) == {"text", "segments", "language"} and doc["language"] == "en"
        assert doc["segments"][0]["words"] and wer(SAMPLE_TEXT, doc["text"]) < 0.25
    elif output == "tsv":
        rows = body.strip().split("\n")
        assert rows[0] == "start\tend\ttext" and rows[1].split("\t")[0] == "0"
    elif output == "vtt":
        assert body.startswith("WEBVTT\n\n00:00.000 --> ")  # hours only above 0, as theirs
    elif output == "srt":
        assert body.startswith("1\n00:00:00,000 --> ")
    else:
        assert wer(SAMPLE_TEXT, body) < 0.25


def test_asr_translate_to_without_a_language_model_is_refused_before_the_upload(
    server: Http,
) -> None:
    """Whisper translates into English only; another language needs [llm] (docs/llm.md), and
    without it the request is refused at once, saying so, its body never read."""
    r = server.client.post("/asr", params={"translate_to": "de", "output": "srt"}, content=b"x")
    assert r.status_code == 400, r.text
    assert "[llm]" in r.text and "translate_to" in r.text


# ---------------------------------------------------------------- REST and live events


def read_sse(http: Http, until: Any, out: list[tuple[str, Any]], ready: threading.Event) -> None:
    with (
        httpx.Client(base_url=http.url, headers=http.auth, timeout=120) as c,
        c.stream("GET", "/api/events") as r,
    ):
        event = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                out.append((event or "message", json.loads(line[5:])))
                if event == "snapshot":
                    ready.set()
                if until(out):
                    return


def test_rest_jobs_followed_over_sse_and_websocket(
    server: Http, second_wav: Path, long_wav: Path
) -> None:
    from websockets.sync.client import connect

    sse: list[tuple[str, Any]] = []
    ready = threading.Event()
    done_ids: set[int] = set()

    def finished(events: list[tuple[str, Any]]) -> bool:
        for name, data in events:
            if name == "job.updated" and data["state"] == "done":
                done_ids.add(data["id"])
        return len(done_ids) >= 2

    reader = threading.Thread(target=read_sse, args=(server, finished, sse, ready), daemon=True)
    reader.start()
    assert ready.wait(30)
    ws = connect(
        server.url.replace("http", "ws") + "/api/ws",
        additional_headers=server.auth,
        open_timeout=30,
    ).__enter__()
    first = json.loads(ws.recv(30))
    assert first["type"] == "snapshot" and "jobs" in first["data"]
    ws.send(json.dumps({"id": 1, "type": "status"}))
    with LocalServer("127.0.0.2") as media:  # a network client reaches public servers only
        url = media.add(
            "/media/morning.wav", body=second_wav.read_bytes(), content_type="audio/wav"
        )
        added = server.client.post("/api/jobs", json={"url": url}).json()
        url_job = added["results"][0]["job"]["id"]
        with long_wav.open("rb") as fh:
            up = server.client.post("/api/jobs", files={"file": ("long talk.wav", fh, "audio/wav")})
        assert up.status_code == 200, up.text
        upload_job = up.json()["results"][0]["job"]["id"]
        ws_done: set[int] = set()
        deadline = time.monotonic() + 240
        while not {url_job, upload_job} <= ws_done and time.monotonic() < deadline:
            message = json.loads(ws.recv(240))
            if message.get("id") == 1:
                assert message["ok"] and message["result"]["version"]
            if message.get("event") == "job.updated" and message["data"]["state"] == "done":
                ws_done.add(message["data"]["id"])
        assert {url_job, upload_job} <= ws_done
        ws.close()
        reader.join(60)
        assert {url_job, upload_job} <= done_ids
        assert any(name == "log" for name, _ in sse), "log events reach SSE too"
        for fmt in ("txt", "srt", "vtt", "tsv", "json", "md"):
            r = server.client.get(f"/api/jobs/{url_job}/transcript.{fmt}")
            assert r.status_code == 200, (fmt, r.text)
        assert (
            wer(SECOND_TEXT, server.client.get(f"/api/jobs/{url_job}/transcript.txt").text) < 0.25
        )
        assert json.loads(server.client.get(f"/api/jobs/{url_job}/transcript.json").text)[
            "segments"
        ]
        whole = second_wav.read_bytes()
        r = server.client.get(f"/api/jobs/{url_job}/media", headers={"Range": "bytes=100-199"})
        assert r.status_code == 206 and r.content == whole[100:200]
        assert r.headers["content-range"] == f"bytes 100-199/{len(whole)}"
        r = server.client.get(f"/api/jobs/{url_job}/media", headers={"Range": "bytes=-10"})
        assert r.status_code == 206 and r.content == whole[-10:]
        got = server.client.get(f"/api/jobs/{upload_job}").json()
        assert got["job"]["title"] == "long talk.wav" and got["job"]["state"] == "done"


def test_rest_answers_are_the_socket_results(server: Http) -> None:
    status = server.client.get("/api/status").json()
    assert status["http"]["url"].rstrip("/") == server.url
    listed = server.client.get("/api/jobs", params={"limit": 2}).json()
    assert set(listed) == {"jobs", "total"} and len(listed["jobs"]) <= 2
    bad = server.client.get("/api/jobs", params={"state": "bogus"})
    assert bad.status_code == 400 and "params.states" in bad.json()["error"]["message"]
    missing = server.client.post("/api/jobs/999999/pause")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert server.client.post("/api/queue/pause").json() == {"paused": True}
    assert server.client.post("/api/queue/resume").json() == {"paused": False}
    # Its latency is a figure (bench/http_api.py); test_http_parts checks the socket is TCP.
    schema = server.client.get("/api/schema").json()
    assert "/api/jobs/{id}/pause" in schema["paths"]


# ---------------------------------------------------------------- safety


def test_token_host_origin_and_login(server: Http) -> None:
    plain = httpx.Client(base_url=server.url, timeout=30)
    r = plain.get("/api/status")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert plain.post("/asr").status_code == 401
    page = plain.get("/")
    assert page.status_code == 200 and "<html" in page.text  # the page, with no data in it
    evil_host = server.client.get("/api/status", headers={"Host": "attacker.example"})
    assert evil_host.status_code == 403 and evil_host.json()["error"]["code"] == "host_not_allowed"
    cross = server.client.post("/api/queue/pause", headers={"Origin": "http://attacker.example"})
    assert cross.status_code == 403 and cross.json()["error"]["code"] == "cross_origin"
    from websockets.exceptions import InvalidHandshake
    from websockets.sync.client import connect

    ws_url = server.url.replace("http", "ws") + "/api/ws"
    with pytest.raises(InvalidHandshake):  # a foreign page's WebSocket: refused, token or not
        connect(ws_url, origin=cast(Any, "http://attacker.example"), additional_headers=server.auth)
    with connect(ws_url, origin=cast(Any, server.url), additional_headers=server.auth) as ws:
        assert json.loads(ws.recv(30))["type"] == "snapshot"
    login = plain.get("/", params={"token": server.token})
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert plain.cookies.get("earwig_token") == server.token
    assert plain.get("/api/status").status_code == 200  # the cookie logs the browser in
    assert (
        "no CORS"
        and "access-control-allow-origin"
        not in server.client.get(
            "/api/status", headers={"Origin": "http://attacker.example"}
        ).headers
    )


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_3gb_upload_refused_without_memory_growth(server: Http) -> None:
    assert server.daemon.proc is not None
    pid = server.daemon.proc.pid
    # Announced: refused before a byte of the body is read
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(
            f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Length: {3 * 10**9}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n".encode()
        )
        reply = ""
        while '"too_large"' not in reply and (data := raw.recv(65536)):
            reply += data.decode()
    assert reply.startswith("HTTP/1.1 413 ") and '"too_large"' in reply
    # Streamed without a length (chunked): read to the limit (200 MB here), then refused,
    # never held in memory
    before = rss_kb(pid)
    peak = [before]
    sent = [0]
    chunk = b"\0" * (1 << 20)

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        while sent[0] < 3 * 10**9:
            sent[0] += len(chunk)
            if sent[0] % (32 << 20) == 0:
                peak[0] = max(peak[0], rss_kb(pid))
            yield chunk

    try:
        r = server.client.post(
            "/v1/audio/transcriptions",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        status = r.status_code
    except httpx.HTTPError:
        status = 413  # the server closed the connection after its answer, mid-send
    peak[0] = max(peak[0], rss_kb(pid))
    assert status == 413
    assert sent[0] >= 200e6  # past the limit (the rest may be read and thrown away)
    assert peak[0] - before < 30 * 1024, f"RSS grew {(peak[0] - before) / 1024:.0f} MB"
    assert not any((Path(server.daemon.log_path).parent / "media" / "api").glob("upload-*/*"))


def test_an_sse_client_that_never_reads_does_not_stall_the_daemon(server: Http) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect((host, int(port)))
    stuck.sendall(
        f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "
        f"{server.token}\r\n\r\n".encode()
    )
    try:
        # Each request makes a log event and a queue event for every subscriber; a daemon that
        # waited on the stuck reader would answer none of them before the client's deadline.
        for _ in range(150):
            for action in ("pause", "resume"):
                assert server.client.post(f"/api/queue/{action}").status_code == 200
        assert server.daemon.call(p.GetStatus())["version"]
    finally:
        stuck.close()


def test_client_leaving_before_start_cancels_and_api_jobs_go_first(
    server: Http, long_wav: Path, speech_mp3: Path, tmp_path: Path
) -> None:
    import numpy as np

    from earwig.speech import write_wav
    from earwig.transcribe.audio import decode

    server.client.post("/api/queue/pause")
    try:
        # A background job (as a watched folder's), queued before the API request
        background = tmp_path / "backfill.wav"
        shutil.copy(long_wav, background)
        server.daemon.call(p.AddJobs(paths=[str(background)], force=True))
        # A client that gives up while its job waits: the job is cancelled
        other = tmp_path / "other.wav"
        samples = decode(speech_mp3)
        write_wav(other, (np.clip(samples * 0.9, -1, 1) * 32767).astype("<i2").tobytes(), 16000)
        with pytest.raises(httpx.TimeoutException), other.open("rb") as fh:
            server.client.post("/v1/audio/transcriptions", files={"file": fh}, timeout=3)
        left = wait_for(
            lambda: next(
                (
                    j
                    for j in server.api_jobs()
                    if j["title"] == "other.wav" and j["state"] == "cancelled"
                ),
                None,
            ),
            30,
            what="the abandoned API job to be cancelled",
        )
        assert "went away" in (left["hint"] or "")
        # A client that waits: its job runs before the background one queued earlier
        answer: list[httpx.Response] = []
        waiter = threading.Thread(
            target=lambda: answer.append(
                server.client.post(
                    "/v1/audio/transcriptions",
                    files={"file": other.open("rb")},
                    data={"response_format": "text"},
                )
            )
        )
        waiter.start()
        wait_for(
            lambda: any(
                j["title"] == "other.wav" and j["state"] == "queued" for j in server.api_jobs()
            ),
            30,
            what="the API job",
        )
    finally:
        server.client.post("/api/queue/resume")
    waiter.join(240)
    assert answer and answer[0].status_code == 200 and wer(SAMPLE_TEXT, answer[0].text) < 0.3
    api = next(j for j in server.api_jobs() if j["title"] == "other.wav" and j["state"] == "done")
    bg = wait_for(
        lambda: next(
            (
                j
                for j in server.api_jobs()
                if j["title"] == "backfill.wav" and "fetching" in j["times"]
            ),
            None,
        ),
        60,
        what="the background job to start",
    )
    # the API job was taken first; both are short, so the background one may then ride the
    # same shared batches (issue 38's short lane) rather than wait for the answer to be sent
    assert api["times"]["fetching"] <= bg["times"]["fetching"]


def test_keep_false_forgets_api_jobs_once_answered(server: Http, second_wav: Path) -> None:
    import numpy as np

    from earwig.speech import write_wav
    from earwig.transcribe.audio import decode

    assert server.home is not None
    http_lines = 'listen = "127.0.0.1:0"\nmax_upload = "200MB"'
    server.home.write_config(http=http_lines + "\nkeep = false")
    assert "[http] keep" in server.daemon.call(p.ReloadConfig())["changed"]
    try:
        clip = server.home.root / "forget me.wav"
        pcm = (np.clip(decode(second_wav) * 0.8, -1, 1) * 32767).astype("<i2").tobytes()
        write_wav(clip, pcm, 16000)
        with clip.open("rb") as fh:
            r = server.client.post(
                "/v1/audio/transcriptions", files={"file": fh}, data={"response_format": "text"}
            )
        assert r.status_code == 200 and wer(SECOND_TEXT, r.text) < 0.25
        assert not [j for j in server.api_jobs() if j["title"] == "forget me.wav"]
        hits = server.client.get("/api/search", params={"q": "weather"}).json()["hits"]
        assert all(h["title"] != "forget me.wav" for h in hits)
        cache = server.home.media / "api"
        assert not any(cache.glob("job-*/forget me*"))
    finally:
        server.home.write_config(http=http_lines)
        server.daemon.call(p.ReloadConfig())


# ---------------------------------------------------------------- a pool of two earwigs


def test_two_earwigs_in_a_pool(
    server: Http, home: Home, second_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This earwig has no worker of its own: it hands its jobs to the module's earwig,
    listed in its [[transcribe.servers]] with the token in a variable."""
    monkeypatch.setenv("EARWIG_PEER_TOKEN", server.token)
    home.write_config(
        transcribe=f'workers = 0\n[[transcribe.servers]]\nurl = "{server.url}/v1"\n'
        'name = "peer"\napi_key_env = "EARWIG_PEER_TOKEN"\n'
    )
    front = home.daemon().start()
    try:
        clip = home.watch / "handed over.wav"
        shutil.copy(second_wav, clip)
        with clip.open("ab") as fh:
            fh.write(b"\0\0")  # other content than the module's earlier jobs
        job = front.wait_job(lambda j: j["state"] in ("done", "failed"), 240, what="the job")
        assert job["state"] == "done", job
        assert job["slot"] == "peer"
        text = (home.out / "handed over.txt").read_text()
        assert wer(SECOND_TEXT, text) < 0.25
        assert any(j["source"] == "api" and j["state"] == "done" for j in server.api_jobs())
    finally:
        front.stop()


# ---------------------------------------------------------------- port, restart, commands


def test_taken_port_then_restart_with_a_request_waiting(home: Home, speech_wav: Path) -> None:
    """A taken port is a warning and a retry while the rest of the daemon works; a restart
    while a client waits gives that client an error and keeps its job, which finishes."""
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    home.write_config(http=f'listen = "127.0.0.1:{port}"')
    daemon = home.daemon().start()
    try:
        taken = wait_for(
            lambda: (h := daemon.call(p.GetStatus())["http"]).get("state") == "port taken" and h,
            30,
            what="the port to be reported taken",
        )
        assert f"127.0.0.1:{port}" in taken["error"] and taken["retry_at"]
        status = run_cli(home.config, "status")
        assert status.returncode == 0 and "port is taken" in status.stdout
        assert any("trying again" in e["message"] for e in daemon.call(p.TailLogs())["log"])
        blocker.close()  # the other program goes: earwig takes the port at its next try
        http = Http(daemon)
        assert http.url == f"http://127.0.0.1:{port}"
        assert run_cli(home.config, "token").stdout.strip() == http.token
        link = run_cli(home.config, "web", "--print").stdout.strip()
        assert link == f"http://127.0.0.1:{port}/?token={http.token}"
        # opened, the browser's command line (read by anyone in `ps`) carries a 0600 file
        browser = home.root / "browser.sh"
        browser.write_text(f'#!/bin/sh\necho "$@" > {home.root / "argv"}\n')
        browser.chmod(0o755)
        env = {**daemon_env(), "BROWSER": str(browser)}
        cmd = [sys.executable, "-m", "earwig", "--config", str(home.config), "web"]
        subprocess.run(cmd, env=env, capture_output=True, timeout=60, check=True)
        argv = wait_for(lambda: (home.root / "argv").is_file() and (home.root / "argv"), 30)
        opened = argv.read_text().strip()
        assert http.token not in opened and opened.startswith("file:///"), opened
        page = Path(opened.removeprefix("file://"))
        assert page.stat().st_mode & 0o777 == 0o600
        assert f'url={link}"' in page.read_text()
        token_file = home.state / "http-token"
        assert token_file.stat().st_mode & 0o777 == 0o600

        http.client.post("/api/queue/pause")
        answer: list[Any] = []

        def ask() -> None:
            try:
                with speech_wav.open("rb") as fh:
                    answer.append(http.client.post("/v1/audio/transcriptions", files={"file": fh}))
            except httpx.HTTPError as exc:
                answer.append(exc)

        waiter = threading.Thread(target=ask)
        waiter.start()
        wait_for(lambda: any(j["source"] == "api" for j in http.api_jobs()), 30, what="the job")
        streams: list[tuple[str, Any]] = []
        ready = threading.Event()
        follower = threading.Thread(
            target=read_sse, args=(http, lambda events: False, streams, ready), daemon=True
        )
        follower.start()
        assert ready.wait(30)
        t0 = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - t0 < 10  # open streams end with the daemon, at once
        follower.join(10)
        assert not follower.is_alive()
        assert "Traceback" not in daemon.log()
        waiter.join(30)
        assert answer and (
            isinstance(answer[0], httpx.HTTPError) or answer[0].status_code == 503
        ), answer
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.kill()
    daemon = home.daemon().start()
    try:
        job = daemon.wait_job(
            lambda j: j["source"] == "api" and j["state"] == "done",
            120,
            what="the API job to finish after the restart",
        )
        assert job["attempts"] <= 1
        http = Http(daemon)
        text = http.client.get(f"/api/jobs/{job['id']}/transcript.txt").text
        assert wer(SAMPLE_TEXT, text) < 0.25
    finally:
        daemon.stop()
