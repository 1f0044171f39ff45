"""Every rule of web/guard.py, each with a test that fails when that rule alone is removed
(tried one by one: the mutations are listed in the issue's closing note). The guard is a
plain ASGI wrapper, so it is driven here in-process with HTTP and WebSocket scopes; the app
behind it answers 200 with the path it was given (or accepts the WebSocket)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

from earwig.config import HttpConfig
from earwig.web.guard import COOKIE, Guard

TOKEN = "s3cret-token"
HOST = {"Host": "127.0.0.1:8327"}
AUTH = {**HOST, "Authorization": f"Bearer {TOKEN}"}
EVIL = "http://evil.example"


class Seen:
    """What the app behind the guard was handed (None: the request never reached it)."""

    scope: MutableMapping[str, Any] | None = None


def call(
    path: str = "/api/status",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    client: str = "127.0.0.1",
    settings: HttpConfig | None = None,
    query: str = "",
    websocket: bool = False,
    listen: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes, Seen]:
    """(status, headers, body, what the app saw); a WebSocket answers 101 when accepted, or
    the close code it was refused with."""
    seen = Seen()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.scope = scope
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    guard = Guard(app, lambda: settings or HttpConfig(), TOKEN, lambda: listen)
    sent: list[MutableMapping[str, Any]] = []
    scope: dict[str, Any] = {
        "type": "websocket" if websocket else "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (client, 40000),
    }
    if not websocket:
        scope["method"] = method

    async def receive() -> dict[str, Any]:
        if websocket:
            return {"type": "websocket.connect"}
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    first = sent[0]
    if first["type"] == "websocket.accept":
        return 101, {}, b"", seen
    if first["type"] == "websocket.close":
        return first["code"], {}, first.get("reason", "").encode(), seen
    head = {k.decode(): v.decode() for k, v in first.get("headers", [])}
    return first["status"], head, b"".join(m.get("body", b"") for m in sent[1:]), seen


# ---------------------------------------------------------------- Host (DNS rebinding)


def test_a_foreign_name_is_refused_before_anything_else() -> None:
    status, _, body, seen = call(headers={**AUTH, "Host": "evil.example:8327"})
    assert status == 403 and b"host_not_allowed" in body and seen.scope is None
    # even from a trusted network, even for the page
    lan = HttpConfig(trust=("127.0.0.0/8",))
    assert call("/", headers={"Host": "evil.example"}, settings=lan)[0] == 403


def test_addresses_need_no_listing() -> None:
    assert call(headers={**AUTH, "Host": "192.168.1.9:8327"})[0] == 200
    assert call(headers={**AUTH, "Host": "[::1]:8327"})[0] == 200


def test_localhost_is_this_machine() -> None:
    assert call(headers={**AUTH, "Host": "localhost:8327"})[0] == 200
    assert call(headers={**AUTH, "Host": "LocalHost"})[0] == 200


def test_the_listen_name_and_the_listed_names() -> None:
    assert call(headers={**AUTH, "Host": "box.lan:8327"}, listen="box.lan")[0] == 200
    named = HttpConfig(hosts=("Earwig.Example.com",))
    assert call(headers={**AUTH, "Host": "earwig.example.com:8327"}, settings=named)[0] == 200
    assert call(headers={**AUTH, "Host": "other.example.com:8327"}, settings=named)[0] == 403


def test_names_nobody_outside_can_own_need_no_listing() -> None:
    """A rebinding attack needs a name its author controls in public DNS; these are not
    (web/names.py), so Bazarr by a compose service's name and Open WebUI's
    host.docker.internal work out of the box."""
    for name in ("earwig", "nas.local", "host.docker.internal", "box.home.arpa", "pi.lan"):
        assert call(headers={**AUTH, "Host": f"{name}:8327"})[0] == 200, name
    for name in ("nas.example.com", "evil.com", "local.evil.com", "lan.attacker.net"):
        status, _, body, _ = call(headers={**AUTH, "Host": f"{name}:8327"})
        assert status == 403, name
        assert f'hosts = ["{name}"]' in json.loads(body)["error"]["hint"], body


# ---------------------------------------------------------------- Origin (CSRF)


def test_a_foreign_page_may_not_change_anything() -> None:
    status, _, body, seen = call("/api/queue/pause", "POST", {**AUTH, "Origin": EVIL})
    assert status == 403 and b"cross_origin" in body and seen.scope is None
    for method in ("DELETE", "PUT", "PATCH"):
        assert call("/api/jobs/1", method, {**AUTH, "Origin": EVIL})[0] == 403
    assert call("/api/status", "GET", {**AUTH, "Origin": EVIL})[0] == 200  # reads: the token's


def test_the_same_origin_and_no_origin_may() -> None:
    same = {**AUTH, "Origin": "http://127.0.0.1:8327"}
    assert call("/api/queue/pause", "POST", same)[0] == 200
    assert call("/api/queue/pause", "POST", AUTH)[0] == 200  # no Origin: not a browser


def test_only_web_schemes_are_the_same_origin() -> None:
    other = {**AUTH, "Origin": "chrome-extension://127.0.0.1:8327"}
    assert call("/api/queue/pause", "POST", other)[0] == 403


def test_a_websocket_from_a_foreign_page_is_refused_even_when_trusted() -> None:
    """The handshake is a GET, but a WebSocket changes the queue: its Origin is checked like
    a POST's, trusted network or not (a page on another port of the same host included)."""
    lan = HttpConfig(trust=("192.168.1.0/24",))
    foreign = {**HOST, "Origin": EVIL}
    code, _, _, seen = call(
        "/api/ws", headers=foreign, client="192.168.1.40", settings=lan, websocket=True
    )
    assert code == 4403 and seen.scope is None
    port = {**AUTH, "Origin": "http://127.0.0.1:9999"}
    assert call("/api/ws", headers=port, websocket=True)[0] == 4403
    same = {**AUTH, "Origin": "http://127.0.0.1:8327"}
    assert call("/api/ws", headers=same, websocket=True)[0] == 101


