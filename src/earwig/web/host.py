"""What the HTTP door may use of the daemon: `Host`, declared here and nowhere else.

The socket's requests already have theirs (daemon/handlers.Api); the door needs those (/api
is the same requests) and a little more: the API jobs' service for transcription requests,
the stop event its streams end on, and the log. The daemon (daemon/app.Daemon) satisfies
this structurally, so web/ never names the daemon's wiring, and mypy checks both sides at
the one place they meet (`HttpServer(self, ...)` in the daemon's composition root).
Handlers get it by dependency (`host: HostDep`): Litestar injects it without validating it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeAlias

from litestar.params import SkipValidation

from earwig.daemon.apijobs import ApiJobs
from earwig.daemon.handlers import Api
from earwig.mediaservers.service import MediaServers


class Host(Api, Protocol):
    """The daemon as the door sees it."""

    apijobs: ApiJobs
    mediaservers: MediaServers  # webhooks in (web/doors/hooks.py)
    stop: asyncio.Event  # set when the daemon stops: waiting requests and streams end

    def log(self, level: str, message: str, job_id: int | None = None) -> None: ...


# A handler's parameter `host: HostDep` is the Host, given by the app's dependency "host"
HostDep: TypeAlias = SkipValidation[Host]
