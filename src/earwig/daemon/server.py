"""The Unix-socket server: handshake, framing, peer checks; requests go to daemon/dispatch.py.

Nothing a client sends can take the daemon down: a bad line, an oversized line, an unknown
request or a handler error becomes an error reply on that connection, and the connection (and
every other one) keeps being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from earwig import __version__, protocol
from earwig.daemon import dispatch
from earwig.daemon.accepting import accept_forever
from earwig.daemon.bus import Bus, Outbox
from earwig.daemon.handlers import Api
from earwig.errors import ProtocolError, VersionMismatch
from earwig.paths import ensure_private_dir

log = logging.getLogger("earwig.server")


def peer_uid(sock: Any) -> int | None:
    """The uid of the process at the other end of a Unix socket, where the OS tells us."""
    if sys.platform.startswith("linux"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1]
    return None  # elsewhere the 0700 directory is the guard


class Server:
    def __init__(self, api: Api, bus: Bus, path: Path) -> None:
        self.api = api  # what the request handlers may ask of the daemon
        self.bus = bus
        self.path = path
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        ensure_private_dir(self.path.parent)
        self.path.unlink(missing_ok=True)  # stale: we hold the instance lock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is created 0600, never briefly wider
        try:
            sock.bind(str(self.path))
        except BaseException:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(128)
        sock.setblocking(False)
        self._listener = sock
        self._accepting = asyncio.create_task(self._accept(sock), name="earwig:accept")

    async def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        if self._listener is not None:
            self._listener.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(BaseException):
                await task
        self.path.unlink(missing_ok=True)

    async def _accept(self, sock: socket.socket) -> None:
        """Take connections for as long as the daemon runs (daemon/accepting.py: at the
        descriptor limit, a line a minute instead of a traceback a try)."""
        await accept_forever(sock, self._take, log)

    def _take(self, conn: socket.socket, peer: object) -> None:
        task = asyncio.create_task(self._open(conn))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _open(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn, limit=protocol.MAX_LINE)
        except OSError:
            conn.close()
            return
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        box = Outbox(writer)
        try:
            uid = peer_uid(writer.get_extra_info("socket"))
            if uid is not None and uid != os.getuid():
                log.warning("refused a connection from uid %s", uid)
                # Let the client's hello arrive first, so the refusal is read as the answer
                # to it instead of the client writing into a closed socket (EPIPE).
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(reader.readline(), 2)
                box.reply(protocol.error(None, "forbidden", "this daemon belongs to another user"))
                return
            await self._converse(reader, box)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the daemon is stopping (close): the connection ends, nothing to report
        finally:
            self.bus.detach(box)
            await box.close()

    async def _converse(self, reader: asyncio.StreamReader, box: Outbox) -> None:
        lines = protocol.LineBuffer()
        greeted = False
        while data := await reader.read(65536):
            for line in lines.feed(data):
                if isinstance(line, protocol.TooLong):
                    box.reply(
                        protocol.error(
                            None,
                            "too_long",
                            f"line of {line.size} bytes exceeds the limit of {protocol.MAX_LINE}",
                        )
                    )
                    continue
                try:
                    message = protocol.decode(line)
                    if not greeted:
                        protocol.check_hello(message)
                        box.reply(dict(protocol.welcome(__version__, os.getpid())))
                        greeted = True
                        continue
                except VersionMismatch as exc:
                    box.reply(protocol.error(None, exc.code, exc.message, exc.hint))
                    return  # say so, then hang up: nothing else can be understood
                except ProtocolError as exc:
                    box.reply(protocol.error(None, exc.code, exc.message, exc.hint))
                    continue
                box.reply(await dispatch.answer(self.api, message, box))
                await box.room()  # backpressure: stop reading a client that does not read
                await asyncio.sleep(0)  # one busy client does not starve the others