def test_a_websocket_without_the_token_is_refused() -> None:
    assert call("/api/ws", headers=HOST, websocket=True)[0] == 4401
    assert call("/api/ws", headers=AUTH, websocket=True)[0] == 101


# ---------------------------------------------------------------- the token


def test_no_token_no_data_and_the_answer_says_bearer() -> None:
    status, head, body, seen = call(headers=HOST)
    assert status == 401 and b'"unauthorized"' in body and seen.scope is None
    assert head["www-authenticate"] == "Bearer"
    assert call(headers={**HOST, "Authorization": "Bearer wrong"})[0] == 401
    assert call(headers={**HOST, "Authorization": f"Basic {TOKEN}"})[0] == 401


def test_the_bearer_token_opens() -> None:
    status, _, _, seen = call(headers=AUTH)
    assert status == 200 and seen.scope is not None and seen.scope["earwig.auth"] == "token"
    assert call(headers={**HOST, "Authorization": f"bearer {TOKEN}"})[0] == 200


def test_the_cookie_opens() -> None:
    assert call(headers={**HOST, "Cookie": f"other=1; {COOKIE}={TOKEN}"})[0] == 200
    assert call(headers={**HOST, "Cookie": f"{COOKIE}=wrong"})[0] == 401


def test_the_token_in_the_path_opens_and_is_taken_out() -> None:
    status, _, body, seen = call(f"/t/{TOKEN}/asr", "POST", HOST)
    assert (status, body) == (200, b"/asr")
    assert seen.scope is not None and seen.scope["raw_path"] == b"/asr"
    assert call("/t/nope/asr", "POST", HOST)[0] == 401
    assert call(f"/t/{TOKEN}x/asr", "POST", HOST)[0] == 401


def test_the_page_and_its_files_need_no_token() -> None:
    for public in ("/", "/jobs/3", "/static/app.js", "/favicon.ico"):
        status, _, _, seen = call(public, headers=HOST)
        assert status == 200 and seen.scope is not None and seen.scope["earwig.auth"] is None
    for private in ("/api/jobs", "/v1/models", "/asr", "/jobsx", "/static", "/status/x"):
        assert call(private, headers=HOST)[0] == 401, private


