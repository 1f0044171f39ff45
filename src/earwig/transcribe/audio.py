"""Decode any audio or video file to float32 mono 16 kHz samples with PyAV.

PyAV bundles FFmpeg's libraries, so no system ffmpeg is needed. Packets that fail to decode are
skipped (a scratch in a long recording should not lose the whole transcript); a file where most
packets fail, or that yields no audio at all, is rejected as not media.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from earwig.errors import MediaError
from earwig.transcribe.base import SAMPLE_RATE

NOT_MEDIA_HINT = "the file is not a playable audio or video file; check that it opens in a player"


def decode(path: Path) -> np.ndarray:
    import av  # heavy: only when a job really decodes

    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise MediaError(
            f"{path} no longer exists", "it was moved or deleted before transcription"
        ) from None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"cannot read {Path(path).name}: {_reason(exc)}", NOT_MEDIA_HINT) from None
    with container:
        if not container.streams.audio:
            raise MediaError(f"{Path(path).name} has no audio stream", NOT_MEDIA_HINT)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        good = bad = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except (av.error.InvalidDataError, av.error.PatchWelcomeError):
                    bad += 1
                    continue
                good += 1
                for frame in frames:
                    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise MediaError(
                    f"cannot decode {Path(path).name}: {_reason(exc)}", NOT_MEDIA_HINT
                ) from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if bad > good or samples.size < SAMPLE_RATE // 10:
        raise MediaError(
            f"{Path(path).name} is corrupt or empty: {bad} of {good + bad} audio packets "
            f"could not be decoded, {samples.size / SAMPLE_RATE:.1f}s of audio found",
            NOT_MEDIA_HINT,
        )
    return samples.astype(np.float32, copy=False)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
