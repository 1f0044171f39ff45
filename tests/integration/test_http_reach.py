"""A network client never reads what only the daemon's machine can reach (issue 41, item 1).

A real daemon serving HTTP, an internal service on 127.0.0.1 holding a secret, a secret file
in the daemon user's home, and a "public" server (127.0.0.2, the one address [http]
private_networks lets in, standing for the internet) that leads to the internal service by
redirect, through `localhost`, to file: and by a page's embedded media. A client with the
token tries every way in through /api/jobs, /api/ws, /api/subscriptions and /v1, and reads
back every answer, job, log line and media it can; the secret never comes back, the internal
service sees no request, and a public URL still works."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SECOND_TEXT, Home
from earwig import protocol as p
from helpers import DaemonProcess, wait_for, wer
from httpserver import LocalServer, rss

SECRET = "hunter2-internal-only"
PUBLIC = "127.0.0.2"


class Client:
    def __init__(self, daemon: DaemonProcess) -> None:
        info = daemon.http()
        self.daemon = daemon
        self.url = info["url"].rstrip("/")
        self.token = info["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.http = httpx.Client(base_url=self.url, headers=self.auth, timeout=120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("reach")
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    (root / "home").mkdir()
    secret_file = root / "home" / "secret.txt"
    secret_file.write_text(f"password = {SECRET}\n")
    opened = root / "open"
    opened.mkdir()
    with (
        LocalServer() as internal,
        LocalServer(PUBLIC) as public,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("HOME", str(root / "home"))
        internal.add("/admin.json", body=json.dumps({"secret": SECRET}).encode())
        internal.add("/secret.mp3", body=SECRET.encode() * 100, content_type="audio/mpeg")
        internal.add("/feed.xml", body=rss([]), content_type="application/rss+xml")
        home = Home(root / "earwig", runtime, models_dir)
        home.write_config(
            http=(
                'listen = "127.0.0.1:0"\n'
                f'private_networks = ["{PUBLIC}/32"]\n'
                f'folders = ["{opened}"]'
            )
        )
        daemon = home.daemon().start()
        try:
            yield {
                "client": Client(daemon),
                "internal": internal,
                "public": public,
                "secret_file": secret_file,
                "open": opened,
                "home": home,
            }
        finally:
            daemon.stop()
            shutil.rmtree(runtime, ignore_errors=True)


def leaks(text: str) -> bool:
    return SECRET in text


def ended(job_id: int, state: str) -> Callable[[p.JobView], bool]:
    return lambda j: j["id"] == job_id and j["state"] == state


def failed(job_id: int) -> Callable[[p.JobView], bool]:
    return ended(job_id, "failed")


def test_every_way_in_is_refused_and_nothing_comes_back(world: dict[str, Any]) -> None:
    c: Client = world["client"]
    internal: LocalServer = world["internal"]
    public: LocalServer = world["public"]
    secret_file: Path = world["secret_file"]
    port = internal.port
    public.add("/to-loopback.mp3", status=302, headers={"Location": internal.url("/admin.json")})
    public.add(
        "/to-localhost", status=302, headers={"Location": f"http://localhost:{port}/admin.json"}
    )
    public.add("/to-file.mp3", status=302, headers={"Location": f"file://{secret_file}"})
    page = f'<html><body><audio src="{internal.url("/secret.mp3")}"></audio></body></html>'
    public.add("/page.html", body=page.encode(), content_type="text/html")

    refused_now = [
        str(secret_file),  # a server path
        f"{secret_file.parent}/../home/secret.txt",
        f"file://{secret_file}",
        f"FILE:{secret_file}",
        internal.url("/admin.json"),
        f"http://localhost:{port}/admin.json",
        f"http://127.1:{port}/admin.json",
        f"http://2130706433:{port}/admin.json",
        f"http://0x7f.0.0.1:{port}/admin.json",
        f"http://0.0.0.0:{port}/admin.json",
        f"http://[::1]:{port}/admin.json",
        f"http://[::ffff:127.0.0.1]:{port}/admin.json",
        f"ftp://127.0.0.1:{port}/admin.json",
        "http://169.254.169.254/latest/meta-data/iam/",
    ]
    refused_later = [  # public at submission; led inward at download time
        public.url("/to-loopback.mp3"),
        public.url("/to-localhost"),
        public.url("/to-file.mp3"),
        public.url("/page.html"),
    ]
    answers: list[str] = []
    r = c.http.post("/api/jobs", json={"urls": refused_now + refused_later})
    answers.append(r.text)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(refused_now) + len(refused_later)
    for item, result in zip(refused_now, results, strict=False):
        assert "error" in result and "job" not in result, (item, result)
    assert "a path on the daemon's machine" in results[0]["error"]
    assert "[http] folders" in results[0]["hint"]
    assert "127.0.0.1" in results[4]["error"] and "loopback" in results[4]["error"]
    assert "private_networks" in results[4]["hint"]
    later = [res["job"]["id"] for res in results[len(refused_now) :]]
    assert len(later) == len(refused_later)
    for job_id in later:
        job = c.daemon.wait_job(failed(job_id), 120)
        assert job["source"] == "http"
        error = job["error"] or ""
        if job_id != later[2]:  # the file: redirect fails on its own: never followed
            assert "127.0.0.1" in error and "refused" in error, job
        media = c.http.get(f"/api/jobs/{job_id}/media")
        assert media.status_code == 404, media.text
        answers += [media.text, c.http.get(f"/api/jobs/{job_id}").text]

    # the same through the WebSocket's socket requests, and a subscription
    from websockets.sync.client import connect

    with connect(c.url.replace("http", "ws") + "/api/ws", additional_headers=c.auth) as ws:
        json.loads(ws.recv(30))  # the snapshot
        ws.send(json.dumps({"id": 1, "type": "job.add", "params": {"paths": [str(secret_file)]}}))
        reply = json.loads(ws.recv(30))
        while reply.get("id") != 1:
            reply = json.loads(ws.recv(30))
        answers.append(json.dumps(reply))
        assert "error" in reply["result"]["results"][0], reply
    sub = c.http.post("/api/subscriptions", json={"url": internal.url("/feed.xml"), "name": "x"})
    answers.append(sub.text)
    assert sub.status_code == 403 and sub.json()["error"]["code"] == "refused", sub.text

    # /v1 takes uploads only: a file name that is a path is just a name
    v1 = c.http.post(
        "/v1/audio/transcriptions",
        files={"file": (str(secret_file), b"not audio at all", "audio/wav")},
        data={"model": "whisper-1"},
    )
    answers.append(v1.text)
    assert v1.status_code == 400, v1.text

    answers += [
        c.http.get("/api/jobs").text,
        c.http.get("/api/logs", params={"limit": 500}).text,
        c.http.get("/api/subscriptions").text,
    ]
    assert not [a for a in answers if leaks(a)]
    assert internal.count() == 0, [r.path for r in internal.requests]


def test_media_is_served_only_once_it_decoded_as_audio(world: dict[str, Any]) -> None:
    """A local user's own mistake (a text file added by path over the socket) fails as not
    media; its bytes are not served to a network client."""
    c: Client = world["client"]
    secret_file: Path = world["secret_file"]
    added = c.daemon.call(p.AddJobs(paths=[str(secret_file)], force=True))
    job_id = added["results"][0]["job"]["id"]
    c.daemon.wait_job(failed(job_id), 120)
    r = c.http.get(f"/api/jobs/{job_id}/media")
    assert r.status_code == 404 and not leaks(r.text)
    assert r.json()["error"]["code"] == "no_media"


def test_public_urls_and_open_folders_still_work(world: dict[str, Any], second_wav: Path) -> None:
    c: Client = world["client"]
    public: LocalServer = world["public"]
    opened: Path = world["open"]
    url = public.add("/media/morning.wav", body=second_wav.read_bytes(), content_type="audio/wav")
    local = opened / "kept.wav"
    shutil.copy(second_wav, local)
    local.write_bytes(local.read_bytes()[:-2] + b"\x01\x00")  # other content: not a duplicate
    r = c.http.post("/api/jobs", json={"urls": [url, str(local)]})
    ids = [res["job"]["id"] for res in r.json()["results"]]
    assert len(ids) == 2, r.text
    for job_id in ids:
        c.daemon.wait_job(ended(job_id, "done"), 180)
    text = c.http.get(f"/api/jobs/{ids[0]}/transcript.txt").text
    assert wer(SECOND_TEXT, text) < 0.25
    media = c.http.get(f"/api/jobs/{ids[0]}/media")
    assert media.status_code == 200 and media.headers["content-type"] == "audio/x-wav"
    assert media.headers["x-content-type-options"] == "nosniff"
    wait_for(lambda: c.http.get(f"/api/jobs/{ids[1]}").json()["job"]["source"] == "http")