def test_bazarrs_test_connection_needs_no_token() -> None:
    """Bazarr keeps only the endpoint's host and sends `GET /status` without the token; the
    door answers it with the version alone (web/doors/asr.py)."""
    status, _, _, seen = call("/status", headers=HOST)
    assert status == 200 and seen.scope is not None and seen.scope["earwig.auth"] is None
    assert call("/status", headers={**HOST, "Host": "evil.com"})[0] == 403  # rebinding: no


def test_a_wrong_token_is_told_apart_from_a_missing_one() -> None:
    missing = json.loads(call(headers=HOST)[2])["error"]
    wrong = json.loads(call(headers={**HOST, "Authorization": "Bearer nope"})[2])["error"]
    assert "needs earwig's token" in missing["message"]
    assert "not this daemon's" in wrong["message"] and "earwig token" in wrong["hint"]
    assert wrong["type"] == missing["type"] == "authentication_error"
    cookie = json.loads(call(headers={**HOST, "Cookie": f"{COOKIE}=stale"})[2])["error"]
    assert "not this daemon's" in cookie["message"]


def test_refusals_have_openais_error_shape() -> None:
    body = json.loads(call(headers={**AUTH, "Host": "evil.com"})[2])["error"]
    assert set(body) == {"code", "message", "hint", "type", "param"}
    assert (body["type"], body["param"]) == ("permission_error", None)


def test_the_login_link_sets_a_strict_cookie_and_drops_the_token() -> None:
    status, head, _, seen = call("/", headers=HOST, query=f"token={TOKEN}")
    assert status == 303 and head["location"] == "/" and seen.scope is None
    cookie = head["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert call("/", headers=HOST, query="token=wrong")[0] == 401


# ---------------------------------------------------------------- trust


def test_trusted_networks_need_no_token() -> None:
    lan = HttpConfig(trust=("192.168.1.0/24",))
    status, _, _, seen = call(headers=HOST, client="192.168.1.40", settings=lan)
    assert status == 200 and seen.scope is not None and seen.scope["earwig.auth"] == "trusted"
    assert call(headers=HOST, client="::ffff:192.168.1.40", settings=lan)[0] == 200
    assert call(headers=HOST, client="192.168.2.40", settings=lan)[0] == 401
    assert call(headers=HOST, client="127.0.0.1", settings=lan)[0] == 401  # loopback: shared


def test_trust_does_not_open_the_origin_rule() -> None:
    lan = HttpConfig(trust=("192.168.1.0/24",))
    evil = {**HOST, "Origin": EVIL}
    assert call("/api/queue/pause", "POST", evil, client="192.168.1.40", settings=lan)[0] == 403


# ---------------------------------------------------------------- CORS


def test_listed_origins_get_cors_and_others_do_not() -> None:
    app = HttpConfig(cors=("https://app.example",))
    origin = {**AUTH, "Origin": "https://app.example"}
    status, head, _, _ = call("/api/queue/pause", "POST", origin, settings=app)
    assert status == 200 and head["access-control-allow-origin"] == "https://app.example"
    assert head["vary"] == "origin"
    _, head, _, _ = call(headers={**AUTH, "Origin": "https://other.example"}, settings=app)
    assert "access-control-allow-origin" not in head


def test_a_preflight_is_answered_for_listed_origins_only() -> None:
    app = HttpConfig(cors=("https://app.example",))
    ask = {"Access-Control-Request-Method": "POST"}
    pre = {**HOST, "Origin": "https://app.example", **ask}
    status, head, _, seen = call("/api/jobs", "OPTIONS", pre, settings=app)
    assert status == 204 and seen.scope is None
    assert head["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in head["access-control-allow-headers"]
    other = {**HOST, "Origin": "https://other.example", **ask}
    assert call("/api/jobs", "OPTIONS", other, settings=app)[0] == 401  # no token, no CORS
