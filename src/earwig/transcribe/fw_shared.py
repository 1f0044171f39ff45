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
pipeline's own decoding step (`BatchedInferencePipeline.forward`: the encoder, the beam
search, the word alignment; its options made by its public `transcribe`), each piece a chunk
of its own, so nothing of one piece can reach another's text; the answers come back in the
pieces' order. The encoder reads only as much as the batch's longest piece needs (`fitted`).
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
    options: dict[Kind, Any] = {}  # the pipeline's own options for each kind

    def run(kind: Kind, pieces: Sequence[np.ndarray]) -> list[list[Any]]:
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.tokenizer import Tokenizer

        backend.load()
        model = backend._model
        if id(model) not in made:
            made.clear()
            options.clear()
            made[id(model)] = BatchedInferencePipeline(model)
        pipeline = made[id(model)]
        if kind not in options:
            options[kind] = _options(pipeline, kind)
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task=kind.task, language=kind.language
        )
        features = [model.feature_extractor(p)[..., :-1] for p in pieces]
        found = decode_fitted(pipeline, tokenizer, options[kind], features)
        return [
            [_piece(seg, len(p) / RATE) for seg in out]
            for p, out in zip(pieces, found, strict=True)
        ]

    return run


FULL = 3000  # frames: Whisper's 30 s input
MARGIN = 300  # frames (3 s) of silence kept after the longest piece of a batch
FLOOR = 1000  # frames: the encoder never reads less than 10 s


def fitted(features: Sequence[np.ndarray]) -> int:
    """How many frames the encoder reads for a batch: its longest piece and a margin of
    silence, not Whisper's full 30 s. The encoder's cost grows with its input (the decoder's
    does not), and on a CPU it is most of the work for short pieces: a batch of 10 s pieces
    read at 30 s spends two thirds of it on padding. Shorter input is what whisper.cpp's
    audio_ctx does; measured here on eSpeak NG clips (bench/burst.py), the word error rate is
    the same (0.122-0.127 against 0.129 at 30 s, 40 clips). A piece whose text then looks
    wrong by Whisper's own thresholds is decoded again at 30 s (`_unsure`)."""
    longest = max(f.shape[-1] for f in features)
    width = min(FULL, max(FLOOR, longest + MARGIN))
    return width + width % 2  # the encoder halves it: keep it even


def decode_fitted(
    pipeline: Any, tokenizer: Any, options: Any, features: Sequence[np.ndarray]
) -> list[list[dict[str, Any]]]:
    """Each piece's segments: the batch read at its fitted width, and any piece whose text
    looks wrong read again at 30 s, as the engine alone would have read it."""
    width = fitted(features)
    found = _decode(pipeline, tokenizer, options, features, width)
    again = [i for i, out in enumerate(found) if _unsure(out)]
    if again and width < FULL:
        redone = _decode(pipeline, tokenizer, options, [features[i] for i in again], FULL)
        for i, out in zip(again, redone, strict=True):
            found[i] = out
    return found


def _unsure(out: list[dict[str, Any]]) -> bool:
    """Whisper's own signs of a failed decoding (its temperature fallback's thresholds): a
    loop (gzip ratio over 2.4) or an unsure text (mean log-probability under -1)."""
    return any(seg["compression_ratio"] > 2.4 or seg["avg_logprob"] < -1.0 for seg in out)


def _decode(
    pipeline: Any, tokenizer: Any, options: Any, features: Sequence[np.ndarray], width: int
) -> list[list[dict[str, Any]]]:
    """One batch through the pipeline's own decoding step (`forward`: encoder, beam search,
    word alignment), each piece its own chunk at a whole-second offset of its own, as the
    pipeline lays out the chunks of one recording; each piece's segments moved back to 0."""
    import numpy as np
    from faster_whisper.audio import pad_or_trim

    batch = np.stack([pad_or_trim(f, width) for f in features])
    meta, at = [], 0
    for f in features:
        seconds = f.shape[-1] / 100
        meta.append({"offset": float(at), "duration": seconds, "segments": []})
        at += int(seconds) + 1
    pipeline.last_speech_timestamp = 0.0
    found = pipeline.forward(batch, tokenizer, meta, options)
    pipeline.last_speech_timestamp = 0.0
    out = []
    for m, segs in zip(meta, found, strict=True):
        by = -m["offset"]
        for seg in segs:
            seg["start"] += by
            seg["end"] += by
            for w in seg.get("words") or ():
                w["start"] += by
                w["end"] += by
        out.append(segs)
    return out


def _options(pipeline: Any, kind: Kind) -> Any:
    """The pipeline's options for `kind`, as its public `transcribe` makes them
    (read from the info of a call on a moment of silence whose segments are never asked
    for, so nothing is decoded)."""
    import numpy as np

    _, info = pipeline.transcribe(
        np.zeros(RATE, dtype=np.float32),
        language=kind.language,
        task=kind.task,
        initial_prompt=kind.prompt,
        word_timestamps=kind.word_timestamps,
        beam_size=kind.beam_size,
        clip_timestamps=[{"start": 0.0, "end": 1.0}],
        # with timestamps a clip comes back in sentences, as the engine alone gives it (the
        # pipeline's default, none, makes a clip one segment: one line of .txt, one seek)
        without_timestamps=False,
    )
    return info.transcription_options


def _piece(seg: dict[str, Any], length: float) -> Piece:
    """The pipeline's segment (a dict, on its piece's clock) as the backend reads it."""

    def at(t: float) -> float:
        return min(max(0.0, round(float(t), 3)), round(length, 3))

    words = [
        TimedWord(at(w["start"]), at(w["end"]), w["word"], float(w["probability"]))
        for w in seg.get("words") or ()
    ]
    return Piece(
        at(seg["start"]),
        at(seg["end"]),
        seg["text"],
        words,
        float(seg["avg_logprob"]),
        float(seg["compression_ratio"]),
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
