"""What runs when a job finishes or fails: a command, a webhook, a desktop notification.

Commands get the job as JSON on stdin and its paths in environment variables; they are run
directly (argv, never through a shell), with a timeout. Webhooks are JSON POSTs, retried with
backoff. Whatever a hook does (exit 1, hang, crash, 500), it is logged and never changes the
job: the transcript is already safe when hooks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from earwig import __version__
from earwig.config import HooksConfig
from earwig.protocol import JobView
from earwig.redact import safe_environment

log = logging.getLogger("earwig.hooks")
WEBHOOK_ATTEMPTS = 3


def job_environment(job: JobView) -> dict[str, str]:
    outputs = job.get("outputs") or []
    by_ext = {os.path.splitext(p)[1].lstrip("."): p for p in outputs}
    values = {
        "EARWIG_JOB_ID": job.get("id"),
        "EARWIG_JOB_STATE": job.get("state"),
        "EARWIG_JOB_TITLE": job.get("title"),
        "EARWIG_SOURCE": job.get("path") or job.get("url"),
        "EARWIG_MEDIA_PATH": job.get("path"),
        "EARWIG_URL": job.get("url"),
        "EARWIG_SUBSCRIPTION": job.get("subscription"),
        "EARWIG_ERROR": job.get("error"),
        "EARWIG_OUTPUTS": os.pathsep.join(outputs),
        **{f"EARWIG_TRANSCRIPT_{ext.upper()}": path for ext, path in by_ext.items()},
    }
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


class Hooks:
    def __init__(
        self,
        settings: Callable[[], HooksConfig],
        secret_env: Callable[[], str | list[str]],
        log: Callable[[str, str, int | None], None],
    ) -> None:
        self.settings = settings  # read per job: a reload of [hooks] applies at once
        self.secret_env = secret_env  # the API keys' variables, kept out of hook environments
        self.log = log
        self._tasks: set[asyncio.Task] = set()

    @property
    def config(self) -> HooksConfig:
        return self.settings()

    @property
    def config_key_env(self) -> list[str]:
        names = self.secret_env()
        return [names] if isinstance(names, str) else names

    def fire(self, job: JobView) -> None:
        """Start the hooks for a finished (done or failed) job, without waiting for them."""
        if not self.config.any:
            return
        task = asyncio.create_task(self._run_all(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self, timeout: float) -> None:
        """Let running hooks finish at shutdown (bounded)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def _run_all(self, job: JobView) -> None:
        cfg = self.config
        event = "job.done" if job.get("state") == "done" else "job.failed"
        command = cfg.on_done if event == "job.done" else cfg.on_fail
        runs = []
        if command:
            runs.append(self._command(command, job))
        if cfg.webhook:
            runs.append(asyncio.to_thread(self._webhook, cfg.webhook, event, job))
        if cfg.notify:
            runs.append(self._notify(job))
        for result in await asyncio.gather(*runs, return_exceptions=True):
            if isinstance(result, BaseException):
                log.error("hook crashed for job %s: %r", job.get("id"), result)

    async def _command(self, argv: tuple[str, ...], job: JobView) -> None:
        say, job_id = self.log, job.get("id")
        name = os.path.basename(argv[0])
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={
                    **safe_environment(os.environ, self.config_key_env),
                    **job_environment(job),
                },
                start_new_session=True,
            )
        except OSError as exc:
            say("warning", f"hook {name} could not start: {exc}", job_id)
            return
        try:
            out, _ = await asyncio.wait_for(
                proc.communicate(json.dumps(job).encode()), self.config.timeout
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            await proc.wait()
            say("warning", f"hook {name} timed out after {self.config.timeout:.0f}s", job_id)
            return
        if proc.returncode:
            tail = out.decode(errors="replace").strip()[-300:]
            say("warning", f"hook {name} exited with {proc.returncode}: {tail}", job_id)
        else:
            say("info", f"hook {name} ran", job_id)

    def _webhook(self, url: str, event: str, job: JobView) -> None:
        """Runs in a thread. The URL may hold a token: it is never logged in full."""
        import time

        body = json.dumps({"event": event, "job": job}).encode()
        shown = url.split("?", 1)[0]
        last = ""
        for attempt in range(WEBHOOK_ATTEMPTS):
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": f"earwig/{__version__}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    response.read()
                log.info("webhook %s accepted job %s", shown, job.get("id"))
                return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    break
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            time.sleep(2**attempt)
        log.warning("webhook %s failed for job %s: %s", shown, job.get("id"), last)

    async def _notify(self, job: JobView) -> None:
        title = "earwig: transcript ready" if job.get("state") == "done" else "earwig: job failed"
        text = str(job.get("title"))
        if sys.platform == "darwin" and shutil.which("osascript"):
            script = f"display notification {json.dumps(text)} with title {json.dumps(title)}"
            argv = ["osascript", "-e", script]
        elif shutil.which("notify-send"):
            argv = ["notify-send", "--app-name=earwig", title, text]
        else:
            return
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
