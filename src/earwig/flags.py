"""Warnings a person can read, and marks a reader of the file alone sees.

A long recording through the wrong model used to give one warning per stretch of speech: ten
copies of the same three-line sentence on a job's card, each with a different time range and a
hint that said `earwig retry ID`. Here the stretches (model.Flag, found by transcribe/quality.py,
transcribe/repair.py and transcribe/spoken.py) merge by kind into one warning that names every
range ("not English: 00:30-00:59, 01:41-02:10 and 8 more"), with one hint naming the real job.
The same flags mark the text formats where they are (`marks`, `lines`): a line in .txt/.md and a
cue in .srt/.vtt, so nobody reading a file is misled by what is missing or doubtful in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from earwig import languages
from earwig.cues import Mark
from earwig.formatting import clock
from earwig.model import Flag, Segment

NAMED = 3  # ranges a warning names before "and N more"


def span(start: float, end: float) -> str:
    return f"{clock(start)}-{clock(end)}"


def ranges(flags: Sequence[Flag]) -> str:
    """ "00:30-00:59, 01:41-02:10 and 8 more": the flags' time ranges in order, neighbours
    (less than a second apart) as one."""
    joined: list[list[float]] = []
    for f in sorted(flags, key=lambda f: f.start):
        if joined and f.start - joined[-1][1] < 1.0:
            joined[-1][1] = max(joined[-1][1], f.end)
        else:
            joined.append([f.start, f.end])
    named = [span(a, b) for a, b in joined]
    if len(named) > NAMED + 1:
        return ", ".join(named[:NAMED]) + f" and {len(named) - NAMED} more"
    if len(named) > 1:
        return ", ".join(named[:-1]) + " and " + named[-1]
    return named[0] if named else ""


def retry_hint(job_id: int | None, option: str) -> str:
    """How to transcribe the job again: its real number in a daemon, else the command."""
    if job_id is not None:
        return f"`earwig retry {job_id} {option}`"
    return f"transcribe it again with `{option}`"


def warnings(flags: Sequence[Flag], model: str, job_id: int | None = None) -> tuple[str, ...]:
    """One sentence per kind of flag, every range in it, and what to do once."""
    from earwig.transcribe.models import display_name

    kinds: dict[str, list[Flag]] = {}
    for f in flags:
        kinds.setdefault(f.kind, []).append(f)
    name = display_name(model)
    out = []
    for kind, group in kinds.items():
        where = ranges(group)
        details = [f.detail for f in group if f.detail]
        heard = _most(details)
        if kind == "foreign":
            sounds = f"it sounds like {heard}" if heard else "it is probably not English"
            out.append(
                f"not English: {where} ({sounds}): {name} is English-only, so that speech is "
                "not in the text (the .json keeps what the model wrote). Transcribe it with a "
                f"multilingual model: `earwig models pull base`, then "
                f'{retry_hint(job_id, "--model base")} (or set [transcribe] model = "base")'
            )
        elif kind == "loop":
            why = f" ({heard})" if heard else ""
            out.append(
                f"the model repeated itself at {where}{why}: decoded again without the text "
                "before it, and what still repeated was cut to a few copies; check those "
                "stretches against the audio"
            )
        elif kind == "silence":
            out.append(
                f"text where no speech was heard, left out: {where} (Whisper invents lines "
                'such as "Thanks for watching" over silence and music)'
            )
        elif kind == "doubtful-silence":
            out.append(
                f"text where no speech was heard, kept but doubtful: {where}; check it "
                "against the audio"
            )
        elif kind == "skipped":
            out.append(
                f"speech with no text: {where}: the model wrote nothing for it (it skipped "
                f"ahead, or could not read it); {retry_hint(job_id, '--model base')} or a "
                "larger model may get it"
            )
        elif kind.startswith("overruled:"):
            code, hint = kind.split(":")[1], heard or ""
            out.append(
                f"clearly {languages.name(code)}, not {languages.name(hint)} as the language "
                f"setting says: {where}, transcribed in {languages.name(code)} (to force one "
                "language, set [transcribe] multilingual = false or use --no-multilingual)"
            )
        else:
            out.append(f"{kind}: {where}")
    return tuple(out)


def _most(details: list[str]) -> str:
    return max(set(details), key=details.count) if details else ""


def marks(flags: Sequence[Flag]) -> list[Mark]:
    """The flags as cue marks: a dropped stretch is a cue of its own, a doubtful one's first
    cue is tagged."""
    return [
        Mark(f.start, f.end, f"[{f.note}]" if f.drop else "[doubtful]", f.drop)
        for f in flags
        if f.note
    ]


def lines(segments: Sequence[Segment], flags: Sequence[Flag]) -> list[tuple[Segment | None, str]]:
    """The segments in order with each flag's line where it is ("[00:30-00:59: not
    transcribed: German speech]"), as (segment, text) pairs (None for a flag's line); a
    dropped stretch's segments are left out."""
    noted = [f for f in flags if f.note]
    dropped = [f for f in noted if f.drop]
    out: list[tuple[float, int, Segment | None, str]] = []
    for s in segments:
        middle = (s.start + s.end) / 2
        if any(f.start <= middle <= f.end for f in dropped):
            continue
        out.append((s.start, 1, s, s.text.strip()))
    for f in noted:
        out.append((f.start, 0, None, f"[{span(f.start, f.end)}: {f.note}]"))
    out.sort(key=lambda row: (row[0], row[1]))
    return [(s, text) for _, _, s, text in out]
