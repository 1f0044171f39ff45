"""Subtitles beside the media, named the way media servers find them.

Jellyfin, Plex, Emby, Kodi and Bazarr all pick up `Movie (2019).en.srt` next to
`Movie (2019).mkv`: the media's own stem, a language code, the format. earwig writes that
name and nothing else next to the media (its text is in the database: search, `earwig show`,
`earwig export`), never touches `.forced` / `.sdh` files, and never replaces a subtitle it
did not write: one that is in the way gets `NAME.earwig.LANG.srt`, which those servers read
as a subtitle titled "earwig".

A file that already has subtitles is skipped before any work (`skip_if_subtitled`): an
external subtitle file for its language, or an embedded subtitle stream (PyAV). Which
language a file speaks is known before transcription only from the config's
`[transcribe] language` or the audio stream's language tag; when neither says, any full
subtitle counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from earwig.cues import Rules
from earwig.model import Transcript
from earwig.outputs import render, write_atomic

FORMATS = ("srt", "vtt")
EXTENSIONS = (".srt", ".vtt", ".ass", ".ssa", ".sub", ".idx", ".sup", ".smi")
FLAGS = {"forced", "sdh", "cc", "hi", "default", "foreign"}  # parts that are not a language
UNDETERMINED = "und"

_TWO_LETTER = {  # ISO 639-2 (container tags, Bazarr's names) -> Whisper's ISO 639-1 codes
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it",
    "por": "pt", "nld": "nl", "dut": "nl", "swe": "sv", "nor": "no", "nob": "no", "dan": "da",
    "fin": "fi", "pol": "pl", "rus": "ru", "ukr": "uk", "ces": "cs", "cze": "cs", "slk": "sk",
    "slo": "sk", "hun": "hu", "ron": "ro", "rum": "ro", "bul": "bg", "ell": "el", "gre": "el",
    "tur": "tr", "ara": "ar", "heb": "he", "hin": "hi", "jpn": "ja", "kor": "ko", "zho": "zh",
    "chi": "zh", "vie": "vi", "tha": "th", "ind": "id", "msa": "ms", "may": "ms", "cat": "ca",
    "hrv": "hr", "srp": "sr", "slv": "sl", "est": "et", "lav": "lv", "lit": "lt", "isl": "is",
    "ice": "is", "fas": "fa", "per": "fa", "urd": "ur", "ben": "bn", "tam": "ta", "tel": "te",
    "eus": "eu", "baq": "eu", "glg": "gl", "cym": "cy", "wel": "cy", "gle": "ga", "afr": "af",
    "swa": "sw", "tgl": "tl", "fil": "tl",
}  # fmt: skip


def code(tag: str | None) -> str | None:
    """A language tag from a file name or a container ("en", "eng", "en-US", "pt_BR") as a
    two-letter code; None for no language ("und", empty, a flag, a word)."""
    if not tag:
        return None
    tag = tag.strip().lower().replace("_", "-").split("-")[0]
    if tag in ("", UNDETERMINED, "zxx", "mul") or tag in FLAGS:
        return None
    if len(tag) == 2 and tag.isalpha():
        return tag
    return _TWO_LETTER.get(tag)


def external(media: Path) -> list[tuple[str | None, set[str]]]:
    """The subtitle files beside `media`: (language or None, flags) for each."""
    found = []
    stem = media.stem
    try:
        neighbours = list(media.parent.iterdir())
    except OSError:
        return []
    for other in neighbours:
        name = other.name
        if other.suffix.lower() not in EXTENSIONS or not name.startswith(stem + "."):
            continue
        parts = name[len(stem) + 1 : -len(other.suffix)].lower().split(".")  # NAME.srt: [""]
        flags = {p for p in parts if p in FLAGS}
        language = next((c for p in parts if (c := code(p))), None)
        found.append((language, flags))
    return found


def embedded(media: Path) -> tuple[list[str | None], str | None]:
    """The languages of `media`'s subtitle streams (None: untagged), and the first audio
    stream's language: what PyAV finds in the container. A container without sound has no
    subtitles that count (FFmpeg reads some non-media bytes as a bare subtitle format)."""
    import av  # PyAV (with faster-whisper); only when a file in a beside folder is queued

    try:
        with av.open(str(media), metadata_errors="ignore") as container:
            audio = container.streams.audio
            if not audio:
                return [], None
            subs = [code(s.metadata.get("language")) for s in container.streams.subtitles]
            return subs, code(audio[0].metadata.get("language"))
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return [], None


def already_subtitled(media: Path, language: str | None) -> str | None:
    """Why `media` needs no subtitles from earwig (a sentence), or None.

    A full subtitle (not forced-only) for the file's language counts, and so does one that
    names no language. With the language unknown (`language` None and no audio tag), any
    full subtitle does."""
    subs, spoken = embedded(media)
    language = language or spoken
    for lang, flags in external(media):
        if "forced" in flags or "foreign" in flags:
            continue
        if language is None or lang in (None, language):
            return f"it has a subtitle file ({lang or 'no language said'}) beside it"
    for lang in subs:
        if language is None or lang in (None, language):
            return f"it has an embedded subtitle stream ({lang or 'no language said'})"
    return None


def beside_paths(
    media: Path, language: str | None, formats: Iterable[str], owned: Iterable[str]
) -> list[Path]:
    """Where subtitles for `media` go: NAME.LANG.FMT, or NAME.earwig.LANG.FMT when a file
    earwig did not write (not in `owned`) is in the way."""
    lang = language or UNDETERMINED
    mine = set(owned)
    paths = []
    for fmt in formats:
        path = media.with_name(f"{media.stem}.{lang}.{fmt}")
        if path.exists() and str(path) not in mine:
            path = media.with_name(f"{media.stem}.earwig.{lang}.{fmt}")
        paths.append(path)
    return paths


def write_beside(
    transcript: Transcript,
    media: Path,
    formats: Iterable[str],
    owned: Iterable[str],
    rules: Rules | None = None,
    *,
    mode: int | None = None,
) -> list[Path]:
    """Write the subtitles beside `media` (`mode`, None: by the umask, so the media server's
    own user can read them when the umask lets it)."""
    paths = beside_paths(media, transcript.language, formats, owned)
    for path in paths:
        write_atomic(path, render(path.suffix[1:], transcript, {}, rules), mode)
    return paths
