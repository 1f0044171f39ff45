"""What a client of the HTTP server may make earwig fetch or read on its behalf.

A network client sees what earwig fetched for it: the transcript, the media at
/api/jobs/N/media, the error. So if it could name `/home/me/.ssh/id_rsa`, or a URL of a
service that only this machine can reach (`http://127.0.0.1:PORT/admin`, a router's page,
the cloud metadata service at 169.254.169.254), earwig would fetch it and hand it over. Work
that came from a network client (a job of source `http`, a subscription added over HTTP)
therefore follows these rules, at submission and again when it is fetched:

- a URL is http or https, nothing else (never file:, ftp:, data:);
- every address a URL's name resolves to must be public: loopback, private, link-local,
  unspecified, multicast, shared and reserved addresses are refused, unless `[http]
  private_networks` lists a network that holds the address;
- the check sits inside the resolver call that each connection makes (`socket.getaddrinfo`,
  which http.client, urllib3, ftplib and yt-dlp all use), only for the thread doing that
  client's work: every redirect, every fragment and every link a page leads yt-dlp to is
  checked, and the connection goes to the very address that was checked, so a name that
  resolves to a public address at submission and to 127.0.0.1 a second later (DNS
  rebinding) gets nowhere;
- a path on this machine is refused unless it lies, after symlinks are followed, under a
  folder of `[http] folders` (or is an upload earwig itself saved).

Local ways in (the socket, the CLI, the dashboard, watched folders, the inbox file) belong
to the user who runs earwig and are not fenced.

Whether the current request came from a network client is a context variable the HTTP
door sets for every request it lets through (`client_reach`), so every route and every
socket request sent over /api/ws is fenced, whatever handler it reaches.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from earwig.errors import EarwigError

NETWORK_SOURCE = "http"  # a job's source when a network client added it
SCHEMES = ("http", "https")
# yt-dlp protocols whose every request goes through yt-dlp's own HTTP stack (and so through
# the fenced resolver); the others hand the URL to ffmpeg, rtmpdump or mpv, which resolve
# names themselves
FENCED_PROTOCOLS = frozenset(
    {"http", "https", "m3u8_native", "http_dash_segments", "http_dash_segments_generator"}
)
NETWORK_HINT = (
    "HTTP clients may add public URLs only; if this address should be reachable, list its "
    'network in [http] private_networks (for example ["192.168.1.0/24"])'
)
SCHEME_HINT = "give an http:// or https:// URL"
PATH_HINT = (
    "HTTP clients add URLs and uploads, not files of the daemon's machine; to open a folder "
    "to them, list it in [http] folders"
)

T = TypeVar("T")


class Refused(EarwigError):
    """A network client asked for something it may not make earwig fetch or read."""

    code = "refused"
    status = 403  # the HTTP answer's status


@dataclass(frozen=True)
class Reach:
    """What work for a network client may reach beyond public addresses: these networks,
    and files under these folders."""

    networks: tuple[str, ...] = ()
    folders: tuple[Path, ...] = ()

    def address_problem(self, address: str) -> str | None:
        """Why work for a network client may not connect to `address` ("a loopback
        address"), or None when it may."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not an address"
        kind = internal_kind(ip)
        if kind is None:
            return None
        forms = {ip, _embedded_v4(ip) or ip}  # ::ffff:10.0.0.5 is let in as 10.0.0.5 is
        for network in self.networks:
            net = ipaddress.ip_network(network, strict=False)
            if any(f.version == net.version and f in net for f in forms):
                return None
        return kind

    def url_problem(self, url: str) -> tuple[str, str] | None:
        """What is wrong with `url` before any name is resolved, and the hint: its scheme,
        no host, or a host that is an internal address written out (127.1, [::1],
        0x7f000001)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            return "it is not a URL earwig can read", SCHEME_HINT
        if parts.scheme.lower() not in SCHEMES:
            scheme = parts.scheme or "missing"
            return f"its scheme is {scheme}: only http and https are fetched", SCHEME_HINT
        if not host:
            return "it names no host", SCHEME_HINT
        literal = _literal_address(host)
        if literal is not None and (problem := self.address_problem(literal)):
            return f"{host} is {problem}", NETWORK_HINT
        return None

    def check_url(self, url: str, resolve: bool = True) -> None:
        """Raise Refused for a URL this client may not have fetched. With `resolve`, the
        name is resolved (blocking: call it in a thread) and refused when every address it
        has is one the client may not reach; a name that does not resolve now is let
        through (it is checked again at every connection)."""
        problem = self.url_problem(url)
        if problem is None and resolve:
            host = urlsplit(url).hostname or ""
            try:
                found = _resolve(host, None, 0, socket.SOCK_STREAM)
            except OSError:
                found = []
            problems = [self.address_problem(str(info[4][0])) for info in found]
            if found and all(problems):
                problem = f"{host} resolves to {found[0][4][0]}, {problems[0]}", NETWORK_HINT
        if problem is not None:
            raise Refused(f"refusing {url}: {problem[0]}", problem[1])

    def check_path(self, text: str) -> Path:
        """The real path of `text` when it lies under one of the open folders; else
        Refused, said the same whether or not the file exists (nothing is learned)."""
        real = Path(os.path.realpath(text))
        for folder in self.folders:
            if real.is_relative_to(os.path.realpath(folder)):
                return real
        raise Refused(f"refusing {text}: a path on the daemon's machine", PATH_HINT)


def internal_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes `ip` an address of this machine or of a private network, or None for a
    public one. IPv6 forms that carry an IPv4 address (::ffff:127.0.0.1, 6to4, Teredo,
    NAT64's 64:ff9b::/96) are judged by that address."""
    ip = _embedded_v4(ip) or ip
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_unspecified:
        return "the unspecified address (this machine)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a reserved or shared address"
    return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _literal_address(host: str) -> str | None:
    """`host` as an address when it is one, in any spelling the C library accepts for
    IPv4 (127.1, 2130706433, 0x7f.1); None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host.lower()):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


# ---------------------------------------------------------------- the fenced resolver

# The real resolver. Tests replace this (not socket.getaddrinfo) to map a name of their own
# to an address: the fence then sees that name resolve as a real resolver would.
_resolve: Callable[..., list[Any]] = socket.getaddrinfo
_local = threading.local()
_install_lock = threading.Lock()


class FencedAddress(OSError):
    """What a fenced connection attempt gets: every address of the name was refused."""


class Fence:
    """One client's work in one thread: what it may reach, and the first refusal."""

    def __init__(self, reach: Reach) -> None:
        self.reach = reach
        self.refused: str | None = None

    def admit(self, host: Any, results: list[Any]) -> list[Any]:
        kept, problems = [], []
        for info in results:
            address = str(info[4][0])
            problem = self.reach.address_problem(address)
            if problem is None:
                kept.append(info)
            else:
                problems.append(f"{address}, {problem}")
        if results and not kept:
            shown = host.decode() if isinstance(host, bytes) else str(host)
            self.refused = self.refused or f"{shown} resolves to {problems[0]}"
            raise FencedAddress(f"refused: {self.refused}")
        return kept


def _fenced_getaddrinfo(
    host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> list[Any]:
    results = _resolve(host, port, family, type, proto, flags)
    fence: Fence | None = getattr(_local, "fence", None)
    return results if fence is None else fence.admit(host, results)


def _install() -> None:
    """Put the fenced resolver in place, once: a thread without a fence resolves exactly
    as before (one attribute lookup more)."""
    with _install_lock:
        if socket.getaddrinfo is not _fenced_getaddrinfo:
            socket.getaddrinfo = _fenced_getaddrinfo


@contextmanager
def fenced(reach: Reach) -> Iterator[Fence]:
    """Every connection this thread makes inside the block is held to `reach`."""
    _install()
    before = getattr(_local, "fence", None)
    fence = _local.fence = Fence(reach)
    try:
        yield fence
    finally:
        _local.fence = before


def within(reach: Reach | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` with this thread's connections held to `reach` (None: not
    fenced). A failure that a refused address caused is raised as Refused, whatever the
    library made of it on the way (a URLError, yt-dlp's TransportError, a retry's last
    error): the job fails once, saying why, instead of being retried."""
    if reach is None:
        return fn(*args, **kwargs)
    with fenced(reach) as fence:
        try:
            return fn(*args, **kwargs)
        except Exception:
            if fence.refused is not None:
                raise Refused(f"refused to connect: {fence.refused}", NETWORK_HINT) from None
            raise


# ---------------------------------------------------------------- who is asking

client_reach: contextvars.ContextVar[Reach | None] = contextvars.ContextVar(
    "earwig_client_reach", default=None
)


def current() -> Reach | None:
    """The reach of the network client whose request is being handled; None for a local
    one (the socket, the CLI, the dashboard)."""
    return client_reach.get()


def for_clients(config: Any) -> Reach:
    """The reach `[http]` gives network clients (`config`: an earwig.config.Config): its
    private networks, and its folders plus the cache folders where earwig itself saves
    what clients upload."""
    cache = config.downloads.dir
    return Reach(
        networks=tuple(config.http.private_networks),
        folders=(*config.http.folders, cache / "uploads", cache / "api"),
    )
