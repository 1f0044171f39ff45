"""The database is never lost quietly.

Two watches. While the daemon runs: the database file deleted or replaced under it (a
clean-up script, a restore from backup) would take every later write into a file nobody can
open again, and the next start would find an empty history and transcribe every watched file
again. So the file's identity (device and inode) is checked every second; when it changes the
daemon stops taking work and says so, loudly, in `earwig status` and the log, until it is
restarted. At start: an empty database next to a folder of transcripts earwig wrote before
means the history was lost, not that the library is new; the queue starts paused and says
what resuming would do, instead of re-transcribing a library without asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from earwig.daemon.queue import Events, JobQueue
from earwig.protocol import LOG, LogEntry

log = logging.getLogger("earwig")
CHECK_EVERY = 1.0  # seconds between looks at the database file
MANY = 10  # transcripts beside an empty database that make a start ask first
SCAN_LIMIT = 20_000  # files looked at, at most, to count them (a start stays quick)


async def watch_identity(queue: JobQueue, events: Events, stop: asyncio.Event) -> None:
    """Halt the queue as soon as the database file is no longer the one that was opened."""
    store = queue.store
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHECK_EVERY)
        lost = store.identity_lost()
        if lost is None or queue.halted:
            continue
        queue.halted = (
            f"{lost}: earwig takes no new work, since nothing it did now could be kept; "
            "restore the file and restart earwig (`systemctl --user restart earwig`), or "
            "restart it to begin a new, empty database"
        )
        log.critical("%s", queue.halted)
        entry = LogEntry(id=0, ts=time.time(), level="error", job_id=None, message=queue.halted)
        events.bus.publish(LOG(entry))  # not into the database: it is gone
        queue.wake()


def earlier_transcripts(folders: Iterable[Path], limit: int = SCAN_LIMIT) -> int:
    """How many transcripts earwig wrote (a .json that opens with its source) lie in
    `folders`, looking at `limit` files at most."""
    found, looked = 0, 0
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                looked += 1
                if looked > limit:
                    return found
                if not name.endswith(".json") or name.startswith("."):
                    continue
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    with open(os.path.join(root, name), encoding="utf-8") as fh:
                        head = fh.read(2048)  # the .json opens with where it came from
                    if head.lstrip().startswith("{") and '"source":' in head:
                        found += 1
    return found


def lost_history_note(database: Path, output: Path, count: int) -> str:
    return (
        f"the database {database} is empty but {output} already holds {count} transcripts "
        "earwig wrote: its history looks lost, so the queue starts paused and nothing is "
        "transcribed again; restore the database and restart, or `earwig resume` to "
        "transcribe everything that is queued (transcripts of the same source are replaced)"
    )
