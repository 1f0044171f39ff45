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
    folder: Path
    base: str | None  # the transcripts' stem; None for subtitles beside the media
    formats: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    media: Path | None = None  # beside: the media file the subtitles are named after
    owned: tuple[str, ...] = ()  # beside: files earwig wrote for this job before
    rules: Any = None  # subtitle cues' rules (cues.Rules, from [output]); None: the norms
    mode: int | None = None  # [output] mode; None: the umask decides
    also: Plan | None = None  # beside: transcripts written as well, where [output] says

    def folders(self) -> list[Path]:
        """Every folder the plan writes to, checked for writing before the work starts."""
        return [self.folder, *(self.also.folders() if self.also else [])]


def plan(job: Job, store: Store, output: OutputConfig) -> Plan:
    if job.beside and job.path:
        path = Path(job.path)
        # A media server's job puts subtitles beside the film for the server, and its other
        # outputs where the user keeps transcripts; a watched folder's "beside" means only that
        also = _transcripts(job, store, output) if job.options.get("media_server") else None
        return Plan(
            path.parent,
            None,
            job.beside,
            media=path,
            owned=job.outputs,
            rules=output.cue_rules(),
            mode=output.mode,
            also=also,
        )
    return _transcripts(job, store, output)


def _transcripts(job: Job, store: Store, output: OutputConfig) -> Plan:
    """The transcripts' files in [output] dir (or the job's own folder), named apart."""
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


def named_apart(plan: Plan, job: Job, store: Store) -> str:
    """When a job's files are "talk (2).*" because "talk.*" is another source's, which one
    ("; talk.* is /media/old/talk.wav's"), for its done line: the folder alone does not say."""
    stem = media.safe_stem(Path(job.title).stem)
    if plan.base is None or plan.base == stem:
        return ""
    owners = sorted(store.output_base_owners(str(plan.folder), stem))
    return f"; {stem}.* is {owners[0]}'s" if owners else f"; {stem}.* was there already"


def write(plan: Plan, transcript: Transcript, suffix: str = "") -> list[Path]:
    """Write the transcript's files (`suffix` after the stem: ".publisher")."""
    if plan.media is not None:
        written = subtitles.write_beside(
            transcript, plan.media, plan.formats, plan.owned, plan.rules, mode=plan.mode
        )
        return written + (write(plan.also, transcript, suffix) if plan.also else [])
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
            "output_base": plan.base or (plan.also.base if plan.also else None),
            "backend": transcript.backend,
            "model": transcript.model,
            "duration": transcript.duration,
            "language": transcript.language,
            "languages": transcript.languages,
            "warnings": transcript.warnings,
            **changes,
        },
    )
