"""`earwig speakers name JOB SPEAKER NAME`: one speaker of one transcript gets a name, in the
database (its segments, so search shows it), in the transcript files already written, and
as a known voice that later transcripts from the same source (or everywhere) are matched
against. The daemon's handler and the CLI (daemon not running) both call `name_speaker`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

from earwig.errors import NotFound, UsageError
from earwig.speakers.names import scope_of
from earwig.store import Store

if TYPE_CHECKING:
    from earwig.protocol import SpeakerForgotten, SpeakerNamed, Voices

EVERYWHERE = "*"


def name_speaker(
    store: Store, job_id: int, speaker: str, name: str, everywhere: bool = False
) -> SpeakerNamed:
    name = " ".join(name.split())
    if not name or len(name) > 80 or any(c in name for c in "<>\n"):
        raise UsageError(f"{name!r} cannot be a speaker's name", "give a short name, like Alice")
    job = store.get_job(job_id)
    speakers = store.job_speakers(job_id)
    if speaker not in speakers:
        found = ", ".join(speakers) or "none: its speakers were not labelled"
        raise NotFound(
            f"job {job_id} has no speaker {speaker!r}",
            f'its speakers are: {found} (set [transcribe] speakers = "auto" to label them)',
        )
    scope = EVERYWHERE if everywhere else scope_of(job)
    store.name_speaker(job_id, speaker, name, scope, store.voice(job_id, speaker))
    rewritten = [str(p) for p in _rename_in_files(job.outputs, speaker, name)]
    return {"job": job_id, "speaker": speaker, "name": name, "scope": scope, "files": rewritten}


def list_voices(store: Store) -> Voices:
    """The named voices as clients see them (their embeddings stay in the database)."""
    voices = store.known_voices()
    rows = [{k: v for k, v in row.items() if k != "embedding"} for row in voices]
    return cast("Voices", {"voices": rows})


def forget_voice(store: Store, name: str) -> SpeakerForgotten:
    if not store.forget_voice(name):
        raise NotFound(f"no voice named {name!r}", "`earwig speakers` lists them")
    return {"forgotten": name}


def _rename_in_files(outputs: tuple[str, ...], old: str, new: str) -> list[Path]:
    """The label becomes the name in the files earwig wrote (never a part of a longer label:
    SPEAKER 1 is not SPEAKER 10)."""
    from earwig.outputs import write_atomic

    pattern = re.compile(re.escape(old) + r"(?!\d)")
    done = []
    for output in outputs:
        path = Path(output)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue  # moved or deleted by the user: the database still has the name
        if path.suffix == ".json":
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            for segment in doc.get("segments", []) if isinstance(doc, dict) else []:
                if isinstance(segment, dict) and segment.get("speaker") == old:
                    segment["speaker"] = new
            changed = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        else:
            escaped = new.replace("&", "&amp;") if path.suffix == ".vtt" else new
            changed = pattern.sub(escaped.replace("\\", "\\\\"), text)
        if changed != text:
            write_atomic(path, changed, path.stat().st_mode & 0o777)  # as it was
            done.append(path)
    return done
