"""Decode any audio or video file to float32 mono 16 kHz samples with PyAV, a window at a time.

PyAV bundles FFmpeg's libraries, so no system ffmpeg is needed. A file is never held whole in
memory: `windows` yields pieces of about WINDOW_SECONDS, each cut at the quietest 100 ms near
its end so that a word is rarely split, and the transcription pipeline hands them to the
backend one after another. Peak memory is then set by the window, not by the length of the
recording (a 4-hour audiobook costs the same as a 10-minute clip).

Packets that fail to decode are skipped (a scratch in a long recording should not lose the whole
transcript); a file where most packets fail, or that yields no audio at all, is rejected as not
media. Nothing is lost silently: skipped packets, a decoder that gives up before the end, and
audio that stops well before the length its container declares (a truncated download) are
noted, with where, and end up as the transcript's warnings (`windows(..., notes=)`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig.errors import Aborted, MediaError
from earwig.transcribe.base import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np

NOT_MEDIA_HINT = "the file is not a playable audio or video file; check that it opens in a player"
WINDOW_SECONDS = 600.0  # ten minutes: 38 MB of samples, 20 of Whisper's 30 s chunks
CUT_SEARCH_SECONDS = 15.0  # look this far either side of a window's end for a quiet place
FRAME = SAMPLE_RATE // 10  # 100 ms: the unit of "quiet"


@dataclass(frozen=True)
class Window:
    """A piece of a recording: its samples and where they start in the whole file."""

    offset: float  # seconds from the start of the file
    samples: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def give_back_freed_memory() -> None:
    """Hand memory freed by the last window back to the OS (glibc's malloc_trim), once per
    window: without it, each 40 MB window that glibc served from its heap stays resident
    after use, and a long file slowly raises the peak. (A fixed mmap threshold does the same
    job but made transcription 15% slower: every large buffer of the engine became a fresh
    mapping.) Nothing on other C libraries."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def quietest(samples: np.ndarray, lo: int, hi: int) -> int:
    """The sample offset in [lo, hi) at the middle of the quietest 100 ms; `hi` if too short."""
    import numpy as np

    lo, hi = max(0, lo), min(len(samples), hi)
    n = (hi - lo) // FRAME
    if n <= 0:
        return hi
    region = samples[lo : lo + n * FRAME].reshape(n, FRAME)
    energy = np.square(region).mean(axis=1)
    return lo + int(np.argmin(energy)) * FRAME + FRAME // 2


def probe(path: Path) -> float | None:
    """Check that the file has an audio stream and return its length in seconds, if the
    container says (most do; a raw stream may not). Cheap: nothing is decoded."""
    with _open(path) as container:
        stream = _audio_stream(container, path)
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000  # av.time_base
    return None


def windows(
    path: Path,
    seconds: float = WINDOW_SECONDS,
    notes: list[str] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Window]:
    """Yield the file's audio as consecutive windows of about `seconds`, cut at quiet places.
    With `notes`, what went wrong while decoding is added to it once the file is read: a
    sentence each, saying where. `stop` is asked between decoded pieces (a fraction of a
    second each): when it says so, decoding ends with Aborted instead of finishing the
    window (minutes of audio, seconds of work on a busy machine)."""
    import numpy as np

    target = int(seconds * SAMPLE_RATE)
    search = min(int(CUT_SEARCH_SECONDS * SAMPLE_RATE), target // 4)
    # One buffer per window, filled in place: no list of chunks to concatenate (which would
    # hold every sample twice), and a window handed on is never written to again.
    buf = np.empty(target + search, dtype=np.float32)
    filled = 0
    offset = 0  # samples already yielded
    lead = 0.0  # seconds before the audio starts, on the file's clock
    tally = _Tally()
    with _open(path) as container:
        stream = _audio_stream(container, path)
        lead = lead_in(container, stream)
        tally.declared = _declared(container, stream, path)
        for chunk in _decode(container, stream, path, tally):
            if stop():
                raise Aborted("stopped while decoding")
            tally.samples += len(chunk)
            while len(chunk):
                take = min(len(chunk), len(buf) - filled)
                buf[filled : filled + take] = chunk[:take]
                filled += take
                chunk = chunk[take:]
                if filled < len(buf):
                    continue
                tally.check(path, offset + filled, final=False)
                cut = quietest(buf, target - search, target + search)
                following = np.empty_like(buf)
                rest = filled - cut
                following[:rest] = buf[cut:filled]
                yield Window(lead + offset / SAMPLE_RATE, buf[:cut])
                offset += cut
                buf, filled = following, rest
    tally.check(path, offset + filled, final=True)
    if notes is not None:
        notes.extend(tally.notes())
    if filled:
        yield Window(lead + offset / SAMPLE_RATE, buf[:filled].copy())  # not the whole buffer


LEAD_MIN = 0.1  # seconds: a smaller gap (an AAC encoder's priming is ~20-70 ms) is noise


def lead_in(container: Any, stream: Any) -> float:
    """Where the audio stream starts on the file's clock, in seconds: a video whose sound
    starts after its picture (Amazon WEB-DL audio often starts ~4 s late) is heard on the
    picture's clock, or every subtitle comes early by that much. 0 for sound that starts with
    the file (and for every audio-only file)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    lead = float(stream.start_time * stream.time_base) - start
    return lead if lead > LEAD_MIN else 0.0


def _declared(container: Any, stream: Any, path: Path) -> float | None:
    """How long the file says it is: a PCM wav's header (FFmpeg measures a wav by its size,
    so a cut one looks whole), else the stream's or the container's duration."""
    if container.format.name == "wav":
        import wave

        with contextlib.suppress(wave.Error, EOFError, OSError), wave.open(str(path)) as w:
            return w.getnframes() / w.getframerate()
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def decode(path: Path) -> np.ndarray:
    """The whole file as one array: for short clips (samples, benchmarks), not for jobs."""
    import numpy as np

    parts = [w.samples for w in windows(path)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


ENDS_EARLY = 2.0  # seconds short of the declared length (and 2% of it) that are reported


class _Tally:
    """Good and bad packets so far: a file where most packets fail is not media. Where the bad
    ones were (seconds of audio decoded before each), and where decoding gave up, if it did."""

    def __init__(self) -> None:
        self.good = 0
        self.bad = 0
        self.samples = 0  # decoded so far
        self.bad_at: list[float] = []
        self.stopped_at: tuple[float, str] | None = None
        self.declared: float | None = None

    def notes(self) -> list[str]:
        from earwig.formatting import clock

        out = []
        decoded = self.samples / SAMPLE_RATE
        short = (self.declared or 0.0) - decoded
        short = short if short > max(ENDS_EARLY, 0.02 * (self.declared or 0.0)) else 0.0
        if self.bad_at:
            where = clock(self.bad_at[0])
            if self.bad_at[-1] - self.bad_at[0] >= 1:
                where += f"-{clock(self.bad_at[-1])}"
            missing = f", about {short:.0f}s of audio missing" if short else ""
            out.append(
                f"{self.bad} audio packet{'s' if self.bad > 1 else ''} could not be decoded "
                f"at {where}{missing}: the transcript has a gap there (a damaged file?)"
            )
        if self.stopped_at is not None:
            at, reason = self.stopped_at
            out.append(
                f"decoding stopped at {clock(at)} ({reason}): nothing after it is transcribed "
                "(a truncated file? download it again)"
            )
        elif short and not self.bad_at:
            out.append(
                f"the audio ends at {clock(decoded)}, but the file says it lasts "
                f"{clock(self.declared or 0.0)}: the rest is missing (a truncated file? "
                "download or copy it again)"
            )
        return out

    def check(self, path: Path, samples: int, *, final: bool) -> None:
        if self.bad > self.good or (final and samples < SAMPLE_RATE // 10):
            raise MediaError(
                f"{Path(path).name} is corrupt or empty: {self.bad} of {self.good + self.bad} "
                f"audio packets could not be decoded, {samples / SAMPLE_RATE:.1f}s of audio found",
                NOT_MEDIA_HINT,
            )


def _open(path: Path) -> Any:
    import av  # heavy: only when a job really decodes

    try:
        return av.open(str(path))
    except FileNotFoundError:
        raise MediaError(
            f"{path} does not exist", "check the path; a watched file may have been moved"
        ) from None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"cannot read {Path(path).name}: {_reason(exc)}", NOT_MEDIA_HINT) from None


def _audio_stream(container: Any, path: Path) -> Any:
    if not container.streams.audio:
        raise MediaError(
            f"{Path(path).name} has no sound to transcribe (no audio stream)",
            "it may be a silent video or an image; add a file with sound",
        )
    return container.streams.audio[0]


def _decode(container: Any, stream: Any, path: Path, tally: _Tally) -> Iterator[np.ndarray]:
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    produced = False
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except (av.error.InvalidDataError, av.error.PatchWelcomeError):
                tally.bad += 1
                tally.bad_at.append(tally.samples / SAMPLE_RATE)
                continue
            tally.good += 1
            for frame in frames:
                for out in resampler.resample(frame):
                    produced = True
                    yield out.to_ndarray().reshape(-1)
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(-1)
    except av.error.FFmpegError as exc:
        if not produced:
            raise MediaError(
                f"cannot decode {Path(path).name}: {_reason(exc)}", NOT_MEDIA_HINT
            ) from None
        # a truncated tail: keep what was decoded, and say so
        tally.stopped_at = (tally.samples / SAMPLE_RATE, _reason(exc))


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
