"""How jobs read to people, shared by the CLI and the TUI (no terminal library here)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

RUNNING = ("downloading", "fetching", "transcribing")
# Around each matched word in a search snippet; control characters, so no transcript has them.
HIGHLIGHT_START, HIGHLIGHT_END = "\x02", "\x03"
STATE_ORDER = {
    "transcribing": 0,
    "fetching": 1,
    "downloading": 2,
    "queued": 3,
    "paused": 4,
    "failed": 5,
    "done": 6,
    "cancelled": 7,
}


def age(ts: float | None, now: float | None = None) -> str:
    """'12s', '5m', '3h', '2d' since `ts`."""
    if not ts:
        return "-"
    secs = max(0.0, (time.time() if now is None else now) - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs / size:.0f}{unit}"
    return f"{secs:.0f}s"


def until(ts: float | None, now: float | None = None) -> str:
    """'in 5m', 'in 2h 56m', 'in 3d 4h', 'due now': how long until `ts`."""
    if not ts:
        return "-"
    secs = ts - (time.time() if now is None else now)
    if secs < 60:
        return "due now" if secs <= 0 else f"in {secs:.0f}s"
    minutes = round(secs / 60)
    days, rem = divmod(minutes, 1440)
    hours, minutes = divmod(rem, 60)
    if days:
        return f"in {days}d {hours}h" if hours else f"in {days}d"
    if hours:
        return f"in {hours}h {minutes}m" if minutes else f"in {hours}h"
    return f"in {minutes}m"


def duration(seconds: float | None) -> str:
    if not seconds:
        return ""
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def kind(job: dict[str, Any]) -> str:
    if job.get("subscription"):
        return "sub"
    if job.get("url") or job.get("source") == "inbox":  # a line of the inbox that was not a
        return "url"  # URL is a failed URL job, not a file
    return "file"


def percent(job: dict[str, Any]) -> str:
    p = job.get("progress")
    return f"{p['fraction'] * 100:.0f}%" if p and p.get("fraction") is not None else ""


def progress_bar(job: dict[str, Any], width: int = 10) -> str:
    """'█████░░░░░  52% 3.1x 0:12' for a running job (the stage named when it is not
    transcribing: 'decoding', 'speakers', 'writing'), '' otherwise."""
    p = job.get("progress")
    if not p or job.get("state") not in RUNNING:
        return ""
    fraction = p.get("fraction")
    phase = p.get("phase") or ""
    if fraction is None:
        if phase == "downloading":  # a download of unknown size
            done = p.get("bytes") or 0
            return f"{done / 1e6:.1f} MB"
        return phase  # a length nobody knows yet: the stage at least
    filled = round(fraction * width)
    bar = "█" * filled + "░" * (width - filled)
    parts = [bar, f"{fraction * 100:3.0f}%"]
    if phase == "transcribing" and p.get("speed"):
        parts.append(f"{p['speed']:.1f}x")
    elif phase == "downloading" and p.get("speed"):
        parts.append(f"{p['speed'] / 1e6:.1f}MB/s")
    elif phase and phase not in ("transcribing", "downloading"):
        parts.append(phase)  # decoding, speakers, writing
    if p.get("eta"):
        parts.append(duration(p["eta"]))
    return " ".join(parts)


def sort_key(job: dict[str, Any]) -> tuple:
    """Running first, then the queue in the order it will run, then the newest history."""
    state = job.get("state", "")
    rank = STATE_ORDER.get(state, 9)
    if state in ("queued", "paused"):
        return (rank, -(job.get("priority") or 0), job.get("id") or 0)
    history = STATE_ORDER["failed"]  # finished jobs together, the newest first
    return (min(rank, history), 0, -(job.get("updated_at") or 0))


def size(n: float) -> str:
    """Bytes, the way people read them: 74.5 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def clock(seconds: float) -> str:
    """12:34, or 1:02:03 past an hour: how people cite a moment in a recording."""
    total = int(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def add_outcome(result: dict[str, Any]) -> tuple[str, str, str]:
    """One `job.add` result as people read it, for the CLI and the dashboard alike:
    (kind, line, hint) with kind "queued", "duplicate" or "error"."""
    if "job" in result:
        job = result["job"]
        return "queued", f"queued #{job['id']} {job['title']}", ""
    if "duplicate_of" in result:
        d = result["duplicate_of"]
        line = f"skipped {result.get('input', '')}: same content as #{d['id']} ({d['state']})"
        return "duplicate", line, result.get("hint", "")
    if "skipped" in result:  # left alone on purpose (a video that has subtitles)
        line = f"skipped {result.get('input', '')}: {result.get('reason') or result['skipped']}"
        return "duplicate", line, result.get("hint", "")
    return "error", f"{result.get('input', '')}: {result.get('error')}", result.get("hint", "")


def output_groups(outputs: Iterable[str]) -> list[tuple[str, list[str]]]:
    """A job's files as "folder/stem" and its formats, one entry per stem, in order:
    `talk.{txt, json}`, then `talk.publisher.{txt, json}` or `Movie.en.{srt}`."""
    groups: dict[str, list[str]] = {}
    for output in outputs:
        stem, _, kind = output.rpartition(".")
        groups.setdefault(stem, []).append(kind)
    return list(groups.items())


def key_hint(hint: str, job_id: int) -> str:
    """A hint in the dashboard's words: "`earwig retry 22`" is "press r" there."""
    hint = re.sub(rf"`earwig retry {job_id}`", "press r", hint)
    return re.sub(rf"`earwig cancel {job_id}`", "press c", hint)
