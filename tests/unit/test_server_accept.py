"""The daemon's accept loop when accept() fails (the fd limit): a real Unix socket whose
accept() answers EMFILE a number of times, as the kernel does at the limit, and a real client
that gets its welcome once it passes. (tests/integration/test_client_failures.py does the same
to a real daemon under a lowered RLIMIT_NOFILE; there the timing decides how often it tries.)"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

from earwig.client import DaemonClient
from earwig.daemon import accepting
from earwig.daemon import server as server_mod
from earwig.daemon.bus import Bus


class Exhausted(socket.socket):
    """A listening socket at the fd limit for its first `failures` accepts."""

    failures = 0

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_many_failed_accepts_are_one_line_and_the_next_client_is_served(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(accepting, "ACCEPT_BACKOFF", (0.01,))
    monkeypatch.setattr(accepting, "CALM_AFTER", 0.0)
    path = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp")) / "s.sock"
    listener = Exhausted(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    listener.setblocking(False)
    listener.failures = 25

    async def main() -> str:
        server = server_mod.Server(None, Bus(), path)  # type: ignore[arg-type]
        accepting = asyncio.create_task(server._accept(listener))
        try:

            def hello() -> str:
                with DaemonClient(path, timeout=10) as client:  # waits in the backlog
                    assert client.server is not None
                    return client.server["type"]

            return await asyncio.to_thread(hello)
        finally:
            accepting.cancel()
            await server.close()

    with caplog.at_level(logging.INFO, logger="earwig.server"):
        assert asyncio.run(main()) == "welcome"
    listener.close()
    path.parent.rmdir()
    said = [r.getMessage() for r in caplog.records if r.name == "earwig.server"]
    assert listener.failures == 0
    assert len([m for m in said if "cannot take new connections" in m]) == 1, said
    assert "taking connections again (25 tries had failed)" in said, said
