"""Every answer the HTTP doors give is true (issue 35), end to end: a real daemon on loopback,
the openai SDK, requests shaped exactly as Bazarr's, and the real multilingual `base` model
from the tests' loopback hub where a test needs one.

- a stored transcript answers only a request made the way it was made: the model that MADE
  it, not the name a request used (tiny.en, then base, then tiny.en again; and after the
  configured model changes and the daemon restarts);
- an English-only daemon never answers another language with a 200: refused with the model
  to pull, or answered by a multilingual model on disk, saying so;
- the names clients give models, Bazarr's tokenless "Test connection", Host names given by
  compose services and containers, live `stream=true`, a forced language.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from conftest import SECOND_TEXT, Home
from earwig.speech import SAMPLE_TEXT, synthesize
from helpers import DaemonProcess, run_cli, wait_for, wer
from hubserver import Hub

GERMAN = (
    "Guten Morgen und herzlich willkommen zu unserer Sitzung. Heute sprechen wir über den "
    "Haushalt für das nächste Jahr, das neue Büro und die Sommerferien. Bitte schicken Sie "
    "Ihre Fragen bis Freitag an das Team."
)


class Http:
    def __init__(self, daemon: DaemonProcess, home: Home) -> None:
        self.daemon = daemon
        self.home = home
        info = daemon.http()
        self.url: str = info["url"].rstrip("/")
        self.token: str = info["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.client = httpx.Client(base_url=self.url, headers=self.auth, timeout=300)

    def api_jobs(self) -> list[dict[str, Any]]:
        return [j for j in self.client.get("/api/jobs").json()["jobs"] if j["source"] == "api"]

    def openai(self) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.url + "/v1", api_key=self.token, max_retries=0, timeout=300)


def pcm_of(wav: Path) -> bytes:
    """What Bazarr sends: s16le mono 16 kHz, no header (encode=false)."""
    import numpy as np

    from earwig.transcribe.audio import decode

    return (np.clip(decode(wav), -1, 1) * 32767).astype("<i2").tobytes()


def bazarr(http: Http, path: str, pcm: bytes, **params: str) -> httpx.Response:
    """A request as Bazarr's Whisper provider sends it: the token in the endpoint's path,
    raw PCM as `audio_file` named audio_file, encode=false."""
    return httpx.post(
        f"{http.url}/t/{http.token}{path}",
        params={**params, "encode": "false"},
        files={"audio_file": ("audio_file", pcm)},
        timeout=300,
    )


def warnings_of(r: httpx.Response) -> str:
    return unquote(r.headers.get("x-earwig-warnings", ""))


@pytest.fixture(scope="module")
def german_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(GERMAN, tmp_path_factory.mktemp("german") / "sitzung.wav", voice="de")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Http]:
    """A daemon with the bundled English-only model and nothing else on disk."""
    root = tmp_path_factory.mktemp("english-only")
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    with pytest.MonkeyPatch.context() as mp:
        (root / "home").mkdir()
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("HF_HUB_CACHE", str(root / "hf-cache"))  # empty: no multilingual model
        home = Home(root / "earwig", runtime, models_dir)
        home.write_config(http='listen = "127.0.0.1:0"')
        daemon = home.daemon().start()
    try:
        yield Http(daemon, home)
    finally:
        daemon.stop()
        shutil.rmtree(runtime, ignore_errors=True)


# ---------------------------------------------------------------- English-only, nothing else


def test_an_english_only_daemon_refuses_other_languages_with_the_model_to_pull(
    bundled: Http, german_wav: Path
) -> None:
    import openai

    german = pcm_of(german_wav)
    for params in (
        {"task": "transcribe", "language": "de", "output": "srt"},
        {"task": "translate", "language": "de", "output": "srt"},
    ):
        r = bazarr(bundled, "/asr", german, **params)
        assert r.status_code == 422, (params, r.text)
        assert not r.text.startswith("1\n")  # Bazarr stores any body: never a subtitle
        error = r.json()["error"]
        assert error["code"] == "english_only_model" and "earwig models pull base" in error["hint"]
    with pytest.raises(openai.UnprocessableEntityError) as err, german_wav.open("rb") as fh:
        bundled.openai().audio.translations.create(model="whisper-1", file=fh)
    assert "English-only" in err.value.body["message"]  # type: ignore[index]
    r = bazarr(bundled, "/detect-language", german)  # never "english, 1.0" for German
    assert r.status_code == 422 and "cannot tell which language" in r.json()["error"]["message"]
    assert not [j for j in bundled.api_jobs() if j["state"] not in ("done", "cancelled")]


def test_english_is_still_found_and_another_language_heard_carries_its_warning(
    bundled: Http, speech_wav: Path, german_wav: Path
) -> None:
    r = bazarr(bundled, "/detect-language", pcm_of(speech_wav))
    assert r.status_code == 200 and r.json()["language_code"] == "en", r.text
    with german_wav.open("rb") as fh:  # no language given: it is transcribed, and said so
        r = bundled.client.post(
            "/v1/audio/transcriptions",
            files={"file": ("sitzung.wav", fh)},
            data={"response_format": "verbose_json"},
        )
    assert r.status_code == 200, r.text
    assert "English-only" in warnings_of(r)
    assert any("English-only" in w for w in r.json()["warnings"])


def test_model_names_clients_use(bundled: Http, speech_wav: Path) -> None:
    import openai

    client = bundled.openai()
    ids = [m.id for m in client.models.list()]
    assert {"whisper-1", "bundled", "tiny.en", "Systran/faster-whisper-tiny.en"} <= set(ids)
    assert client.models.retrieve("Systran/faster-whisper-tiny.en").id == (
        "Systran/faster-whisper-tiny.en"
    )
    missing = bundled.client.get("/v1/models/large-v3")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "model"
    for name in ("tiny.en", "Systran/faster-whisper-tiny.en"):
        with speech_wav.open("rb") as fh:
            text = client.audio.transcriptions.create(model=name, file=fh, response_format="text")
        assert wer(SAMPLE_TEXT, str(text)) < 0.3, name
    with pytest.raises(openai.BadRequestError) as err, speech_wav.open("rb") as fh:
        client.audio.transcriptions.create(model="Systran/faster-whisper-small", file=fh)
    body: Any = err.value.body
    assert (body["code"], body["param"]) == ("model_not_installed", "model")
    assert "earwig models pull small" in body["hint"]


def test_bazarrs_test_connection_and_names_from_compose_and_containers(bundled: Http) -> None:
    # Bazarr keeps only the host of http://HOST:PORT/t/TOKEN and sends a tokenless GET /status
    r = httpx.get(bundled.url + "/status", headers={"User-Agent": "Subliminal/2.1"})
    assert r.status_code == 200 and r.json() == {"version": r.json()["version"]}
    full = bundled.client.get("/status").json()
    assert full["engine"] == "earwig" and full["model"]
    for name in ("earwig", "host.docker.internal", "nas.local"):
        r = bundled.client.get("/api/status", headers={"Host": f"{name}:8327"})
        assert r.status_code == 200, name
    r = bundled.client.get("/api/status", headers={"Host": "nas.example.com:8327"})
    assert r.status_code == 403 and 'hosts = ["nas.example.com"]' in r.json()["error"]["hint"]
    stranger = httpx.get(bundled.url + "/api/status", headers={"Authorization": "Bearer nope"})
    assert "not this daemon's" in stranger.json()["error"]["message"]


def test_stream_sends_each_line_as_it_is_transcribed(
    bundled: Http, long_wav: Path, tmp_path: Path
) -> None:
    clip = tmp_path / "long stream.wav"
    clip.write_bytes(long_wav.read_bytes() + b"\0\0")  # content of its own: a job, not a copy
    seen: list[tuple[dict[str, Any], str]] = []  # each event, and its job's state then
    with (
        clip.open("rb") as fh,
        bundled.client.stream(
            "POST",
            "/v1/audio/transcriptions",
            files={"file": ("long stream.wav", fh)},
            data={"stream": "true", "response_format": "json"},
        ) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                job = next(j for j in bundled.api_jobs() if j["title"] == "long stream.wav")
                seen.append((event, job["state"]))
    kinds = [e["type"] for e, _ in seen]
    assert kinds[-1] == "transcript.text.done" and kinds.count("transcript.text.delta") >= 2
    assert seen[0][1] == "transcribing", seen[0]  # the first line came while it still ran
    done = seen[-1][0]["text"]
    assert wer(" ".join([SAMPLE_TEXT, SECOND_TEXT] * 4), done) < 0.3


def test_a_client_that_hangs_up_leaves_no_upload_behind(bundled: Http, second_wav: Path) -> None:
    bundled.client.post("/api/queue/pause")
    try:
        with pytest.raises(httpx.TimeoutException), second_wav.open("rb") as fh:
            bundled.client.post("/v1/audio/transcriptions", files={"file": fh}, timeout=3)
        wait_for(
            lambda: any(j["state"] == "cancelled" for j in bundled.api_jobs()),
            30,
            what="the abandoned job to be cancelled",
        )
    finally:
        bundled.client.post("/api/queue/resume")
    cache = bundled.home.media / "api"  # [downloads] dir: where requests' uploads go
    assert cache.is_dir()
    wait_for(lambda: not list(cache.glob("upload-*")), 30, what="the upload's folder to go")


# ---------------------------------------------------------------- with base on disk


def test_each_answer_is_made_by_the_model_asked_for_and_base_stands_in(
    hub: Hub, home: Home, speech_wav: Path, german_wav: Path
) -> None:
    """The same audio through tiny.en, then base, then tiny.en again; then the configured
    model switched to base and back, with restarts. And with base on disk, what the
    English-only bundled model cannot do is done by base, and the answer says so."""
    pulled = run_cli(home.config, "models", "pull", "base", timeout=600)
    assert pulled.returncode == 0, pulled.stderr
    home.write_config(http='listen = "127.0.0.1:0"')
    daemon = home.daemon().start()
    try:
        http = Http(daemon, home)
        client = http.openai()

        def ask(model: str) -> str:
            with speech_wav.open("rb") as fh:
                return str(
                    client.audio.transcriptions.create(model=model, file=fh, response_format="text")
                )

        tiny_text = ask("tiny.en")
        assert len(http.api_jobs()) == 1
        base_text = ask("Systran/faster-whisper-base")  # by its Hugging Face id
        made = {j["id"]: j for j in http.api_jobs()}
        assert len(made) == 2, made  # base made its own, tiny.en's did not answer
        (base_job,) = [j for j in made.values() if j["model_request"] == "base"]
        assert base_job["model"] == "base"
        assert ask("tiny.en") == tiny_text and len(http.api_jobs()) == 2  # tiny.en's again
        assert ask("base") == base_text and len(http.api_jobs()) == 2
        # Bazarr asks for German: base answers (tiny.en cannot), and the answer says so
        r = bazarr(http, "/asr", pcm_of(german_wav), task="transcribe", language="de", output="srt")
        assert r.status_code == 200 and r.text.startswith("1\n"), r.text
        assert "English-only" in warnings_of(r) and "base" in warnings_of(r)
        r = bazarr(http, "/detect-language", pcm_of(german_wav))
        assert r.status_code == 200 and r.json()["language_code"] != "en", r.text
        assert "base" in warnings_of(r)
    finally:
        daemon.stop()
    # [transcribe] model switched to base, daemon restarted: the old tiny.en text never answers
    home.write_config(transcribe='model = "base"', http='listen = "127.0.0.1:0"')
    daemon = home.daemon().start()
    try:
        http = Http(daemon, home)
        before = len(http.api_jobs())
        with speech_wav.open("rb") as fh:
            r = http.client.post(
                "/v1/audio/transcriptions", files={"file": fh}, data={"response_format": "text"}
            )
        assert r.text.strip() == base_text.strip() and len(http.api_jobs()) == before
        # whisper-asr-webservice forces a language it is given: English, for German audio
        r = http.client.post(
            "/asr",
            params={"language": "en", "output": "json"},
            files={"audio_file": ("sitzung.wav", german_wav.read_bytes())},
        )
        assert r.status_code == 200 and r.json()["language"] == "en", r.text
        assert all(s.get("language") in (None, "en") for s in r.json()["segments"])
    finally:
        daemon.stop()
    home.write_config(http='listen = "127.0.0.1:0"')  # back to the bundled tiny.en
    daemon = home.daemon().start()
    try:
        http = Http(daemon, home)
        before = len(http.api_jobs())
        with speech_wav.open("rb") as fh:
            r = http.client.post(
                "/v1/audio/transcriptions", files={"file": fh}, data={"response_format": "text"}
            )
        assert r.text.strip() == tiny_text.strip() and len(http.api_jobs()) == before
    finally:
        daemon.stop()
