"""One accept loop for the daemon's listening sockets (the Unix socket, the HTTP port).

Not asyncio's own (loop.create_server, asyncio.start_unix_server): at the file-descriptor
limit that one calls the loop's exception handler for every failed accept and schedules a
retry for each (measured: 1.09 million tracebacks, 444 MB of stderr, in three minutes of an
HTTP flood), and nothing can be refused before a protocol object exists. Here running out of
descriptors is one warning, then a line a minute with the count, while the clients already
queued wait in the backlog and are taken once descriptors free up; and the caller decides
about each connection before anything is built for it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable

ACCEPT_BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0)  # seconds between tries while out of them
REPORT_EVERY = 60.0  # seconds between log lines while it lasts
CALM_AFTER = 5.0  # seconds without a failure before "taking connections again" is said
GONE = (errno.ECONNABORTED, errno.EPROTO, errno.EINTR)  # that one client gave up


async def accept_forever(
    sock: socket.socket,
    take: Callable[[socket.socket, object], Awaitable[None] | None],
    log: logging.Logger,
    what: str = "connections",
) -> None:
    """Accept on `sock` for as long as the task runs, handing each connection and its peer
    address to `take` (awaited when it returns an awaitable). accept() failing (out of
    descriptors or memory) never ends the loop, or the daemon would run on deaf."""
    loop = asyncio.get_running_loop()
    failed = 0  # accept() failures since the last report
    tries = 0  # consecutive ones, for the back-off
    reported = -REPORT_EVERY  # when the last report was written (monotonic)
    last_failure: float | None = None  # None: not at the limit
    total = 0  # failures since the limit was reached
    while True:
        try:
            conn, peer = await loop.sock_accept(sock)
        except OSError as exc:
            if exc.errno in GONE:
                continue
            now = last_failure = time.monotonic()
            failed += 1
            total += 1
            if now - reported >= REPORT_EVERY:  # at most a line a minute, flapping or not
                log.warning(
                    "cannot take new %s: %s (%d tr%s since the last report); "
                    "clients wait until it passes",
                    what,
                    exc.strerror or exc,
                    failed,
                    "y" if failed == 1 else "ies",
                )
                failed, reported = 0, now
            await asyncio.sleep(ACCEPT_BACKOFF[min(tries, len(ACCEPT_BACKOFF) - 1)])
            tries += 1
            continue
        tries = 0
        if last_failure is not None and time.monotonic() - last_failure >= CALM_AFTER:
            log.info("taking %s again (%d tries had failed)", what, total)
            last_failure, failed, total = None, 0, 0
        pending = take(conn, peer)
        if pending is not None:
            await pending
