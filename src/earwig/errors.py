"""One error family for everything a user can see.

Every error carries a message (what went wrong) and a hint (what to do about it), so the CLI,
the daemon's job records and the TUI can all show the same two lines instead of a traceback.
`permanent` tells the runner whether retrying the same job could ever help.
"""

from __future__ import annotations

from collections.abc import Awaitable


class EarwigError(Exception):
    """Base class: `message` says what went wrong, `hint` what the user can do."""

    code = "error"
    permanent = True

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(EarwigError):
    code = "config"
    # The key it is about, where one is: ("transcribe", "model"), ("watch[0]", "path"), or
    # ("", "bogus") at the top. `earwig config check` leaves that key out and looks again, so
    # that it says every mistake at once rather than one per run.
    place: tuple[str, str] | None = None


class UsageError(EarwigError):
    """A command-line option or argument that cannot work (exit 2, like click's own)."""

    code = "usage"


class StoreError(EarwigError):
    code = "store"


class InvalidTransition(EarwigError):
    """A job was asked to move to a state it cannot reach from where it is."""

    code = "invalid_transition"


class NotFound(EarwigError):
    code = "not_found"


class MediaError(EarwigError):
    """The input itself is unusable (not media, corrupt, empty). Retrying will not help."""

    code = "media"


class OutputError(EarwigError):
    """Transcripts cannot be written where they should go (permissions, full disk)."""

    code = "output"


class BackendError(EarwigError):
    """The transcription backend failed for its own reasons (model missing, crashed)."""

    code = "backend"


class ServerUnavailable(BackendError):
    """A speech server did not answer, or answered 5xx/429: the server's fault, not the
    file's. The pool marks the server down and gives the job to another slot."""

    code = "server_unavailable"


class TransientError(EarwigError):
    """Something that may work later (network, busy resource): the runner retries with backoff."""

    code = "transient"
    permanent = False


class Aborted(EarwigError):
    """A running job was asked to stop (cancel, pause, shutdown)."""

    code = "aborted"
    # The work the stop did not wait for, still ending in its thread (daemon/aborts.py)
    leftover: Awaitable[object] | None = None


class ProtocolError(EarwigError):
    code = "protocol"


class InternalError(EarwigError):
    """A bug in earwig met while answering a request: its traceback is in the log, once,
    and the client gets this instead (on the socket, over HTTP, on a WebSocket alike)."""

    code = "internal"


class RefusedRequest(EarwigError):
    """A request the daemon will not carry out, with the HTTP status that says why: 4xx for
    the client's part (no audio, a model not installed), 503 while the daemon stops."""

    def __init__(
        self, status: int, code: str, message: str, hint: str = "", param: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code
        self.param = param  # the request's field at fault, where there is one


class VersionMismatch(ProtocolError):
    """The two ends speak different protocol versions: the connection cannot go on."""


class RemoteError(EarwigError):
    """The daemon answered a request with an error: its code, message and hint."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.code = code


class DaemonNotRunning(EarwigError):
    """Nothing answers on the socket: no daemon, or it is not ours (DaemonNotAllowed)."""

    code = "not_running"


class DaemonNotAllowed(DaemonNotRunning):
    """The socket is there, but this user may not connect to it."""

    code = "forbidden"


class DaemonNotAnswering(EarwigError):
    """A daemon holds the socket but does not answer (stuck, or out of file descriptors).
    Not a DaemonNotRunning: nothing may act as if it were gone (start another, edit its
    database behind its back)."""

    code = "not_answering"


class AlreadyRunning(EarwigError):
    code = "already_running"
