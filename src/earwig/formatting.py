"""How jobs read to people, shared by the CLI and the TUI (no terminal library here).

It reads the protocol's typed results (`protocol.JobView`, `protocol.Status`, ...), so a key
it looks for is one the daemon sends; the types are imported for the checker only.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from earwig import model

if TYPE_CHECKING:
    from earwig.protocol import AddOutcome, JobView, SlotView, Status

# A line of text and the colour a terminal may show it in (None: the default).
Line = tuple[str, str | None]
# A table: its column names, and each row's cells with the row's colour.
Table = tuple[list[str], list[tuple[list[str], str | None]]]


class BenchResult(TypedDict, total=False):
    """One backend's run of `earwig backends --bench` (transcribe/bench.py), or its error."""

    name: str
    load: float
    rtf: float
    peak_rss: int
    text: str
    error: str


class BackendRow(TypedDict):
    """One backend in `earwig backends` (and its --json)."""

    name: str
    installed: bool
    usable: bool
    detail: str
    role: str  # "used", "fallback" or ""
    bench: NotRequired[BenchResult]


RUNNING = model.RUNNING
# Around each matched word in a search snippet; control characters, so no transcript has them.
HIGHLIGHT_START, HIGHLIGHT_END = "\x02", "\x03"
# How a queue sorts: running (furthest along first), waiting, failed, then the rest
# (tests/unit/test_jobs.py checks that every state has its place).
_State = model.JobState
STATE_ORDER = {
    str(state): rank
    for rank, state in enumerate(
        [
            *reversed(model.RUNNING),
            _State.QUEUED,
            _State.PAUSED,
            _State.FAILED,
            _State.DONE,
            _State.CANCELLED,
        ]
    )
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


def kind(job: JobView) -> str:
    if job.get("subscription"):
        return "sub"
    if job.get("url") or job.get("source") == "inbox":  # a line of the inbox that was not a
        return "url"  # URL is a failed URL job, not a file
    if job.get("source") == "upload":  # sent over HTTP (the web page, curl -F)
        return "upload"
    return "file"


def percent(job: JobView) -> str:
    fraction = (job.get("progress") or {}).get("fraction")
    return f"{fraction * 100:.0f}%" if fraction is not None else ""


def progress_bar(job: JobView, width: int = 10, room: int | None = None) -> str:
    """'█████░░░░░  52% 3.1x 0:12' for a running job (the stage named when it is not
    transcribing: 'decoding', 'speakers', 'writing'), '' otherwise. With `room` (a column's
    width), the bar gives up cells (down to 3), then the time left goes, before the words
    would be cut ("2% decoding 2:02" in a 22-cell column)."""
    text = _progress_text(job, width)
    while room is not None and len(text) > room and width > 3:
        width -= 1
        text = _progress_text(job, width)
    if room is not None and len(text) > room:
        text = _progress_text(job, width, with_eta=False)
    return text


def _progress_text(job: JobView, width: int, with_eta: bool = True) -> str:
    p = job.get("progress")
    if not p or (job.get("state") not in RUNNING and not job.get("stage")):
        return ""  # running, or a done job's [llm] stage (summarizing, translating)
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
    speed, eta = p.get("speed"), p.get("eta")
    if phase == "transcribing" and speed:
        parts.append(f"{speed:.1f}x")
    elif phase == "downloading" and speed:
        parts.append(f"{speed / 1e6:.1f}MB/s")
    elif phase and phase not in ("transcribing", "downloading"):
        parts.append(phase)  # decoding, speakers, writing
    if eta and with_eta:
        parts.append(duration(eta))
    return " ".join(parts)


def sort_key(job: Mapping[str, Any]) -> tuple[int, float, float]:
    """Running first, then the queue in the order it will run, then the newest history."""
    state = job.get("state", "")
    rank = STATE_ORDER.get(state, 9)
    if state in ("queued", "paused"):
        return (rank, -(job.get("priority") or 0), job.get("id") or 0)
    history = STATE_ORDER["failed"]  # finished jobs together, the newest first
    return (min(rank, history), 0, -(job.get("updated_at") or 0))


def size(n: float) -> str:
    """Bytes, the way people read them: 74.5 MB. One unit everywhere: powers of 1000, as
    disks, download bars (rich, browsers), the hub and earwig's config (`500MB`) count."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def clock(seconds: float) -> str:
    """12:34, or 1:02:03 past an hour: how people cite a moment in a recording."""
    total = int(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def why_cancelled(job: JobView) -> str:
    """Why a job was cancelled when no one asked (the same media as another job: the
    reason is the first clause of its hint), so it never looks like the user's own cancel;
    "" for every other job."""
    if job["state"] != "cancelled" or not (hint := job.get("hint")):
        return ""
    return hint.split(";", 1)[0]


def kept(job: JobView) -> str:
    """What a job that stopped part-way keeps of its work (a paused or requeued one whose
    windows are saved): "the first 20:00 is transcribed and kept"; "" when nothing is."""
    saved = job.get("saved") or 0.0
    if not saved or job["state"] not in ("paused", "queued"):
        return ""
    return f"the first {clock(saved)} is transcribed and kept"


def add_outcome(result: AddOutcome) -> tuple[str, str, str]:
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


def slot_line(s: SlotView) -> str:
    """One slot of the pool as a line: name, up/down, busy/idle, jobs, speed, errors."""
    state = "drained" if s["drained"] else ("up" if s["up"] else "DOWN")
    busy = f"busy #{', #'.join(map(str, s['busy']))}" if s["busy"] else "idle"
    speed = f", {s['throughput']}x real time" if s.get("throughput") else ""
    where = f" ({s['url']}, {s['model']})" if s.get("url") else ""
    errors = f", {s['errors']} error(s): {s['last_error']}" if s["errors"] else ""
    return (
        f"{s['name']}{where}: {state}, {busy} ({len(s['busy'])}/{s['capacity']}), "
        f"{s['done']} done{speed}{errors}"
    )


def status_lines(st: Status) -> list[Line]:
    """`earwig status` as lines: the daemon, its backend, problems, model, slots, jobs."""
    out: list[Line] = []
    counts = st["counts"]
    backend = st["backend"]
    out.append(
        (f"earwig {st['version']} running (pid {st['pid']}, up {age(st['started_at'])})", None)
    )
    out.append(
        (
            f"  backend  {backend['name']} · {backend['model']} · {backend.get('device', 'cpu')}"
            f" · {'loaded' if backend['loaded'] else 'not loaded'}",
            None,
        )
    )
    for name, part in (st.get("parts") or {}).items():
        if part["state"] == "restarting" or part["restarts"]:
            down = part["state"] == "restarting"
            out.append(
                (
                    f"  problem  the {name} {'is restarting' if down else 'restarted'} "
                    f"{part['restarts']}x; last error: {part['last_error']} (see `earwig logs`)",
                    "red" if down else "yellow",
                )
            )
    for problem in st.get("problems") or ():  # the database lost, a disk full
        out.append((f"  problem  {problem}", "red"))
    if restart := st.get("restart_for"):  # edited and reloaded, but read once at start-up
        out.append(
            (
                f"  restart  {', '.join(restart)} changed in the config: it applies once earwig "
                "restarts (restart its service, or stop and start `earwig run`)",
                "yellow",
            )
        )
    fetch = backend.get("model_state") or {}
    if fetch.get("state") == "downloading":
        fraction = fetch.get("fraction")
        pct = f" {100 * fraction:.0f}%" if fraction is not None else ""
        out.append(
            (
                f"  model    downloading {fetch.get('name')}{pct} "
                f"({size(fetch.get('bytes') or 0)} of "
                f"{size(fetch.get('total') or 0)}); queued jobs wait for it",
                None,
            )
        )
    elif fetch.get("state") == "failed":
        out.append((f"  model    {fetch.get('name')}: {fetch.get('error')}", "red"))
        if fetch.get("hint"):
            out.append((f"           hint: {fetch.get('hint')}", None))
        if retry_at := fetch.get("retry_at"):
            when = until(retry_at).replace("due now", "now")
            out.append((f"           the download is tried again {when}", None))
    slots = st.get("slots") or []
    if len(slots) > 1 or any(s["kind"] == "server" for s in slots):
        for s in slots:
            out.append((f"  slot     {slot_line(s)}", None if s["up"] else "red"))
    out.append((f"  watching {', '.join(st['watch'])}", None))
    if empty := st.get("empty_files"):  # said once in the log; here while they stay empty
        named = ", ".join(empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
        out.append((f"  empty    {named}: skipped for now, taken once it has content", "yellow"))
    out.append((f"  output   {st['output_dir']}", None))
    queue = "  ".join(f"{k} {v}" for k, v in counts.items() if v)
    paused = "  (queue paused)" if st["queue_paused"] else ""
    out.append((f"  jobs     {queue or 'none yet'}{paused}", None))
    if st.get("inbox"):
        out.append((f"  inbox    {st['inbox']}", None))
    http = st.get("http") or {}
    if http.get("state") == "listening":
        out.append((f"  http     {http.get('url')} (`earwig web` opens it)", None))
    elif http.get("error"):
        out.append((f"  http     {http['error']}; trying again", "yellow"))
    subs = st.get("subscriptions") or []
    if subs:
        soon = min((s["next_check"] for s in subs if s["next_check"]), default=None)
        when = dt.datetime.fromtimestamp(soon).strftime("%H:%M") if soon else "-"
        errors = sum(1 for s in subs if s["last_error"])
        with_errors = f", {errors} with errors" if errors else ""
        out.append(
            (f"  follows  {len(subs)} subscription(s), next check {when}{with_errors}", None)
        )
    from earwig.mediaservers.lines import status_lines as media_lines

    out += media_lines(st.get("media_servers") or [])
    if (cur := st["current"]) is not None:
        out.append((f"  now      #{cur['id']} {cur['title']} {cur['state']} {percent(cur)}", None))
    return out


def key_hint(hint: str, job_id: int) -> str:
    """A hint in the dashboard's words: "`earwig retry 22`" (or a bare "`earwig retry`") is
    "press r" there, "`earwig cancel 22`" "press c", "`earwig resume 22`" "press p". A command
    about another job, or with options the key cannot give (`--model`), is left as it is."""
    keys = {"retry": "r", "cancel": "c", "resume": "p", "pause": "p", "prioritize": "t"}
    for verb, key in keys.items():
        hint = re.sub(rf"`earwig {verb}(?: {job_id})?`", f"press {key}", hint)
    return hint


def backend_table(rows: list[BackendRow]) -> Table:
    """`earwig backends`: each backend, whether it is installed and can run, and its role."""
    yes = {True: "yes", False: "no"}
    cells: list[tuple[list[str], str | None]] = [
        ([r["name"], yes[r["installed"]], yes[r["usable"]], r["detail"], r["role"]], None)
        for r in rows
    ]
    return ["backend", "installed", "can run", "model, or why not", "role"], cells


def bench_table(rows: list[BackendRow]) -> Table:
    """`earwig backends --bench`: load time, real-time factor, memory, and what it heard."""
    cells: list[tuple[list[str], str | None]] = []
    for row in rows:
        b = row.get("bench")
        if not b:
            continue
        if "error" in b:
            cells.append(([row["name"], "", "", "", b["error"]], "red"))
            continue
        heard = b.get("text", "").replace("\n", " ")
        shown = heard[:40] + ("…" if len(heard) > 40 else "")
        load, rtf = f"{b.get('load', 0):.2f} s", f"{b.get('rtf', 0):.3f}"
        cells.append(([row["name"], load, rtf, size(b.get("peak_rss", 0)), shown], None))
    return ["backend", "load", "real-time factor", "peak RSS", "heard"], cells
