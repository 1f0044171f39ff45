"""Transcript writers: txt, srt, vtt, tsv and json, each written atomically.

A reader (a sync client, an editor, `tail`) never sees half a file: each one is written to a
temporary name in the same directory and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earwig import cues, flags
from earwig.formatting import clock
from earwig.model import Job, Segment, Transcript


def cue_time(seconds: float, sep: str) -> str:
    """A cue's time as subtitles write it: 00:01:02,345 (SRT, sep ",") or .345 (WebVTT)."""
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _turns(t: Transcript) -> list[tuple[str | None, list[Segment]]]:
    """Runs of segments by one speaker, in order."""
    turns: list[tuple[str | None, list[Segment]]] = []
    for s in t.segments:
        if not s.text.strip():
            continue
        if turns and turns[-1][0] == s.speaker:
            turns[-1][1].append(s)
        else:
            turns.append((s.speaker, [s]))
    return turns


def _has_speakers(t: Transcript) -> bool:
    return any(s.speaker for s in t.segments)


def to_txt(t: Transcript, meta: dict[str, Any]) -> str:
    """The text, a line a segment (a paragraph a speaker's turn when speakers are known);
    a stretch that is missing or doubtful has its own line where it is (earwig/flags.py)."""
    rows = flags.lines(t.segments, t.flags)
    if not _has_speakers(t):
        return "\n".join(text for _, text in rows if text) + "\n"
    paragraphs: list[str] = []
    who: object = object()
    for s, text in rows:
        if s is None:
            paragraphs.append(text)
            who = object()
        elif paragraphs and s.speaker == who:
            paragraphs[-1] += " " + text
        else:
            paragraphs.append((f"{s.speaker}: " if s.speaker else "") + text)
            who = s.speaker
    return "\n\n".join(paragraphs) + "\n"


