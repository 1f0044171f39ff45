"""URLs, one way everywhere: what counts as one, which host it is, how it is shown and named.

The inbox, the config, the daemon's handlers, the CLI and the dashboard all ask these
questions; asking them in one place means one malformed line (`http://[::1`) cannot crash
one path while another accepts it, and a host cannot dodge its per-host limit by being spelled
`127.1` or `2130706433`.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit


def is_url(text: str) -> bool:
    """An http(s) URL with a host, that urllib can take apart (a broken IPv6 literal or a
    port out of range is not one)."""
    if not isinstance(text, str) or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def meant_as_url(text: str) -> bool:
    """Input a user meant as a URL rather than a path (it names a scheme): `is_url` then
    says whether it is one earwig can fetch, so `ftp://x` is refused as a URL, not looked
    for as a file."""
    return "://" in text


def host(url: str) -> str:
    """The host a URL talks to, in one spelling: lower case, IP addresses in their canonical
    form (127.1 and 2130706433 are 127.0.0.1), localhost as 127.0.0.1."""
    try:
        name = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    if name == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if name and all(c.isdigit() or c in ".x" for c in name):  # 127.1, 2130706433, 0x7f.1
        try:
            return socket.inet_ntoa(socket.inet_aton(name))
        except OSError:
            pass
    return name


def without_credentials(url: str) -> str:
    """The URL with any user:password@ taken out, for logs, job records and hooks."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=netloc))


def slug(url: str) -> str:
    """A short name for a subscription: the host and the last meaningful path part."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "feed"
    tail = [p for p in parts.path.split("/") if p and p not in ("feed", "rss", "videos")]
    stem = tail[-1].rsplit(".", 1)[0] if tail else ""
    return "-".join(x for x in ((parts.hostname or "feed").removeprefix("www."), stem) if x)
