"""The HTTP server as one of the daemon's supervised parts, in the daemon's own loop.

uvicorn serves the Litestar app on a socket bound here (so port 0 reports the port the OS
chose, and a taken port is seen before uvicorn starts). A taken port is a warning in the
log and in `earwig status`, tried again with back-off (1 s doubling to a minute) while the
rest of the daemon runs on; a server that crashes is restarted by the supervisor and shown
there too. uvicorn's own signal handlers are switched off: SIGTERM and SIGINT stay the
daemon's, which stops this part (and its streams, after a short grace) with the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Generator
from typing import Any

import uvicorn

from earwig import protocol, reach
from earwig.config import split_listen
from earwig.daemon.accepting import accept_forever
from earwig.web import connections
from earwig.web.app import build
from earwig.web.guard import Guard, in_networks
from earwig.web.host import Host
from earwig.web.token import load_or_create

log = logging.getLogger("earwig.http")
FIRST_RETRY, MAX_RETRY = 1.0, 60.0
GRACE = 2.0  # seconds open streams get when the daemon stops


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon owns SIGTERM/SIGINT; it stops us through should_exit


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"http://{shown}:{port}/"


def listening_line(host: str, port: int) -> str:
    """The log's line for a listening server: on every address (a container's 0.0.0.0) it
    says so, and names the loopback URL as this machine's way in, not as the only one."""
    url = url_of(host, port)
    if host in ("0.0.0.0", "::"):
        where = f"every address, port {port} (from this machine: {url})"
    else:
        where = url
    return f"HTTP on {where} (the page: `earwig web`; API token: `earwig token`)"


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on host:port (port 0: the OS picks one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP,
    # and without it each answer waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class HttpServer:
    """The daemon's HTTP part (daemon/app.HttpPart): `run` until stopped, `view` for status."""

    def __init__(self, daemon: Host, listen: str) -> None:
        self.daemon = daemon
        self.listen = listen
        self.host, self.port = split_listen(listen)
        self.token = load_or_create(daemon.config.daemon.state_dir)
        app: Any = build(daemon)  # an ASGI app; Litestar's types are narrower
        self.app = Guard(
            app,
            lambda: daemon.config.http,
            self.token,
            lambda: self.host,
            lambda: reach.for_clients(daemon.config),
        )
        self.state = "starting"
        self.bound: tuple[str, int] | None = None
        self.error: str | None = None
        self.retry_at: float | None = None

    def view(self) -> protocol.HttpView:
        view: protocol.HttpView = {"state": self.state, "configured": self.listen}
        if self.bound is not None:
            host, port = self.bound
            shown = f"[{host}]" if ":" in host else host
            view["listen"] = f"{shown}:{port}"
            view["url"] = url_of(host, port)
        if self.error:
            view["error"] = self.error
            view["retry_at"] = self.retry_at
        return view

    async def run(self, stop: asyncio.Event) -> None:
        backoff = FIRST_RETRY
        while not stop.is_set():
            try:
                sock = bind_tcp(self.host, self.port)
            except OSError as exc:
                taken = exc.errno == errno.EADDRINUSE
                self.state = "port taken" if taken else "cannot listen"
                why = (
                    "the port is taken (another earwig? another program?)"
                    if taken
                    else (exc.strerror or str(exc))
                )
                self.error = f"cannot listen on {self.listen}: {why}"
                self.retry_at = time.time() + backoff
                self.daemon.log(
                    "warning",
                    f"HTTP: {self.error}; trying again in {backoff:.0f}s "
                    '(set [http] listen to another port, or "" for none)',
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(MAX_RETRY, backoff * 2)
                continue
            await self._serve(sock, stop)
            return

    async def _serve(self, sock: socket.socket, stop: asyncio.Event) -> None:
        gate = connections.Gate(exempt=self._is_proxy)
        http_protocol, ws_protocol = connections.protocols(gate)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(GRACE),
            ws_ping_interval=20.0,
            # the client's address is the socket's peer; X-Forwarded-For is read by the
            # guard, and only from a proxy listed in [http] proxies (uvicorn's own default
            # believed it from any local process)
            proxy_headers=False,
            http=http_protocol,
            ws=ws_protocol,
        )
        server = _Uvicorn(config)
        # uvicorn gets no socket: connections come through our own accept loop, which
        # refuses what is over the caps before uvicorn builds anything for it
        task = asyncio.create_task(server.serve(sockets=[]))
        accepting: asyncio.Task[None] | None = None
        try:
            while not server.started and not task.done():
                await asyncio.sleep(0.01)  # uvicorn offers no event for "started"
            if task.done():
                task.result()
                raise RuntimeError("the HTTP server stopped as it started")

            async def take(conn: socket.socket, peer: Any) -> None:
                await self._take(server, config, gate, conn, peer)

            accepting = asyncio.create_task(
                accept_forever(sock, take, log, "HTTP connections"), name="earwig:http-accept"
            )
            self.bound = sock.getsockname()[:2]
            self.state, self.error, self.retry_at = "listening", None, None
            self.daemon.log("info", listening_line(*self.bound))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            accepting.cancel()  # no new connections while the open ones are wound down
            if not task.done():
                server.should_exit = True
                await task
                self.state = "stopped"
                return
            task.result()
            raise RuntimeError("the HTTP server stopped by itself")
        finally:
            if accepting is not None:
                accepting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await accepting
            if not task.done():
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, GRACE + 1)
            sock.close()
            if self.state == "listening":
                self.state = "restarting"

    def _is_proxy(self, address: str) -> bool:
        return in_networks(address, self.daemon.config.http.proxies)

    async def _take(
        self,
        server: uvicorn.Server,
        config: uvicorn.Config,
        gate: connections.Gate,
        conn: socket.socket,
        peer: Any,
    ) -> None:
        """One accepted connection: refused over the caps, else handed to uvicorn."""
        address = str(peer[0]) if isinstance(peer, tuple) else ""
        if not gate.admit(address):
            connections.refuse(conn)
            return
        loop = asyncio.get_running_loop()
        protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config,
            server_state=server.server_state,
            app_state=server.lifespan.state,
            _loop=loop,
        )
        try:
            conn.setblocking(False)
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=conn)
        except OSError:
            gate.forget(address)
            conn.close()
            return
        gate.bind(transport, address)
