"""What a steering key says: the one question asked before work is lost, whatever the key
(c, p, d), the screen (queue, job) or the number of jobs (marked with space), and the words
for what happened. No Textual here: the app asks and sends (app.py: `act`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from earwig import formatting, protocol

# request kind -> the typed request that does it
REQUESTS: dict[str, type[protocol.Request[protocol.JobResult]] | type[protocol.DeleteJob]] = {
    "job.cancel": protocol.CancelJob,
    "job.pause": protocol.PauseJob,
    "job.resume": protocol.ResumeJob,
    "job.retry": protocol.RetryJob,
    "job.prioritize": protocol.PrioritizeJob,
    "job.delete": protocol.DeleteJob,
}

# request kind -> (the verb of the question, what the row says until it happened, what it did)
VERBS: dict[str, tuple[str, str, str]] = {
    "job.cancel": ("Cancel", "cancelling…", "cancelled"),
    "job.pause": ("Pause", "pausing…", "paused"),
    "job.resume": ("Resume", "", "resumed"),
    "job.retry": ("Transcribe again", "", "queued again"),
    "job.prioritize": ("Move to the top", "", "moved to the top"),
    "job.delete": ("Delete", "", "deleted (its transcript files stay)"),
}
FINISHED = ("done", "failed", "cancelled")


def request(kind: str, job_id: int) -> protocol.Request[Any]:
    """The request `kind` means, for one job."""
    return REQUESTS[kind](id=job_id)


def applies(kind: str, job: protocol.JobView) -> bool:
    """Whether `kind` means anything for `job` (bulk actions skip the rest quietly)."""
    state = job["state"]
    return {
        "job.cancel": state not in FINISHED,
        "job.pause": state not in (*FINISHED, "paused"),
        "job.resume": state == "paused",
        "job.retry": state in FINISHED,
        "job.prioritize": state in ("queued", "paused"),
        "job.delete": True,
    }.get(kind, True)


def loses_work(job: protocol.JobView) -> bool:
    return job["state"] in formatting.RUNNING


def watched_folder(job: protocol.JobView, watch: list[str]) -> str | None:
    """The watched folder `job`'s file lies in, if it came from one."""
    path = job.get("path")
    if not path or job.get("url"):
        return None
    for folder in watch:
        if Path(path).is_relative_to(folder):
            return folder
    return None


def name(jobs: list[protocol.JobView]) -> str:
    return f"#{jobs[0]['id']} {jobs[0]['title']}" if len(jobs) == 1 else f"{len(jobs)} jobs"


def question(kind: str, jobs: list[protocol.JobView], watch: list[str]) -> tuple[str, str] | None:
    """(question, detail) when `kind` on `jobs` loses something and must be asked; else None.
    Cancel and pause ask only about running work; delete always asks."""
    running = [j for j in jobs if loses_work(j)]
    if kind not in ("job.cancel", "job.pause", "job.delete") or (
        kind != "job.delete" and not running
    ):
        return None
    verb = VERBS[kind][0]
    lines: list[str] = []
    if running:
        what = ", ".join(
            f"#{j['id']} is {j['state']}"
            + (f" ({formatting.percent(j)})" if formatting.percent(j) else "")
            for j in running[:3]
        )
        more = f" and {len(running) - 3} more" if len(running) > 3 else ""
        if kind == "job.pause":
            saved = [j.get("saved") or 0.0 for j in running]
            so_far = (
                f"the first {formatting.clock(saved[0])} so far"
                if len(running) == 1 and saved[0]
                else "none finished yet"
                if not any(saved)
                else "each job's so far"
            )
            lines.append(
                f"{what}{more}. A pause keeps every finished window of the file (up to ten "
                f"minutes of audio each; {so_far}): p goes on from there, and the part under "
                "way is transcribed again."
            )
        else:
            first = "It is cancelled first; its" if kind == "job.delete" else "Its"
            again = "r transcribes it again from the beginning"
            lines.append(f"{what}{more}. {first} work so far is lost; {again}.")
    if kind == "job.delete":
        lines.append("Its history and search hits go; its transcript files stay on disk.")
        files = [j for j in jobs if j.get("path") and not j.get("url")]
        folders = sorted({f for j in files if (f := watched_folder(j, watch))})
        if files:
            where = f" in the watched folder {', '.join(folders)}" if folders else ""
            lines.append(
                f"The media file stays where it is{where}; earwig remembers it and does not "
                "queue it again (scans skip it) unless it is added again with force "
                "(Ctrl+P, “Add a file or URL again”)."
            )
    return f"{verb} {name(jobs)}?", "\n".join(lines)


def gone_by(kind: str, jobs: list[protocol.JobView], now: dict[int, protocol.JobView]) -> str:
    """Why a question asked about `jobs` no longer holds, given the jobs as they are `now`:
    one asked about running work whose jobs have all stopped meanwhile (paused, finished,
    failed, deleted); "" while it still holds."""
    if kind not in ("job.cancel", "job.pause") or not any(loses_work(j) for j in jobs):
        return ""
    current = [now.get(j["id"]) for j in jobs]
    if any(j is not None and loses_work(j) for j in current):
        return ""
    first = current[0]
    if len(jobs) == 1:
        return f"#{jobs[0]['id']} is {first['state'] if first else 'gone'} now"
    return f"those {len(jobs)} jobs have stopped"
