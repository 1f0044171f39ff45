"""The door before every route: Host (DNS rebinding), Origin (CSRF), the token, trust.

A plain ASGI wrapper around the app, so nothing reaches a route that it did not let through,
and its rules can be read in one place:

- the Host header must name this server: an IP address (a rebinding attack needs a name),
  a name no outsider can own (localhost, a single label, .local, .internal...: web/names.py),
  the listen address, or a name in `[http] hosts`;
- a state-changing request (and any WebSocket) that carries an Origin must come from this
  server's own origin or one listed in `[http] cors` (browsers always send Origin there;
  other clients send none and are judged by the token alone);
- the token, as `Authorization: Bearer`, as the `earwig_token` cookie, or as a path prefix
  `/t/TOKEN/...` for clients that can be given only a base URL (Bazarr), or in a webhook's
  URL `/hooks/TOKEN/SENDER` (media servers, docs/media-servers.md), unless the client's
  address is in `[http] trust`. The page itself (/, /jobs/N, /static/) is served without it:
  it shows a login message and learns it is not logged in from a 401 on /api/status. So is
  whisper-asr-webservice's `GET /status`, which then says the version alone: Bazarr's "Test
  connection" keeps only the endpoint's host and sends no token.

`GET /?token=TOKEN` sets the cookie (HttpOnly, SameSite=Strict) and redirects to `/`.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from earwig import protocol, reach
from earwig.config import HttpConfig
from earwig.reach import Reach
from earwig.web.names import private_name

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "earwig_token"
ONE_HOST = "send one Host header: this server's name or address, and its port"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_PREFIXES = ("/static/", "/jobs/")  # the page and its files: no data in them
PUBLIC_PATHS = {"/", "/favicon.ico", "/status"}


def error_type(status: int) -> str:
    """OpenAI's `type` of an error, from its status."""
    if status >= 500:
        return "server_error"
    return {401: "authentication_error", 403: "permission_error"}.get(
        status, "invalid_request_error"
    )


def error_body(
    code: str, message: str, hint: str = "", status: int = 400, param: str | None = None
) -> dict[str, dict[str, Any]]:
    """Every error's shape, on every door: earwig's code, message and hint, with OpenAI's
    `type` and `param` (the field at fault, or null), so the openai SDK reads it too."""
    return {
        "error": {
            "code": code,
            "message": message,
            "hint": hint,
            "type": error_type(status),
            "param": param,
        }
    }


async def send_error(
    send: Send, status: int, code: str, message: str, hint: str = "", extra: list | None = None
) -> None:
    body = protocol.dumps(error_body(code, message, hint, status))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# One Host header value: a name (letters, digits, dots, hyphens, underscores as compose
# service names have, one trailing dot), an IPv4 address or an
# IPv6 address in brackets, and an optional port; nothing else (no userinfo, no path, no
# text after a bracket)
_HOST = re.compile(
    r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)\.?)(?::[0-9]{1,5})?"
)


def host_name(host: str) -> str | None:
    """The name part of a well-formed Host header ("[::1]:8327" -> "::1", "Example:80" ->
    "example"); None for anything else ("[::1].evil.com", "localhost:1@evil.com", "a b")."""
    match = _HOST.fullmatch(host.strip().lower())
    if match is None:
        return None
    if match.group("v6") is not None:
        try:
            return str(ipaddress.IPv6Address(match.group("v6")))
        except ValueError:
            return None
    return match.group("name")


