"""How network failures are classified, shared by feed checks and downloads."""

from __future__ import annotations

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
        return TransientError(f"{what}: server error {status}", "earwig retries later")
    hint = "check the URL" if status in (404, 410) else "the server refused the request"
    return SourceError(f"{what}: HTTP error {status}", hint)
