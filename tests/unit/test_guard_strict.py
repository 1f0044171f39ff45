"""The guard's parsing of what a client may forge (issue 41): the Host header (a table of
spellings that passed as loopback), X-Forwarded-For (believed only from a listed proxy),
and the Cookie header (a malformed cookie of another program must not hide earwig's)."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from earwig.config import HttpConfig
from earwig.web.guard import COOKIE, Guard, client_address, cookie_values

TOKEN = "s3cret-token"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(scope.get("earwig.auth")).encode()})


def call(
    headers: list[tuple[str, str]],
    client: str = "127.0.0.1",
    settings: HttpConfig | None = None,
    listen: str = "127.0.0.1",
) -> tuple[int, bytes]:
    guard = Guard(_app, lambda: settings or HttpConfig(), TOKEN, lambda: listen)
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/api/status",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": (client, 40000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


AUTH = ("Authorization", f"Bearer {TOKEN}")


@pytest.mark.parametrize(
    ("hosts", "status"),
    [
        (["127.0.0.1:8327"], 200),
        (["localhost:8327"], 200),
        (["LOCALHOST"], 200),
        (["[::1]:8327"], 200),
        (["[::1]"], 200),
        (["192.168.1.9:8327"], 200),  # an address: a rebinding attack needs a name
        (["earwig.lan:8327"], 200),  # listed in [http] hosts below
        # refused: the table of issue 41, and their kin
        (["[::1].evil.com"], 400),
        (["[::1]evil.com"], 400),
        (["[::1]:8327.evil.com"], 400),
        (["localhost:8327@evil.com"], 400),
        (["user@localhost:8327"], 400),
        (["localhost:8327/evil"], 400),
        (["localhost evil.com"], 400),
        (["localhost:port"], 400),
        (["[not-an-address]"], 400),
        (["[::1"], 400),
        ([""], 400),
        ([], 400),  # HTTP/1.1 without Host
        (["evil.com", "localhost:8327"], 400),  # two: neither order decides
        (["localhost:8327", "evil.com"], 400),
        (["localhost:8327", "localhost:8327"], 400),
        (["evil.com:8327"], 403),
        (["localhost.evil.com"], 403),
        (["earwig.lan.evil.com"], 403),
        (["127.1:8327"], 403),  # a name, not an address: not the same thing
        (["2130706433"], 200),  # one label, no dot: no public name (web/names.py)
        (["localhost."], 200),  # the same name, fully qualified
        (["evil.com."], 403),
        (["earwig_box:8327"], 200),  # a compose service's name
        (["localhost.."], 400),
    ],
)
def test_host_is_one_well_formed_exact_name(hosts: list[str], status: int) -> None:
    settings = HttpConfig(hosts=("earwig.lan",))
    got, body = call([*(("Host", h) for h in hosts), AUTH], settings=settings)
    assert got == status, body


def test_the_listen_address_is_a_name_of_this_server() -> None:
    headers = [("Host", "earwig.example.com:8327"), AUTH]
    assert call(headers, listen="earwig.example.com")[0] == 200
    assert call(headers, listen="0.0.0.0")[0] == 403


LAN = HttpConfig(trust=("192.168.1.0/24",))
BEHIND = HttpConfig(trust=("192.168.1.0/24",), proxies=("127.0.0.1",))


def xff(value: str, client: str, settings: HttpConfig) -> tuple[int, bytes]:
    return call([("Host", "127.0.0.1:8327"), ("X-Forwarded-For", value)], client, settings)


def test_x_forwarded_for_from_an_unlisted_peer_is_ignored() -> None:
    """Any local process (or a page fetching through a local proxy) could send it: with no
    [http] proxies, the trust check reads the socket's peer, and refuses."""
    assert xff("192.168.1.5", "127.0.0.1", LAN)[0] == 401
    assert xff("192.168.1.5, 127.0.0.1", "127.0.0.1", LAN)[0] == 401
    assert xff("192.168.1.5", "10.0.0.9", BEHIND)[0] == 401  # not the listed proxy
    assert call([("Host", "127.0.0.1:8327")], "192.168.1.5", LAN) == (200, b"trusted")


def test_a_listed_proxy_s_header_is_read_from_the_right() -> None:
    assert xff("192.168.1.5", "127.0.0.1", BEHIND) == (200, b"trusted")
    # what the client wrote left of the proxy's own entry proves nothing
    assert xff("192.168.1.5, 203.0.113.7", "127.0.0.1", BEHIND)[0] == 401
    assert xff("garbage", "127.0.0.1", BEHIND)[0] == 401
    # two proxies in a row, both listed: the client is the first address neither wrote
    two = HttpConfig(trust=("192.168.1.0/24",), proxies=("127.0.0.1", "10.0.0.2"))
    assert xff("192.168.1.5, 10.0.0.2", "127.0.0.1", two) == (200, b"trusted")


def test_client_address_of_headers_split_over_lines() -> None:
    scope = {
        "client": ("127.0.0.1", 1),
        "headers": [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"192.168.1.5")],
    }
    assert client_address(scope, ("127.0.0.1",)) == "192.168.1.5"
    assert client_address(scope, ()) == "127.0.0.1"


@pytest.mark.parametrize(
    "others",
    [
        'theme="dark mode"',
        'quoted="a\\"b"',
        "path=C:\\Users\\me",
        'prefs={"a": [1, 2], "b": "x y"}',
        "spaced=a b c",
        "novalue",
        "=nokey",
        "a=1;;b=2",
    ],
)
def test_the_token_cookie_is_found_beside_any_malformed_cookie(others: str) -> None:
    for header in (f"{others}; {COOKIE}={TOKEN}", f"{COOKIE}={TOKEN}; {others}"):
        assert call([("Host", "127.0.0.1:8327"), ("Cookie", header)]) == (200, b"token"), header


def test_another_earwig_s_cookie_of_the_same_name_does_not_hide_ours() -> None:
    header = f"{COOKIE}=another-daemons-token; {COOKIE}={TOKEN}"
    assert call([("Host", "127.0.0.1:8327"), ("Cookie", header)]) == (200, b"token")
    assert cookie_values(header, COOKIE) == ["another-daemons-token", TOKEN]
    assert call([("Host", "127.0.0.1:8327"), ("Cookie", f"{COOKIE}=wrong")])[0] == 401
