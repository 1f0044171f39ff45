"""The nouns of earwig: jobs, their states, and transcripts.

Plain frozen dataclasses with no behaviour beyond (de)serialisation, so that every other
module (store, state machine, protocol, TUI) can share them without importing each other.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any


class JobState(enum.StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"  # a URL job's media is being downloaded
    FETCHING = "fetching"  # a local file is checked (probed, output folder) before work
    TRANSCRIBING = "transcribing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"

    @property
    def running(self) -> bool:
        return self in RUNNING

    @property
    def finished(self) -> bool:
        return self in FINISHED


# The groups of states, said once: the store's queries, the CLI and the dashboard use these
# (a JobState is a str, so `job["state"] in RUNNING` works on a protocol view too).
RUNNING = (JobState.DOWNLOADING, JobState.FETCHING, JobState.TRANSCRIBING)
FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Job:
    """One piece of media to turn into a transcript, and everything that happened to it."""

    id: int | None
    source: str  # where it came from: "watch", "cli", "inbox", "subscription"
    title: str
    path: str | None = None  # the local media file (after download, for URLs)
    url: str | None = None
    subscription: str | None = None  # the subscription's name, for items it found
    sha256: str | None = None
    size: int | None = None
    mtime: float | None = None
    state: JobState = JobState.QUEUED
    priority: int = 0
    attempts: int = 0
    force: bool = False  # transcribe even if the same content was transcribed before
    error: str | None = None
    hint: str | None = None
    backend: str | None = None
    model: str | None = None
    duration: float | None = None  # seconds of audio, once known
    output_dir: str | None = None
    output_base: str | None = None  # file name stem of the transcripts, unique per source
    outputs: tuple[str, ...] = ()
    model_request: str | None = None  # a retry asked for this model instead of the config's
    slot: str | None = None  # where it was transcribed: "local", or a server's name
    language: str | None = None  # what the transcript found the file to speak (mostly)
    languages: tuple[str, ...] = ()  # every language it speaks, the most spoken first
    warnings: tuple[str, ...] = ()  # done, but something looks wrong: what, and what to do
    # A feed item's Podcasting 2.0 links: {"transcripts": [{url, type, language, rel}],
    # "chapters": url, "mode": "publisher-first" | "always-transcribe" | "both"}
    publisher: dict[str, Any] = field(default_factory=dict)
    text_from: str | None = None  # None: transcribed here; else e.g. "publisher (text/vtt)"
    chapters: tuple[dict[str, Any], ...] = ()  # the publisher's chapters, for the .json
    beside: tuple[str, ...] = ()  # subtitle formats written next to the media (a [[watch]]
    # folder's output = "beside"); empty: transcripts go to output_dir
    # What one request asked for, over the configured [transcribe] (an HTTP API job's
    # language, task, prompt, word timestamps, vad): TranscribeOptions field -> value
    options: dict[str, Any] = field(default_factory=dict)
    # A done job's language-model stage ([llm], daemon/followups.py), for the lists:
    # "summarizing" or "translating" (running), "waiting" (queued, or backing off while
    # the endpoint is down), "paused"; None when nothing follows or all of it finished
    stage: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    not_before: float | None = None  # backoff: do not start before this time
    # Seconds of audio from the start whose transcript a stopped run kept (its finished
    # windows, store.py: saved_windows): a paused or interrupted job goes on from there.
    saved: float = 0.0
    times: dict[str, float] = field(default_factory=dict)  # state -> when it was last entered

    def replace(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = str(self.state)
        data["outputs"] = list(self.outputs)
        data["warnings"] = list(self.warnings)
        data["chapters"] = list(self.chapters)
        data["beside"] = list(self.beside)
        data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["state"] = JobState(values.get("state", "queued"))
        values["outputs"] = tuple(values.get("outputs") or ())
        values["warnings"] = tuple(values.get("warnings") or ())
        values["force"] = bool(values.get("force", False))
        values["times"] = dict(values.get("times") or {})
        values["publisher"] = dict(values.get("publisher") or {})
        values["options"] = dict(values.get("options") or {})
        values["chapters"] = tuple(values.get("chapters") or ())
        values["beside"] = tuple(values.get("beside") or ())
        values["languages"] = tuple(values.get("languages") or ())
        return cls(**values)


@dataclass(frozen=True)
class Word:
    """One word with its own timing (only when word timestamps were asked for)."""

    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()  # written to the .json output; not kept in the database
    language: str | None = None  # the language it is spoken in, where the backend found it
    # How believable the text is, where the backend says (faster-whisper): the mean token
    # log-probability and the text's gzip compression ratio (repetition loops score high).
    avg_logprob: float | None = None
    compression_ratio: float | None = None
    speaker: str | None = None  # who speaks, where known (a publisher's transcript names them)


@dataclass(frozen=True)
class Flag:
    """A stretch of a transcript that is missing or doubtful, and why. Flags of one kind
    merge into one warning with all their ranges (earwig/flags.py), and the text formats
    mark each where it is (`drop`: its words are left out and `note` stands in their place;
    else `note` is shown beside the words it doubts)."""

    kind: str  # "foreign", "loop", "silence", "overruled:de"...: what merges into one warning
    start: float
    end: float
    note: str  # what a reader sees in place: "not transcribed: German speech; ..."
    drop: bool = False
    detail: str = ""  # why, for the warning ("3 words for 12s of speech"; "German, 97% sure")


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...]
    language: str | None
    duration: float
    backend: str
    model: str
    language_probability: float | None = None
    speech: float | None = None  # seconds of speech the VAD heard, when it was run
    warnings: tuple[str, ...] = ()  # what looks wrong with this transcript, and what to do
    # Each speaker's voice (label -> a CAM++ embedding), kept so a name given later sticks
    voices: tuple[tuple[str, tuple[float, ...]], ...] = ()
    flags: tuple[Flag, ...] = ()  # stretches missing or doubtful, marked in the text formats
    # False: the words were timed only to cut subtitle cues, and .json leaves them out
    json_words: bool = True

    def replace(self, **changes: Any) -> Transcript:
        return dataclasses.replace(self, **changes)

    @property
    def text(self) -> str:
        return "\n".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language spoken, by seconds of its segments, the most spoken first (segments
        without a language of their own speak the transcript's)."""
        seconds: dict[str, float] = {}
        for s in self.segments:
            language = s.language or self.language
            if language and s.text.strip():
                seconds[language] = seconds.get(language, 0.0) + max(s.end - s.start, 0.001)
        if not seconds:
            return (self.language,) if self.language else ()
        return tuple(sorted(seconds, key=lambda k: -seconds[k]))
