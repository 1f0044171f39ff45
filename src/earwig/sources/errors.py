"""How network failures are classified, shared by feed checks and downloads."""

from __future__ import annotations

import re

from earwig.errors import EarwigError, TransientError
from earwig.urls import host


class SourceError(EarwigError):
    """A URL that will not work as it is (404, not media, unsupported). Not retried."""

    code = "source"


class RateLimited(TransientError):
    """The host answered 429: back off from it."""

    code = "rate_limited"

    def __init__(self, message: str, hint: str = "", retry_after: float | None = None):
        super().__init__(message, hint)
        self.retry_after = retry_after


# What the network libraries say (yt-dlp, urllib3, the OS), as people say it: one line each,
# no "HTTPConnection(host=..., port=...)", no "Giving up after 3 retries" while earwig itself
# is about to try again.
_CAUSES = (
    (
        r"Name or service not known|Temporary failure in name resolution|Failed to resolve|"
        r"nodename nor servname|getaddrinfo failed|NameResolutionError",
        "its host name could not be found (no network, or a mistyped address)",
    ),
    (r"Connection refused|ConnectionRefusedError", "the server refused the connection"),
    (r"Network is unreachable|No route to host", "there is no network route to the server"),
    (r"timed out|TimeoutError", "the server did not answer in time"),
    (
        r"Connection reset|RemoteDisconnected|IncompleteRead|Connection aborted|"
        r"closed connection",
        "the server broke the connection off",
    ),
    (r"CERTIFICATE_VERIFY_FAILED|SSLError|SSL:", "the secure connection failed (its certificate?)"),
)


def plain_network_error(url: str, message: str) -> str:
    """A network failure in one sentence: `url`, then what went wrong in plain words (the
    library's own text only when it is none of the known causes, without its retry count)."""
    for pattern, words in _CAUSES:
        if re.search(pattern, message):
            return f"{url}: {words}"
    message = re.sub(r"\.?\s*Giving up after \d+ retries\.?", "", message)
    message = re.sub(r"^\[\w+\]\s*(Got error:\s*)?", "", message.strip())
    return f"{url}: {message}" if url not in message else message


def host_of(url: str) -> str:
    """The per-host limits' key: one spelling per host (earwig.urls.host)."""
    return host(url)


def classify_http(status: int, what: str, retry_after: str | None = None) -> EarwigError:
    if status == 429:
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return RateLimited(
            f"{what}: the server says too many requests (429)",
            "earwig backs off from this host and tries later",
            seconds,
        )
    if status in (408, 425) or status >= 500:
        return TransientError(f"{what}: server error {status}", "earwig tries again later")
    hint = "check the URL" if status in (404, 410) else "the server refused the request"
    return SourceError(f"{what}: HTTP error {status}", hint)