def to_srt(t: Transcript, meta: dict[str, Any], rules: cues.Rules | None = None) -> str:
    """Cues made for reading (earwig/cues.py); a speaker's name opens the first cue of each
    turn ("Alice: ..."), as SubRip has no voice markup and players show the text as it is."""
    blocks = []
    for i, c in enumerate(subtitle_cues(t, rules, name_turns=True), 1):
        text = c.text.replace("-->", "->")
        blocks.append(f"{i}\n{cue_time(c.start, ',')} --> {cue_time(c.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(t: Transcript, meta: dict[str, Any], rules: cues.Rules | None = None) -> str:
    """Cues made for reading; a speaker is a WebVTT voice span (`<v Alice>`) on each of
    their cues."""
    blocks = []
    for c in subtitle_cues(t, rules):
        voice = f"<v {_vtt_escape(c.speaker)}>" if c.speaker else ""
        text = _vtt_escape(c.text)
        blocks.append(f"{cue_time(c.start, '.')} --> {cue_time(c.end, '.')}\n{voice}{text}\n")
    return "WEBVTT\n\n" + "\n".join(blocks)


def subtitle_cues(
    t: Transcript, rules: cues.Rules | None = None, *, name_turns: bool = False
) -> list[cues.Cue]:
    """The transcript's cues, with what is missing or doubtful marked where it is."""
    return cues.cues(
        t.segments,
        rules,
        duration=t.duration,
        marks=flags.marks(t.flags),
        name_turns=name_turns,
    )


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_tsv(t: Transcript, meta: dict[str, Any]) -> str:
    """whisper's tsv (start, end in ms, text); a speaker column is added when known."""
    speakers = _has_speakers(t)
    rows = ["start\tend\ttext" + ("\tspeaker" if speakers else "")]
    for s in t.segments:
        row = f"{round(s.start * 1000)}\t{round(s.end * 1000)}\t{' '.join(s.text.split())}"
        if speakers:
            row += "\t" + " ".join((s.speaker or "").split())
        rows.append(row)
    return "\n".join(rows) + "\n"


def _segment(s: Segment, words: bool = True) -> dict[str, Any]:
    # times to the millisecond: 2.448, not the float noise of windows joined (2.4480000000000004)
    doc: dict[str, Any] = {
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "text": s.text.strip(),
    }
    if s.language:
        doc["language"] = s.language
    if s.speaker:
        doc["speaker"] = s.speaker
    for name in ("avg_logprob", "compression_ratio"):  # how believable it is, where known
        if (value := getattr(s, name)) is not None:
            doc[name] = round(value, 4)
    if s.words and words:
        doc["words"] = [
            {
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "word": w.text.strip(),
                "probability": w.probability,
            }
            | ({"speaker": s.speaker} if s.speaker else {})  # a segment is split where it changes
            for w in s.words
        ]
    return doc


def to_json(t: Transcript, meta: dict[str, Any]) -> str:
    doc = {
        **meta,
        "language": t.language,
        "languages": list(t.languages),
        "language_probability": t.language_probability,
        "duration": round(t.duration, 3),
        "backend": t.backend,
        "model": t.model,
        "warnings": list(t.warnings),
        "text": t.text,
        "segments": [_segment(s, t.json_words) for s in t.segments],
    }
    if t.flags:  # what the other formats mark as missing or doubtful, where
        doc["flags"] = [
            {"kind": f.kind, "start": f.start, "end": f.end, "note": f.note, "dropped": f.drop}
            for f in t.flags
        ]
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def to_md(t: Transcript, meta: dict[str, Any]) -> str:
    """Notes: front matter (Obsidian and other notes apps read it), the title, the source
    as a link, then a paragraph a minute, each opening with its time; for a URL the time is
    a link that starts playback there (`URL#t=SECONDS`, the Media Fragments syntax)."""
    url = meta.get("url")
    source = url or meta.get("source") or ""
    front = {
        "title": meta.get("title") or "",
        "source": source,
        "date": meta.get("date") or "",
        "language": t.language or "",
        "languages": list(t.languages),
        "duration": cue_time(t.duration, ".")[:8],
        "model": t.model,
        "tags": ["transcript"],
    }
    if meta.get("subscription"):
        front["subscription"] = meta["subscription"]
    if meta.get("source_title"):
        front["source_title"] = meta["source_title"]
    if meta.get("summary"):
        front["summary"] = meta["summary"]
    if _has_speakers(t):
        front["speakers"] = list(dict.fromkeys(s.speaker for s in t.segments if s.speaker))
    lines = ["---"]
    for key, value in front.items():
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines += ["---", "", f"# {_md_escape(str(meta.get('title') or 'Transcript'))}", ""]
    if source:
        lines += [f"Source: <{source}>" if url else f"Source: `{source}`", ""]
    paragraph: list[str] = []
    if meta.get("summary"):
        lines += ["## Summary", "", _md_escape(meta["summary"]), ""]
    if meta.get("chapters"):
        lines += ["## Chapters", ""]
        for c in meta["chapters"]:
            lines.append(f"- {_md_stamp(float(c['start']), url)} {_md_escape(c.get('title', ''))}")
        lines.append("")
    if meta.get("summary") or meta.get("chapters"):
        lines += ["## Transcript", ""]
    speakers = _has_speakers(t)
    turn: tuple[Any, ...] | None = None
    for s, text in flags.lines(t.segments, t.flags):
        if s is None:  # a stretch missing or doubtful: a paragraph of its own, in italics
            if paragraph:
                lines += [" ".join(paragraph), ""]
            lines += [f"*{_md_escape(text)}*", ""]
            paragraph, turn = [], None
            continue
        if not text:
            continue
        # a paragraph per speaker turn when speakers are known, else one a minute
        this = (s.speaker,) if speakers else (int(s.start // 60),)
        if turn is None or this != turn:
            if paragraph:
                lines += [" ".join(paragraph), ""]
            turn = this
            paragraph = [_md_stamp(s.start, url)]
            if s.speaker:
                paragraph.append(f"**{_md_escape(s.speaker)}:**")
        paragraph.append(_md_escape(text))
    if paragraph:
        lines += [" ".join(paragraph), ""]
    return "\n".join(lines)


def _md_stamp(seconds: float, url: str | None) -> str:
    """A time as a link to that second of the recording (for URLs), else in bold."""
    stamp = clock(seconds)
    return f"[{stamp}](<{url}#t={int(seconds)}>)" if url else f"**{stamp}**"


def _md_escape(text: str) -> str:
    """Transcribed words are text, never markup: a '#', '*' or '[' from the speech stays."""
    return "".join("\\" + c if c in "\\`*_[]#<>|" else c for c in text)


WRITERS: dict[str, Callable[[Transcript, dict[str, Any]], str]] = {
    "txt": to_txt,
    "srt": to_srt,
    "vtt": to_vtt,
    "tsv": to_tsv,
    "json": to_json,
    "md": to_md,
}


def render(fmt: str, t: Transcript, meta: dict[str, Any], rules: cues.Rules | None = None) -> str:
    """One format's text; subtitles are cut into cues by `rules` (the defaults if None)."""
    if fmt == "srt":
        return to_srt(t, meta, rules)
    if fmt == "vtt":
        return to_vtt(t, meta, rules)
    return WRITERS[fmt](t, meta)


PRIVATE = 0o600  # the config (it may hold a webhook's token): its owner alone


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to `path` through a temporary file renamed into place.

    The file gets `mode`, or with None what any program's new file gets here: 0666 less the
    process's umask (and a folder's default ACL), as `cp` or an editor would make it. So a
    media server running as another user reads the subtitles beside its films when the umask
    lets it, and `[output] mode` can say otherwise. Secrets never come through here with None:
    the config is written PRIVATE; the token, database and logs are made 0600 where they are
    opened.
    """
    fd, tmp = _create_beside(path, 0o666 if mode is None else PRIVATE)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # exactly this, whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_beside(path: Path, mode: int) -> tuple[int, Path]:
    """A new hidden file next to `path`, opened for writing with `mode` (the umask applies):
    tempfile.mkstemp would always make it 0600."""
    import secrets

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def transcript_meta(job: Job) -> dict[str, Any]:
    """Where a transcript came from, for its .json: a URL job names its URL (the downloaded
    media is cleaned up after `keep_media`), its feed, and where the media was."""
    meta: dict[str, Any] = {"source": job.url or job.path, "title": job.title}
    if job.created_at:
        import datetime as dt

        meta["date"] = dt.datetime.fromtimestamp(job.created_at).date().isoformat()
    if job.url:
        meta["url"] = job.url
        meta["media"] = job.path
    if job.subscription:
        meta["subscription"] = job.subscription
    if job.text_from:
        meta["text_from"] = job.text_from
    if job.chapters:
        meta["chapters"] = list(job.chapters)
    if job.id is not None:
        meta["job_id"] = job.id
    return meta


def summary_meta(job: Job, summary: dict[str, Any] | None) -> dict[str, Any]:
    """What the [llm] model wrote, for the .json and .md: the summary, its title (the job's
    own title kept as `source_title`) and its chapters, unless the publisher gave chapters
    (theirs win)."""
    if not summary:
        return {}
    meta: dict[str, Any] = {}
    if summary.get("summary"):
        meta["summary"] = summary["summary"]
    if summary.get("title"):
        meta["title"] = summary["title"]
        meta["source_title"] = job.title
    if summary.get("chapters") and not job.chapters:
        meta["chapters"] = list(summary["chapters"])
    return meta


def check_writable(out_dir: Path) -> None:
    """Fail now, plainly, if transcripts cannot be written to `out_dir` (read-only, full, a
    file in the way), instead of after a whole transcription."""
    from earwig.errors import OutputError

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".earwig-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"cannot write transcripts to {out_dir}: {reason}",
            "make the folder writable (or free space), or set [output] dir to another "
            "folder; then `earwig retry` the job",
        ) from None


def choose_base(
    out_dir: Path,
    stem: str,
    formats: tuple[str, ...],
    source: str,
    owners: Callable[[str], set[str]] = lambda base: set(),
) -> str:
    """The file stem for `source`'s transcripts in `out_dir`: `stem`, else "stem (2)", ...

    One rule for the daemon and `earwig transcribe`, so two sources never overwrite each
    other: a name is taken when `owners` (the daemon's records) name another source, or when
    transcript files exist there that the .json beside them does not attribute to `source`
    (another tool's, or another run's). Transcribing the same source again reuses its name.
    """
    for n in range(1, 10_000):
        base = stem if n == 1 else f"{stem} ({n})"
        known = owners(base)
        if known - {source}:
            continue
        if known or _free_on_disk(out_dir, base, formats, source):
            return base
    from earwig.errors import OutputError

    raise OutputError(f"no free transcript name for {stem} in {out_dir}")


def _free_on_disk(out_dir: Path, base: str, formats: tuple[str, ...], source: str) -> bool:
    if not any((out_dir / f"{base}.{fmt}").exists() for fmt in {*formats, "json"}):
        return True
    try:
        doc = json.loads((out_dir / f"{base}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # files earwig cannot attribute: leave them alone
    return isinstance(doc, dict) and doc.get("source") == source


def write_all(
    transcript: Transcript,
    out_dir: Path,
    base: str,
    formats: tuple[str, ...],
    meta: dict[str, Any] | None = None,
    rules: cues.Rules | None = None,
    *,
    mode: int | None = None,
) -> list[Path]:
    """Write every requested format as out_dir/base.EXT and return the paths (subtitle
    cues by `rules`, [output] line_width and lines; permissions `mode`, None: by the umask)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for fmt in formats:
            path = out_dir / f"{base}.{fmt}"
            write_atomic(path, render(fmt, transcript, meta or {}, rules), mode)
            written.append(path)
    except OSError:
        # A disk that filled up half-way: no partial set of transcripts is left looking
        # like a finished one (the job writes them all again when it is retried).
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written
