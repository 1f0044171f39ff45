"""faster-whisper's side of the shared batches (transcribe/batches.py).

The job's side (`transcribe`, in the job's thread): a short recording becomes pieces of at
most 30 s, as faster-whisper's batched pipeline would cut it (one piece when it is 30 s or
less and silence is not skipped: the engine hears what it would hear alone; else cut at the
silences Silero VAD finds, silence dropped); its language is found first when the job did not
give one (per job, never from a batch); the pieces go to the shared batches, and the segments
come back one piece at a time, moved onto the recording's clock. It returns what
`BatchedInferencePipeline.transcribe` returns (segments as they come, and an info), so the
backend treats both alike.

The engine's side (`engine`, on the batches' thread): pieces of one kind through the
pipeline's documented `clip_timestamps`: the pieces are laid end to end in one array, each
starting on a whole second, and each is given as a clip of its own, so the engine neither
runs its VAD nor joins pieces; each segment names its clip by `seek` (the clip's start in
frames, exact at whole seconds), which is how it finds its way back to its own piece.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from earwig.transcribe.batches import Engine, Kind, Seat

if TYPE_CHECKING:
    import numpy as np

RATE = 16000
WINDOW = 30.0  # seconds: Whisper's window, the longest piece


@dataclass
class Piece:
    """A segment as the backend reads it (the fields of faster-whisper's Segment it uses)."""

    start: float
    end: float
    text: str
    words: list[Any] = field(default_factory=list)
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0


@dataclass
class TimedWord:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Info:
    """What the backend reads of faster-whisper's TranscriptionInfo."""

    language: str
    language_probability: float
    duration_after_vad: float


def engine(backend: Any) -> Engine:
    """An engine call on `backend`'s model (a FasterWhisperBackend, loaded on first use)."""
    made: dict[int, Any] = {}  # id(model) -> its pipeline (unloading makes a new model)

    def run(kind: Kind, pieces: Sequence[np.ndarray]) -> list[list[Any]]:
        import numpy as np
        from faster_whisper import BatchedInferencePipeline

        backend.load()
        model = backend._model
        if id(model) not in made:
            made.clear()
            made[id(model)] = BatchedInferencePipeline(model)
        pipeline = made[id(model)]
        starts, parts, at = [], [], 0
        for samples in pieces:
            starts.append(at)
            pad = -len(samples) % RATE or RATE  # the next piece on a whole second, apart
            parts += [samples, np.zeros(pad, dtype=np.float32)]
            at += (len(samples) + pad) // RATE
        clips = [
            {"start": float(s), "end": s + len(p) / RATE}
            for s, p in zip(starts, pieces, strict=True)
        ]
        found, _ = pipeline.transcribe(
            np.concatenate(parts),
            language=kind.language,
            task=kind.task,
            initial_prompt=kind.prompt,
            word_timestamps=kind.word_timestamps,
            beam_size=kind.beam_size,
            batch_size=len(pieces),
            clip_timestamps=clips,
            vad_filter=False,
        )
        fps = model.frames_per_second
        owner = {int(s * fps): i for i, s in enumerate(starts)}
        out: list[list[Any]] = [[] for _ in pieces]
        for seg in found:
            i = owner[seg.seek]
            out[i].append(_moved(seg, -float(starts[i]), len(pieces[i]) / RATE))
        return out

    return run


def _moved(seg: Any, by: float, length: float) -> Piece:
    """A segment of the engine's joined array moved onto its own piece's clock."""

    def at(t: float) -> float:
        return min(max(0.0, round(float(t) + by, 3)), round(length, 3))

    words = [
        TimedWord(at(w.start), at(w.end), w.word, float(w.probability)) for w in seg.words or ()
    ]
    return Piece(
        at(seg.start),
        at(seg.end),
        seg.text,
        words,
        float(seg.avg_logprob),
        float(seg.compression_ratio),
    )


def transcribe(
    model: Any,
    seat: Seat,
    audio: np.ndarray,
    should_abort: Callable[[], bool],
    *,
    language: str | None,
    task: str,
    initial_prompt: str | None,
    word_timestamps: bool,
    beam_size: int,
    vad: bool,
) -> tuple[Iterator[Piece], Info]:
    """`audio` (a short recording) through the shared batches as `seat`'s job: (segments, as
    each piece is decoded, on the recording's clock; info), as the batched pipeline returns."""
    duration = len(audio) / RATE
    probability = 1.0
    if language is None:
        if model.model.is_multilingual:  # this job's own language, from its own audio
            language, probability, _ = model.detect_language(audio)
        else:
            language = "en"
    kind = Kind(str(language), task, initial_prompt, word_timestamps, beam_size)
    if duration <= WINDOW and not vad:
        pieces, where = [audio], None
        speech = duration
    else:
        from faster_whisper.vad import (
            SpeechTimestampsMap,
            VadOptions,
            collect_chunks,
            get_speech_timestamps,
        )

        # as BatchedInferencePipeline cuts a recording (its defaults)
        spans = get_speech_timestamps(
            audio, VadOptions(max_speech_duration_s=WINDOW, min_silence_duration_ms=160)
        )
        chunks, meta = collect_chunks(audio, spans, max_duration=WINDOW)
        pieces = [c for c in chunks if len(c)]
        offsets = [float(m["offset"]) for m, c in zip(meta, chunks, strict=True) if len(c)]
        where = (SpeechTimestampsMap(spans, RATE), offsets)
        speech = sum(s["end"] - s["start"] for s in spans) / RATE
    info = Info(str(language), float(probability), round(speech, 3))
    if not pieces:
        seat.settle()  # nothing to decode: no batch waits for this job
        return iter(()), info
    ticket = seat.submit(pieces, kind)

    def segments() -> Iterator[Piece]:
        for k, found in enumerate(seat.results(ticket, should_abort)):
            for seg in found:
                yield seg if where is None else _restored(seg, where[0], where[1][k])

    return segments(), info


def _restored(seg: Piece, spans: Any, offset: float) -> Piece:
    """A piece's segment back on the recording's clock (the silence VAD dropped put back),
    as faster-whisper's own batched path does it: each word by the stretch its middle is in."""
    if seg.words:
        words = []
        for w in seg.words:
            chunk = spans.get_chunk_index(offset + (w.start + w.end) / 2)
            words.append(
                TimedWord(
                    spans.get_original_time(offset + w.start, chunk),
                    spans.get_original_time(offset + w.end, chunk),
                    w.word,
                    w.probability,
                )
            )
        return Piece(words[0].start, words[-1].end, seg.text, words, seg.avg_logprob,
                     seg.compression_ratio)  # fmt: skip
    return Piece(
        spans.get_original_time(offset + seg.start),
        spans.get_original_time(offset + seg.end, is_end=True),
        seg.text,
        [],
        seg.avg_logprob,
        seg.compression_ratio,
    )
