"""Firefox, driven over WebDriver BiDi: the protocol Firefox itself speaks (no geckodriver, no
Playwright build of Firefox, neither of which can be had here). Enough of it for the tests:
open a page, evaluate JavaScript, take a screenshot, and collect the page's errors.

    with Firefox("/usr/bin/firefox-esr", profile_dir) as ff:
        ff.navigate(url)
        ff.evaluate("document.title")
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("firefox", "firefox-esr")


def find_browser(variable: str, names: tuple[str, ...]) -> str | None:
    """The browser the environment variable names, else the first of `names` on PATH."""
    return os.environ.get(variable) or next(filter(None, map(shutil.which, names)), None)


def find_firefox() -> str | None:
    return find_browser("EARWIG_FIREFOX", CANDIDATES)


class BidiError(Exception):
    pass


class Firefox:
    def __init__(self, executable: str, profile: Path, width: int = 1280, height: int = 800):
        self.executable = executable
        self.profile = profile
        self.size = (width, height)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws: Any = None
        self.context = ""
        self.errors: list[str] = []
        self._next = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Firefox:
        from websockets.sync.client import connect

        from helpers import free_port

        self.profile.mkdir(parents=True, exist_ok=True)
        # No first-run pages, no updates, no telemetry: a quiet browser for a test
        (self.profile / "user.js").write_text(
            'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            'user_pref("app.update.enabled", false);\n'
            'user_pref("datareporting.policy.dataSubmissionEnabled", false);\n'
            'user_pref("toolkit.telemetry.enabled", false);\n'
            'user_pref("browser.aboutwelcome.enabled", false);\n'
            'user_pref("media.autoplay.default", 0);\n'
        )
        port = free_port()
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--headless",
                "--no-remote",
                "--profile",
                str(self.profile),
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOZ_HEADLESS": "1"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                ws = connect(f"ws://127.0.0.1:{port}/session", max_size=64 * 2**20)
                self.ws = self._stack.enter_context(ws)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BidiError("Firefox did not open its WebDriver BiDi port") from None
                time.sleep(0.2)
        self.send("session.new", capabilities={})
        self.send("session.subscribe", events=["log.entryAdded"])
        tree = self.send("browsingContext.getTree")
        self.context = tree["contexts"][0]["context"]
        w, h = self.size
        self.send(
            "browsingContext.setViewport", context=self.context, viewport={"width": w, "height": h}
        )
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.ws is not None:
                with contextlib.suppress(Exception):  # the browser may be gone already
                    self.send("session.end")
                self._stack.close()
        finally:
            if self.proc is not None:
                self.proc.terminate()
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        mine = self._next
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("type") == "event" or "method" in message:
                self._event(message)
                continue
            if message.get("id") != mine:
                continue
            if message.get("type") == "error" or "error" in message:
                raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message.get("result", {})

    def _event(self, message: dict[str, Any]) -> None:
        if message.get("method") != "log.entryAdded":
            return
        entry = message["params"]
        if entry.get("type") == "javascript" or entry.get("level") == "error":
            text = entry.get("text", "")
            if "Failed to load resource" in text or "401" in text:
                return  # an expected 401 (logged out) is not a page error
            self.errors.append(text)

    def navigate(self, url: str) -> None:
        self.send("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "script.evaluate",
            expression=expression,
            target={"context": self.context},
            awaitPromise=True,
        )
        if result.get("type") == "exception":
            raise BidiError(result["exceptionDetails"].get("text", "an exception"))
        return _value(result["result"])

    def wait(self, expression: str, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {expression}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> None:
        data = self.send("browsingContext.captureScreenshot", context=self.context)["data"]
        path.write_bytes(base64.b64decode(data))


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi RemoteValue as Python."""
    kind = remote.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        value = remote["value"]
        return float("nan") if value == "NaN" else value
    if kind == "array":
        return [_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k: _value(v) for k, v in remote.get("value", [])}
    return remote.get("value")
