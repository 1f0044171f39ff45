"""A whole file through any backend, a window at a time, with memory that does not grow.

The file is decoded in windows of about ten minutes cut at quiet places (audio.windows); a
thread decodes the next window while the backend transcribes the current one, so the backend
never waits for I/O and at most three windows are alive at once. Each window's segments are
shifted to the file's clock and joined; progress is reported against the whole file and only
ever moves forward. The daemon's runner and `earwig transcribe` both come through here.

Each finished window is handed to `on_part` (the daemon keeps it, store.py), and a run given
those parts back (`resume`) transcribes only the windows after them. The file is still decoded
from its start (a few seconds an hour, against minutes of transcription), so the windows are
cut at exactly the same places and the transcript is the one an uninterrupted run makes.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from earwig import flags
from earwig.errors import Aborted
from earwig.model import Flag, Segment, Transcript
from earwig.transcribe import audio, quality, repair, spoken
from earwig.transcribe.base import AbortFn, TranscribeOptions, Transcriber, shift

T = TypeVar("T")
_END = object()


class Part(NamedTuple):
    """One finished window: where it starts in the file, how long it is, what it says (on
    the window's own clock, as the backend said it, with the pipeline's repairs and flags)."""

    offset: float
    length: float
    transcript: Transcript


def transcribe_file(
    transcriber: Transcriber,
    path: Path,
    options: TranscribeOptions,
    on_progress: Callable[[float], None],
    should_abort: AbortFn,
    *,
    duration: float | None = None,
    window: float | None = None,
    model: str | None = None,
    known_voices: Sequence[tuple[str, Sequence[float]]] = (),
    on_stage: Callable[[str], None] = lambda stage: None,
    on_segments: Callable[[Sequence[Segment]], None] = lambda segments: None,
    job_id: int | None = None,
    cue_words: bool = False,
    resume: Sequence[Part] = (),
    on_part: Callable[[Part], None] = lambda part: None,
) -> Transcript:
    """Transcribe `path` window by window; `duration` is the probed length, if known.

    `on_stage` hears "transcribing" when the first window reaches the backend and "speakers"
    when the voices are being told apart; `on_segments` gets each finished segment as the
    backend produces it, on the file's clock (for backends that report them as they go).

    With `model` (the model setting that made it), the transcript is reviewed for signs that
    it is wrong (transcribe/quality.py) and carries warnings saying so. With
    `options.diarize`, each window's voices are collected as it goes by, and the segments get
    their speakers at the end (named from `known_voices` where a voice matches).

    Stretches that are missing or doubtful become flags (earwig/flags.py), merged into one
    warning per kind whose hint names `job_id`. With `cue_words` (subtitles will be written)
    the words are timed for the cues even when the .json is not to show them.

    `resume`: the windows an earlier run of the same file finished (with the same backend,
    model and options): taken as they are, not transcribed again, as long as the file is cut
    at the same places; `on_part` hears each window this run finishes.
    """
    total = duration if duration else None
    window = window or float(getattr(transcriber, "window_seconds", audio.WINDOW_SECONDS))
    parts: list[Part] = []  # offset, length, transcript: never the samples
    kept = list(resume)  # an earlier run's windows, still to be met
    started = False  # has a window reached the backend yet?
    last = 0.0
    voices = _voices() if options.diarize else None
    judge = model is not None and options.multilingual and _english_only(model)
    asked = options
    if judge:  # each stretch of speech judged by its words' probabilities (quality.py)
        namer = quality.Namer(int(getattr(transcriber, "threads", 0) or 0))
    if judge or cue_words:  # words timed: the cues are cut where they were said (cues.py)
        options = dataclasses.replace(options, word_timestamps=True)

    def forward(fraction: float) -> None:
        nonlocal last
        if fraction > last:
            last = fraction
            on_progress(min(fraction, 1.0))

    decoding: list[str] = []  # what went wrong reading the file, where (audio.windows)
    for win in prefetch(audio.windows(path, window, decoding, stop=should_abort)):
        if should_abort():
            raise Aborted("stopped between windows")
        span = win.duration
        if kept and (kept[0].offset, kept[0].length) == (win.offset, span):
            parts.append(kept.pop(0))  # done before: its voices are heard again, no more
            if voices is not None:
                voices.add(win.offset, win.samples)
            forward(min((win.offset + span) / total, 0.999) if total else 0.0)
            del win
            continue
        kept.clear()  # cut elsewhere (the file changed?): the rest is transcribed afresh

        progress = _WindowProgress(win.offset, span, total, forward, on_segments)
        if not started:
            started = True
            on_stage("transcribing")

        part = transcriber.transcribe(win.samples, options, progress, should_abort)
        # where the VAD hears speech: for the judge, for lines over silence where the engine
        # did not cut at it, for speech left without words (repair.py)
        timed = any(s.words for s in part.segments)
        heard = spoken.speech(win.samples) if judge or timed or part.speech is None else None
        part = repair.review(part, heard)
        if voices is not None:  # where the speech is: the VAD's (Whisper's segment times
            voices.add(win.offset, win.samples)  # lag turns by up to a second: voices mix)
        if judge:
            assert model is not None
            found = quality.foreign_spans(part, heard or [])
            flagged = tuple(
                quality.foreign_flag(suspect, namer.name(win.samples, suspect.start, suspect.end))
                for suspect in found
            )
            part = part.replace(flags=part.flags + flagged)
        elif model is not None and part.speech is None and quality.sparse(part, span):
            part = part.replace(speech=quality.speech_seconds(win.samples))
        parts.append(Part(win.offset, span, part))
        on_part(parts[-1])
        del win, part  # this window's samples go now, not at the end of the file
        audio.give_back_freed_memory()
    transcript = join(parts)
    if decoding:
        transcript = transcript.replace(warnings=transcript.warnings + tuple(decoding))
    if asked.language and asked.multilingual:
        transcript = transcript.replace(
            flags=transcript.flags + spoken.overruled(transcript, asked.language)
        )
    if not asked.word_timestamps and options.word_timestamps:
        transcript = transcript.replace(json_words=False)  # timed for the cues and judging
    if voices is not None:
        on_stage("speakers")
        bounds = (asked.min_speakers, asked.max_speakers)
        transcript = _label_speakers(transcript, voices, asked.speakers, known_voices, bounds)
    if model is not None:
        transcript = quality.review(transcript, model, _english_only(model), spans_judged=judge)
    merged = flags.warnings(transcript.flags, model or transcript.model, job_id)
    transcript = transcript.replace(warnings=transcript.warnings + merged)
    forward(1.0)
    return transcript


class _WindowProgress:
    """One window's progress on the whole file's scale; its segments, shifted to the file's
    clock, go to `on_segments` (transcribe/base.py: segments_sink)."""

    def __init__(
        self,
        start: float,
        span: float,
        total: float | None,
        forward: Callable[[float], None],
        on_segments: Callable[[Sequence[Segment]], None],
    ) -> None:
        self.start, self.span, self.total = start, span, total
        self.forward, self.on_segments = forward, on_segments

    def __call__(self, f: float) -> None:
        done = self.start + f * self.span
        if self.total:
            self.forward(min(done / self.total, 0.999))
        else:  # length unknown: creep towards 1 without reaching it
            self.forward(done / (done + self.span))

    def segments(self, segments: Sequence[Segment]) -> None:
        end = self.start + self.span
        self.on_segments([shift(s, self.start, end, s.language) for s in segments])


def _english_only(model: str) -> bool:
    from earwig.transcribe.registry import english_only

    return english_only(model)


def _voices() -> Any:
    from earwig.speakers.diarize import Voices

    return Voices()


def _label_speakers(
    transcript: Transcript,
    voices: Any,
    speakers: int | None,
    known: Sequence[tuple[str, Sequence[float]]],
    bounds: tuple[int | None, int | None] = (None, None),
) -> Transcript:
    from earwig.speakers import assign, names

    found = voices.finish(speakers)
    low, high = bounds
    count = len(found.voices)
    if speakers is None and count and ((low and count < low) or (high and count > high)):
        found = voices.finish(max(low or 1, min(count, high or count)))
    turned = [(t.speaker, v) for t, v in zip(found.turns, found.turn_voices, strict=False)]
    called = names.names_for(found.voices, known, turned)
    labelled = assign.label(transcript, found.turns, called)
    kept = tuple((called[i], tuple(float(x) for x in v)) for i, v in enumerate(found.voices))
    return labelled.replace(voices=kept)


def join(parts: Sequence[tuple[float, float, Transcript]]) -> Transcript:
    """One transcript from consecutive windows (offset, length, transcript): times on the
    file's clock, the language the file mostly speaks, every window's warnings once."""
    first = parts[0][2]
    duration = float(parts[-1][0] + parts[-1][1])
    segments: list[Segment] = []
    spoken: dict[str, float] = {}  # seconds of speech per language
    warnings: list[str] = []
    flagged: list[Flag] = []
    speech = 0.0
    for offset, _, t in parts:
        flagged += [
            dataclasses.replace(f, start=f.start + offset, end=f.end + offset) for f in t.flags
        ]
        for s in t.segments:
            lang = s.language or t.language
            segments.append(shift(s, offset, duration, lang))
            if lang:
                spoken[lang] = spoken.get(lang, 0.0) + max(0.0, s.end - s.start)
        speech += t.speech or 0.0
        warnings.extend(w for w in t.warnings if w not in warnings)
    language = max(spoken, key=spoken.__getitem__) if spoken else first.language
    return first.replace(
        segments=tuple(segments),
        language=language,
        duration=duration,
        speech=speech if any(t.speech is not None for _, _, t in parts) else None,
        warnings=tuple(warnings),
        flags=tuple(flagged),
        language_probability=first.language_probability if language == first.language else None,
    )


def prefetch(items: Iterator[T]) -> Iterator[T]:
    """Produce `items` in a thread, one ahead of the consumer; errors arrive in order.

    The producer starts on the next item only once the consumer has taken the last one, so
    at most two are alive: the one being used and the one being made (a queue would add a
    third). Stopping early (an abort, an error) closes the source in its own thread, so the
    media file is closed and nothing is left running.
    """
    slot: queue.Queue[object] = queue.Queue(maxsize=1)
    taken = threading.Semaphore(0)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                slot.put(item)
                while not taken.acquire(timeout=0.1):  # wait until it is in use
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
            slot.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            slot.put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="earwig-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = slot.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            taken.release()
            yield item  # type: ignore[misc]
            del item
    finally:
        stop.set()
        taken.release()
        while not slot.empty():
            slot.get_nowait()
        thread.join(timeout=5)
