"""Facts about input files: which names look like media, their content hash, safe names."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    ".mp3 .m4a .m4b .aac .wav .flac .ogg .oga .opus .wma .aif .aiff .amr .mka .weba".split()  # noqa: SIM905
)
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mkv .webm .mov .avi .wmv .flv .mpg .mpeg .ts .3gp".split()  # noqa: SIM905
)
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
MAX_STEM = 120


def is_media_name(path: Path | str) -> bool:
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def safe_stem(name: str, max_len: int = MAX_STEM) -> str:
    """A file-name stem that is safe on every OS and can never be a path.

    Separators, control characters, reserved punctuation and leading dots go; the result is
    trimmed to `max_len` characters and is never empty.
    """
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]+", " ", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    return name[:max_len].rstrip(" .") or "untitled"


def utf8_name(path: Path) -> bool:
    """Whether the path can be stored and shown (SQLite text, JSON): not every byte string a
    file system accepts is valid UTF-8."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: Path) -> str:
    """A path that is safe to print, whatever bytes its name holds."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