def cookie_values(header: str | None, name: str) -> list[str]:
    """Every value of the cookie `name` in a Cookie header. By hand: http.cookies gives up
    on the whole header at a cookie it finds malformed (a space, a quote, a backslash, JSON,
    as another program on the same host may set), and the login then looped on 401; and a
    second earwig on another port of the same host sets a cookie of the same name."""
    values = []
    for pair in (header or "").split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key.strip() == name:
            values.append(value.strip().strip('"'))
    return values


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def in_networks(client: str | None, networks: tuple[str, ...]) -> bool:
    if not client or not networks:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def client_address(scope: Scope, proxies: tuple[str, ...]) -> str | None:
    """Who is asking: the socket's peer, unless the peer is a reverse proxy listed in
    `[http] proxies`; then the last address in X-Forwarded-For that is not one of those
    proxies (each proxy appends the address it got the request from; what lies left of
    that was written by the client and proves nothing). Any other peer's X-Forwarded-For
    is ignored: a local process or a page behind a local proxy could claim any address."""
    peer = scope.get("client")
    address = str(peer[0]) if peer else None
    if not proxies or not in_networks(address, proxies):
        return address
    hops = [
        hop.strip()
        for name, value in scope["headers"]
        if name.lower() == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        if not in_networks(hop, proxies):
            return hop if is_ip(hop) else None
    return address


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        settings: Callable[[], HttpConfig],
        token: str,
        listen_host: Callable[[], str],
        client_reach: Callable[[], Reach] = Reach,
    ) -> None:
        self.app = app
        self.settings = settings  # read per request: a reload of trust/hosts/cors applies
        self.token = token
        self.listen_host = listen_host
        self.client_reach = client_reach  # what a client may make earwig fetch or read

    def host_problem(self, scope: Scope) -> tuple[int, str, str, str] | None:
        """What is wrong with the request's Host (status, code, message, hint), or None. Exactly
        one Host header, well formed, naming this server: an IP address (DNS rebinding
        needs a name), localhost, the listen address, a name in [http] hosts, compared
        whole (a port is not checked: a proxy or a forwarded port may change it), or a name
        nobody outside can own (web/names.py)."""
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"]
        if len(hosts) != 1:
            many = f"{len(hosts)} Host headers" if hosts else "no Host header"
            return 400, "bad_host", f"the request has {many}; HTTP/1.1 needs exactly one", ONE_HOST
        name = host_name(hosts[0])
        if name is None:
            message = f"the Host header {hosts[0]!r} is not a host and port"
            return 400, "bad_host", message, ONE_HOST
        listen = self.listen_host().lower()
        allowed = {"localhost", listen.strip("[]")} | {h.lower() for h in self.settings().hosts}
        if is_ip(name) or name in allowed or private_name(name):
            return None
        return (
            403,
            "host_not_allowed",
            f"this server does not answer to the name {name!r}",
            f'list it in [http] hosts (hosts = ["{name}"]), or use the address (127.0.0.1) instead',
        )

    def token_ok(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        websocket = scope["type"] == "websocket"
        settings = self.settings()

        async def refuse(status: int, code: str, message: str, hint: str = "") -> None:
            if websocket:  # before the handshake is accepted: the client sees it fail
                await receive()
                await send({"type": "websocket.close", "code": 4000 + status, "reason": message})
                return
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await send_error(send, status, code, message, hint, extra)

        if (host := self.host_problem(scope)) is not None:
            await refuse(*host)
            return
        origin = headers.get("origin")
        method = scope.get("method", "GET")
        cors = origin is not None and origin in settings.cors
        unsafe = websocket or method not in SAFE_METHODS
        foreign = origin is not None and not self.same_origin(origin, headers.get("host"))
        if unsafe and foreign and not cors:
            await refuse(
                403,
                "cross_origin",
                f"a page from {origin} may not change anything here",
                "list that origin in [http] cors if it should",
            )
            return
        if cors and method == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin or "")
            return
        path = scope["path"]
        authed = False
        hooked = re.fullmatch(r"/hooks/([^/]+)/([^/]+)", path)
        if hooked:  # a media server's webhook URL: /hooks/TOKEN/jellyfin is /t/TOKEN/hooks/...
            path = f"/t/{hooked.group(1)}/hooks/{hooked.group(2)}"
        if path.startswith("/t/"):  # a base URL with the token in it, for Bazarr and kin
            _, _, rest = path[3:].partition("/")
            if not self.token_ok(path[3:].split("/", 1)[0]):
                await refuse(
                    401,
                    "unauthorized",
                    "the token in the URL is not this daemon's",
                    "`earwig token` prints the right one",
                )
                return
            authed = True
            scope = {**scope, "path": "/" + rest, "raw_path": ("/" + rest).encode()}
            path = scope["path"]
        if path == "/" and method == "GET" and scope.get("query_string"):
            query = parse_qs(scope["query_string"].decode("latin-1"))
            if "token" in query:
                await self._login(send, query["token"][0], "text/html" in headers.get("accept", ""))
                return
        authed = authed or self._carries_token(headers)
        trusted = in_networks(client_address(scope, settings.proxies), settings.trust)
        if not (authed or trusted or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            if self._offers_token(headers):
                await refuse(
                    401,
                    "unauthorized",
                    "the token sent is not this daemon's",
                    "`earwig token` prints the right one (the OpenAI SDK's api_key)",
                )
                return
            await refuse(
                401,
                "unauthorized",
                "this needs earwig's token",
                "send `Authorization: Bearer TOKEN` (`earwig token` prints it; the OpenAI SDK's "
                "api_key), open the login link `earwig web` gives, or trust this client's "
                "network in [http] trust",
            )
            return
        scope = {**scope, "earwig.auth": "token" if authed else ("trusted" if trusted else None)}
        if cors and origin:
            send = self._with_cors(send, origin)
        # every request that gets in is a network client's: whatever route or socket
        # request it reaches (job.add over /api/ws too) is held to earwig/reach.py's rules
        fenced = reach.client_reach.set(self.client_reach())
        try:
            await self.app(scope, receive, send)
        finally:
            reach.client_reach.reset(fenced)

    @staticmethod
    def same_origin(origin: str, host: str | None) -> bool:
        parts = urlsplit(origin)
        return (
            host is not None
            and parts.scheme in ("http", "https")
            and parts.netloc.lower() == host.strip().lower()
        )

    @staticmethod
    def _offers_token(headers: dict[str, str]) -> bool:
        """Whether a token was sent at all (then a refusal says it is the wrong one)."""
        auth = headers.get("authorization", "")
        return bool(auth.strip()) or f"{COOKIE}=" in headers.get("cookie", "")

    def _carries_token(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and self.token_ok(auth[7:].strip()):
            return True
        return any(self.token_ok(value) for value in cookie_values(headers.get("cookie"), COOKIE))

    async def _login(self, send: Send, candidate: str, browser: bool) -> None:
        if not self.token_ok(candidate) and browser:
            # a stale or mistyped login link, opened in a browser: the page with its login
            # card, saying why, rather than a JSON error where the page should be
            headers = [(b"location", b"/?login=refused"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if not self.token_ok(candidate):
            await send_error(
                send,
                401,
                "unauthorized",
                "that login link's token is not this daemon's",
                "`earwig web` opens a fresh one",
            )
            return
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        headers = [(b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _preflight(self, send: Send, origin: str) -> None:
        headers = [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
            (b"access-control-allow-headers", b"authorization, content-type"),
            (b"access-control-max-age", b"600"),
            (b"vary", b"origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def _with_cors(send: Send, origin: str) -> Send:
        async def wrapped(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"access-control-allow-origin", origin.encode()),
                        (b"vary", b"origin"),
                    ],
                }
            await send(message)

        return wrapped
