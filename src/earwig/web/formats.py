"""The answers' shapes: OpenAI's audio API (as OpenAI and speaches give them) and
whisper-asr-webservice's (as Bazarr and Subgen read them), from one earwig Transcript."""

from __future__ import annotations

from typing import Any

from earwig import languages, outputs, protocol
from earwig.model import Segment, Transcript

OPENAI_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
ASR_OUTPUTS = ("txt", "vtt", "srt", "tsv", "json")


def language_name(code: str | None) -> str:
    """'en' -> 'english', the way Whisper (and so OpenAI and whisper-asr) names it."""
    return languages.LANGUAGES.get(code or "", code or "unknown")


def openai_body(
    t: Transcript,
    response_format: str,
    granularities: tuple[str, ...],
    task: str,
    warnings: tuple[str, ...] = (),
) -> tuple[bytes, str]:
    """(body, media type) for one of OPENAI_FORMATS; `warnings` go in the json formats'
    `warnings` field (and, for every format, in the answer's header: web/answers.py)."""
    if response_format == "text":
        return (text_of(t) + "\n").encode(), "text/plain"
    if response_format == "srt":
        return outputs.to_srt(t, {}).encode(), "text/plain"
    if response_format == "vtt":
        return outputs.to_vtt(t, {}).encode(), "text/vtt"
    said = {"warnings": list(warnings)} if warnings else {}
    if response_format == "json":
        return _json({"text": text_of(t), **said}), "application/json"
    doc: dict[str, Any] = {
        "task": task,
        "language": language_name(t.language),
        "duration": round(t.duration, 3),
        "text": text_of(t),
        **said,
    }
    # OpenAI's rule: no granularity gives segments; "word" alone words and no segments.
    # A value earwig does not know (tokens, seek, temperature, no_speech_prob) is left out,
    # never made up: avg_logprob 0.0 would read as "certain".
    if "segment" in granularities or not granularities:
        doc["segments"] = [{"id": i, **_known_fields(s)} for i, s in enumerate(t.segments)]
    if "word" in granularities:
        doc["words"] = [
            {"word": w.text.strip(), "start": w.start, "end": w.end}
            for s in t.segments
            for w in s.words
        ]
    return _json(doc), "application/json"


def text_of(t: Transcript) -> str:
    """The text as one string, the way Whisper joins segments (they carry their spaces)."""
    return " ".join(s.text.strip() for s in t.segments if s.text.strip())


def asr_body(
    t: Transcript, output: str, warnings: tuple[str, ...] = (), *, labels: bool = False
) -> str:
    """whisper-asr-webservice's `output` formats (its writers' rules: srt `HH:MM:SS,mmm` and
    `-->` in the text made `->`; vtt hours only above 0; tsv in integer ms). `labels`
    (diarize=true): each txt line and each srt/vtt cue opens `[SPEAKER_00]: ` as whisperX's
    writers do, every cue of a long segment included."""

    def said(text: str, speaker: str | None) -> str:
        return f"[{speaker}]: {text}" if labels and speaker else text

    if output == "txt":
        return "".join(said(s.text.strip(), s.speaker) + "\n" for s in t.segments if s.text.strip())
    if output == "srt":  # cues made for reading (earwig/cues.py), as the files are; each
        return "".join(  # ends with a blank line, the last one too (as theirs)
            f"{i}\n{_clock(c.start, ',', True)} --> {_clock(c.end, ',', True)}\n"
            f"{said(c.text, c.speaker).replace('-->', '->')}\n\n"
            for i, c in enumerate(outputs.subtitle_cues(t), 1)
        )
    if output == "vtt":
        return "WEBVTT\n\n" + "".join(
            f"{_clock(c.start, '.', False)} --> {_clock(c.end, '.', False)}\n"
            f"{said(c.text, c.speaker).replace('-->', '->')}\n\n"
            for c in outputs.subtitle_cues(t)
        )
    if output == "tsv":
        rows = ["start\tend\ttext"]
        rows += [
            f"{round(s.start * 1000)}\t{round(s.end * 1000)}\t{s.text.strip().replace(chr(9), ' ')}"
            for s in t.segments
        ]
        return "\n".join(rows) + "\n"
    doc = {
        "text": text_of(t),
        "segments": [
            {
                "id": i,
                **_known_fields(s),
                **({"speaker": s.speaker} if s.speaker else {}),
                **(
                    {
                        "words": [
                            {
                                "word": w.text,
                                "start": w.start,
                                "end": w.end,
                                "probability": w.probability,
                            }
                            for w in s.words
                        ]
                    }
                    if s.words
                    else {}
                ),
            }
            for i, s in enumerate(t.segments)
        ],
        "language": t.language,
        **({"warnings": list(warnings)} if warnings else {}),
    }
    return protocol.dumps(doc).decode()


def _known_fields(s: Segment) -> dict[str, Any]:
    """A segment as faster-whisper names its fields, with only the values earwig has."""
    doc: dict[str, Any] = {"start": s.start, "end": s.end, "text": s.text}
    if s.avg_logprob is not None:
        doc["avg_logprob"] = s.avg_logprob
    if s.compression_ratio is not None:
        doc["compression_ratio"] = s.compression_ratio
    return doc


def _clock(seconds: float, sep: str, always_hours: bool) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    hours = f"{h:02d}:" if always_hours or h else ""
    return f"{hours}{m:02d}:{s:02d}{sep}{ms:03d}"


def _json(doc: Any) -> bytes:
    return protocol.dumps(doc)
