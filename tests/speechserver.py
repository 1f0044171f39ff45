"""A real OpenAI-compatible speech server for tests: PyPI's faster-whisper-server running the
bundled model on 127.0.0.1, which can be killed and started again on the same port, and a
small proxy in front of it that counts requests, can demand a key and can answer 503."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from earwig.transcribe import models
from helpers import free_port, wait_for


class SpeechServer:
    def __init__(self, log: Path, port: int | None = None) -> None:
        self.log = log
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> SpeechServer:
        model_dir, _ = models.resolve_ctranslate2("bundled")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "faster_whisper_server",
                    str(model_dir),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.healthy, 120, what=f"faster-whisper-server on {self.port} to answer")
        return self

    def healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """Gone at once, mid-request if there is one (SIGKILL): a server that dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def __enter__(self) -> SpeechServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Proxy:
    """Forwards to the server; can demand a key and fail the first N requests with 503."""

    def __init__(self, upstream: str, key: str | None = None, fail_first: int = 0) -> None:
        self.posts = 0
        self.bodies: list[bytes] = []
        self.in_flight = threading.Event()  # set when a POST is being forwarded
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.posts += 1
                proxy.bodies.append(body)
                if key and self.headers.get("Authorization") != f"Bearer {key}":
                    return self._send(401, b'{"error":{"message":"Incorrect API key provided"}}')
                if proxy.posts <= fail_first:
                    return self._send(503, b'{"error":{"message":"overloaded"}}')
                req = urllib.request.Request(
                    upstream + self.path,
                    data=body,
                    headers={"Content-Type": self.headers["Content-Type"]},
                )
                proxy.in_flight.set()
                self._forward(req)

            def do_GET(self) -> None:  # health probes go through too
                self._forward(urllib.request.Request(upstream + self.path))

            def _forward(self, req: urllib.request.Request) -> None:
                try:
                    with urllib.request.urlopen(req, timeout=300) as r:
                        self._send(r.status, r.read())
                except urllib.error.HTTPError as exc:
                    self._send(exc.code, exc.read())
                except OSError as exc:  # the server died: what a reverse proxy answers
                    self._send(502, f'{{"error":{{"message":"bad gateway: {exc}"}}}}'.encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
