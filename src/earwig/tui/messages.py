"""What the app tells its screens, as typed Textual messages (harlequin's habit).

The app keeps the one live copy of the daemon's state (jobs, status, subscriptions, log) and,
after applying each event to it, posts one of these to every screen that is mounted. A screen
handles the ones it cares about with `@on(...)`; the type says what the message carries, so a
misspelt event name is a mypy error, not a screen that silently never refreshes.

None of them bubble: each screen gets its own copy, and none climbs back up to the app.
"""

from __future__ import annotations

from textual.message import Message

from earwig import protocol


class DaemonMessage(Message, bubble=False):
    """Something changed in the app's copy of the daemon's state."""


class Snapshot(DaemonMessage):
    """A (re)connection loaded everything afresh: redraw from the app's state."""


class ConnectionChanged(DaemonMessage):
    """Connected, lost, not running, incompatible, or `S` failed: `app.connection` says which."""


class HistoryPage(DaemonMessage):
    """An older page of the history arrived after the first snapshot."""

    def __init__(self, jobs: list[protocol.JobView]) -> None:
        super().__init__()
        self.jobs = jobs


class JobChanged(DaemonMessage):
    """A job was added or changed (its state, priority, outputs...); `job` is its new self."""

    def __init__(self, job: protocol.JobView, added: bool = False) -> None:
        super().__init__()
        self.job = job
        self.added = added

    @property
    def id(self) -> int:
        return int(self.job["id"])


class JobProgress(DaemonMessage):
    """A running job moved on: only its progress changed (many a second; keep it cheap)."""

    def __init__(self, job_id: int, progress: protocol.Progress) -> None:
        super().__init__()
        self.id = job_id
        self.progress = progress


class JobSegments(DaemonMessage):
    """Lines of a running job's transcript, as the engine produced them."""

    def __init__(self, job_id: int, segments: list[protocol.SegmentView]) -> None:
        super().__init__()
        self.id = job_id
        self.segments = segments


class JobDeleted(DaemonMessage):
    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.id = job_id


class QueueChanged(DaemonMessage):
    """The whole queue was paused or resumed."""

    def __init__(self, paused: bool) -> None:
        super().__init__()
        self.paused = paused


class SubscriptionsChanged(DaemonMessage):
    """The subscription list or one's check state changed: `app.subscriptions` is new."""


class StatusChanged(DaemonMessage):
    """The daemon's status (sources, pool slots, backend) was asked again and is new."""


class LogLine(DaemonMessage):
    def __init__(self, entry: protocol.LogEntry) -> None:
        super().__init__()
        self.entry = entry
