"""What every earwig screen is: typed access to the app, and a seat in its audience.

Textual types `node.app` as `App[object]`, so every `self.app.jobs` would be unchecked; the
cast happens here, once (posting's habit), and screens say `self.earwig.jobs`. A mounted
EarwigScreen hears the app's DaemonMessages (messages.py); an unmounted one does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, cast

from textual import events, on
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from earwig.tui import messages
from earwig.tui.widgets import StatusBar

if TYPE_CHECKING:
    from earwig.tui.app import EarwigApp

ResultType = TypeVar("ResultType")


def earwig_app(node: DOMNode) -> EarwigApp:
    """The running dashboard, typed."""
    return cast("EarwigApp", node.app)


class EarwigScreen(Screen[ResultType]):
    """A tab's screen or one pushed over it (the job screen)."""

    HELP_TITLE = ""
    # Whether a screen opened from this tab (a job) is still there when the user comes back
    # with the tab's key. The Queue keeps it; Search does not: its key means "type a query",
    # and a job screen left on top would take the letters typed for the box as its keys.
    KEEPS_OPENED = True

    @property
    def earwig(self) -> EarwigApp:
        return earwig_app(self)

    def tab_key(self) -> None:
        """The user pressed this tab's key (the tab is on top now): show what it promises."""

    @on(events.Mount)
    def _join_audience(self) -> None:
        self.earwig.audience.add(self)
        self._status_line()

    @on(events.Unmount)
    def _leave_audience(self) -> None:
        self.earwig.audience.discard(self)

    @on(messages.ConnectionChanged)
    @on(messages.Snapshot)
    @on(messages.JobChanged)
    @on(messages.JobDeleted)
    @on(messages.QueueChanged)
    @on(messages.StatusChanged)
    def _status_line(self) -> None:
        """Every screen's status line follows the connection and the counts."""
        for bar in self.query(StatusBar):
            bar.refresh_from(self.earwig)


class EarwigModal(ModalScreen[ResultType]):
    """A dialog: it talks to the daemon through the app, and hears nothing."""

    @property
    def earwig(self) -> EarwigApp:
        return earwig_app(self)
