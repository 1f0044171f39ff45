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


MAX_RETRY_AFTER = 3600.0  # the longest back-off a 429 gets, whatever it asks for


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header in seconds: a number, or an HTTP date (RFC 9110 allows both);
    at most MAX_RETRY_AFTER (one feed's 429 asking for a day stopped earwig for a day);
    None when absent or unreadable."""
    import email.utils
    import time

    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT, whether it says so or not
            import datetime as dt

            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def classify_http(status: int, what: str, retry_after: str | None = None) -> EarwigError:
    if status == 429:
        seconds = retry_after_seconds(retry_after)
        return RateLimited(
            f"{what}: the server says too many requests (429)",
            "earwig backs off from this host and tries later",
            seconds,
        )
    if status in (408, 425) or status >= 500:
        return TransientError(f"{what}: server error {status}", "earwig tries again later")
    hint = "check the URL" if status in (404, 410) else "the server refused the request"
    return SourceError(f"{what}: HTTP error {status}", hint)
