"""Facts about input files: which names look like media, their content hash, safe names."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

# Names that PyAV (ffmpeg) decodes. A file whose name is in neither list below is probed.
AUDIO_EXTENSIONS = frozenset(
    ".mp3 .m4a .m4b .m4r .aac .wav .w64 .rf64 .flac .ogg .oga .opus .spx .wma .aif .aiff .aifc "  # noqa: SIM905
    ".amr .3ga .awb .mka .weba .caf .au .snd .mp2 .mpa .ac3 .eac3 .dts .tta .wv .ape .gsm .ra "
    ".voc .qcp".split()
)
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mkv .webm .mov .qt .avi .wmv .asf .flv .f4v .mpg .mpeg .m2v .ts .mts .m2ts "  # noqa: SIM905
    ".m2t .tod .mod .vob .3gp .3g2 .ogv .dv .mxf .rm .rmvb .divx .nut .nsv".split()
)
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
# Files that sit next to media and are never media themselves: not worth a probe.
NOT_MEDIA_EXTENSIONS = frozenset(
    ".txt .done .md .rst .srt .vtt .ass .ssa .sub .idx .sup .lrc .tsv .csv .json .xml .html .htm "  # noqa: SIM905
    ".nfo .log .ini .cfg .conf .toml .yaml .yml .pdf .doc .docx .odt .rtf .epub .mobi .xls .xlsx "
    ".ods .ppt .pptx .odp .jpg .jpeg .png .gif .webp .bmp .tif .tiff .heic .heif .svg .ico .psd "
    ".raw .cr2 .nef .zip .tar .gz .tgz .bz2 .xz .zst .7z .rar .iso .dmg .torrent .m3u .m3u8 .pls "
    ".cue .url .lnk .db .sqlite .sqlite3 .py .sh .exe .dll .so .bin .sha256 .md5 .sfv .par2 "
    ".ds_store .db-journal .db-wal .db-shm".split()
)
MAX_STEM = 120
# bytes of a stem: room left in 255 for " (12)", a language and ".publisher.forced.srt"
MAX_STEM_BYTES = 180


def is_media_name(path: Path | str) -> bool:
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


def worth_a_look(path: Path | str) -> bool:
    """Whether a file could be media: a media name, or a name that says nothing (then
    `has_sound` decides). One rule for the watched folders and `earwig add FOLDER`."""
    return Path(path).suffix.lower() not in NOT_MEDIA_EXTENSIONS


def has_sound(path: Path) -> bool:
    """Whether PyAV opens the file and finds an audio stream in it (for names that do not
    say: camcorder dumps, files without an extension), by the same check the runner makes
    before transcribing. Never raises."""
    from earwig.transcribe.audio import probe

    try:
        probe(path)
    except Exception:
        return False
    return True


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
    return fit_bytes(name[:max_len], MAX_STEM_BYTES).rstrip(" .") or "untitled"


def fit_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, at a character's edge. A file name may
    have 255 bytes on most file systems, not 255 characters: 120 characters of CJK or
    emoji are 360 to 480 bytes, and writing one failed (ENAMETOOLONG)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


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
