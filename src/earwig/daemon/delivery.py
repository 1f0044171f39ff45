"""Where a finished transcript goes, one rule for every way a job ends well: transcribed by
a slot, or taken from a feed's publisher.

`plan` runs on the event loop (it asks the store which names are taken); `write` runs in a
worker thread and touches only files; `finish` saves the transcript and moves the job to done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from earwig import media, outputs, subtitles
from earwig.config import OutputConfig
from earwig.daemon.queue import JobQueue
from earwig.jobs import Action
from earwig.model import Job, Transcript
from earwig.store import Store

API_SOURCE = "api"  # a job an HTTP request made (/v1, /asr): the client waits for it
UPLOAD_SOURCE = "upload"  # a file uploaded to POST /api/jobs (the web page's Add, curl -F)
API_FORMATS = ("json",)


@dataclass(frozen=True)
class Plan:
    folder: Path  # checked for writing before the work starts
    base: str | None  # the transcripts' stem; None for subtitles beside the media
    formats: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    media: Path | None = None  # beside: the media file the subtitles are named after
    owned: tuple[str, ...] = ()  # beside: files earwig wrote for this job before
    rules: Any = None  # subtitle cues' rules (cues.Rules, from [output]); None: the norms
    mode: int | None = None  # [output] mode; None: the umask decides


def plan(job: Job, store: Store, output: OutputConfig) -> Plan:
    if job.beside and job.path:
        path = Path(job.path)
        rules = output.cue_rules()
        return Plan(
            path.parent,
            None,
            job.beside,
            media=path,
            owned=job.outputs,
            rules=rules,
            mode=output.mode,
        )
    out_dir = Path(job.output_dir or output.dir)
    # An HTTP API job's answer is made from its .json (words and all), in the media cache
    formats = API_FORMATS if job.source == API_SOURCE else output.formats
    base = job.output_base or outputs.choose_base(
        out_dir,
        media.safe_stem(Path(job.title).stem),
        formats,
        job.url or job.path or "",
        lambda base: store.output_base_owners(str(out_dir), base),
    )
    return Plan(
        out_dir,
        base,
        formats,
        outputs.transcript_meta(job),
        rules=output.cue_rules(),
        mode=output.mode,
    )


def write(plan: Plan, transcript: Transcript, suffix: str = "") -> list[Path]:
    """Write the transcript's files (`suffix` after the stem: ".publisher")."""
    if plan.media is not None:
        return subtitles.write_beside(
            transcript, plan.media, plan.formats, plan.owned, plan.rules, mode=plan.mode
        )
    assert plan.base is not None
    return outputs.write_all(
        transcript,
        plan.folder,
        plan.base + suffix,
        plan.formats,
        plan.meta,
        plan.rules,
        mode=plan.mode,
    )


def finish(
    queue: JobQueue,
    job_id: int,
    plan: Plan,
    transcript: Transcript,
    written: list[Path],
    **changes: Any,
) -> Job:
    """Save the transcript (search sees it) and mark the job done, in that order."""
    queue.store.save_transcript(job_id, transcript)
    return queue.transition(
        job_id,
        Action.FINISH,
        changes={
            "outputs": tuple(str(p) for p in written),
            "output_base": plan.base,
            "backend": transcript.backend,
            "model": transcript.model,
            "duration": transcript.duration,
            "language": transcript.language,
            "languages": transcript.languages,
            "warnings": transcript.warnings,
            **changes,
        },
    )
