"""Bazarr's Whisper provider, completed: its `video_file`, and whisperX's speaker labels.

Bazarr extracts the audio itself (ffmpeg, s16le mono 16 kHz, `aresample=async=1` with no
start padding) and sends earwig the raw PCM, so the audio earwig hears starts where the
file's audio stream starts. When that stream starts after the picture (Amazon WEB-DL audio
often starts ~4 s late), every cue comes early by that much. With "pass video name" Bazarr
adds `video_file=PATH`: earwig places that path as it places a webhook's (paths.py: it must
lie in a library earwig knows, or it is not opened), reads where its first audio stream starts
with PyAV (transcribe/audio.lead_in), and moves the answer onto the video's clock, as Subgen
does with ffprobe. The stored transcript stays on the audio's own clock (it is the PCM's).

`diarize=true` answers as whisper-asr-webservice's whisperX engine writes: each txt line and
each srt and vtt cue starts `[SPEAKER_00]: ` (web/formats.py writes them: a segment may take
several cues, and whisperX labels every cue, not only a segment's first), json segments carry
`"speaker"`, tsv none.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from earwig.model import Transcript
from earwig.transcribe.base import shift

_EARWIG_LABEL = re.compile(r"SPEAKER (\d+)")


def offset_of(video: Path) -> float:
    """Seconds from the start of `video` to its first audio stream's (0: none, or unreadable)."""
    import av

    from earwig.transcribe.audio import lead_in

    try:
        with av.open(str(video), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return 0.0
            return lead_in(container, container.streams.audio[0])
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return 0.0


def on_video_clock(transcript: Transcript, offset: float) -> Transcript:
    """The transcript moved `offset` seconds later, words too (the video's clock)."""
    if offset <= 0:
        return transcript
    end = transcript.duration + offset
    return transcript.replace(
        segments=tuple(shift(s, offset, end, s.language) for s in transcript.segments),
        duration=end,
    )


def whisperx_label(label: str) -> str:
    """earwig's "SPEAKER 1" as pyannote's "SPEAKER_00"; a name someone gave stays."""
    match = _EARWIG_LABEL.fullmatch(label)
    return f"SPEAKER_{int(match.group(1)) - 1:02d}" if match else label


def whisperx_speakers(transcript: Transcript) -> Transcript:
    """Speakers named as whisperX names them; the text stays as spoken (the answer's writer
    puts the label before each line or cue)."""
    segments = tuple(
        s if s.speaker is None else replace(s, speaker=whisperx_label(s.speaker))
        for s in transcript.segments
    )
    return transcript.replace(segments=segments)
