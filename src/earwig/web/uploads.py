"""Multipart bodies streamed to disk as they arrive: size-limited, hashed on the way.

Litestar's own form parser reads the whole body into memory first, which a 2 GB video must
never do; this parser keeps at most one network chunk and a boundary's length in memory,
writes file parts to a private folder in the media cache, counts them against
`[http] max_upload` and stops reading the moment the limit is passed. Text fields are small
(1 MB each). A raw PCM part (whisper-asr-webservice's `encode=false`: s16le, 16 kHz, mono,
as Bazarr sends) gets a WAV header, so the rest of earwig reads it like any file.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from earwig.errors import EarwigError
from earwig.media import safe_stem

MAX_FIELD = 1024 * 1024  # bytes of one text field
MAX_HEADERS = 16 * 1024  # bytes of one part's headers
MAX_PARTS = 64


class UploadError(EarwigError):
    """The body is not what the route takes: the answer's status and code say how."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


@dataclass
class SavedFile:
    field: str
    filename: str
    path: Path
    size: int
    sha256: str
    content_type: str | None = None


@dataclass
class Form:
    folder: Path  # where its files are; removed with `discard`
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[SavedFile] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def getall(self, name: str) -> list[str]:
        return self.fields.get(name, [])

    def file(self, name: str) -> SavedFile | None:
        return next((f for f in self.files if f.field == name), None)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def boundary_of(content_type: str | None) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.I)
    if not content_type or not content_type.lower().startswith("multipart/form-data") or not match:
        raise UploadError(
            400,
            "not_multipart",
            "the body must be multipart/form-data with a boundary",
            "send the audio as a form file field (curl -F file=@audio.mp3)",
        )
    return match.group(1).encode("latin-1")


def safe_name(name: str | None) -> str:
    """An uploaded file's name as a file name here: its last part only, by the one rule for
    names from outside (media.safe_stem: no separators, controls or reserved punctuation,
    cut by characters and by bytes), so "Talk — Q&A.mp3" stays itself, as it would in a
    watched folder, and 4 KB of 3-byte letters make a name the file system takes, its
    extension kept."""
    base = Path((name or "").replace("\\", "/")).name.strip(" .")
    if not base:
        return "upload"
    stem, dot, ext = base.rpartition(".")
    if not (dot and stem and ext.isascii() and ext.isalnum() and len(ext) <= 12):
        stem, ext = base, ""
    return safe_stem(stem, 120) + (f".{ext}" if ext else "")


def too_large(limit: int) -> UploadError:
    return UploadError(
        413,
        "too_large",
        f"the upload is larger than the limit of {limit / 1e9:.2f} GB",
        "raise [http] max_upload, or add the file on the daemon's machine (earwig add)",
    )


WAV_HEADER = 44


def wav_header(data_bytes: int, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH", 16, 1, channels, rate, rate * channels * width, channels * width, width * 8
        )
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class _FilePart:
    def __init__(self, path: Path, raw_pcm: bool) -> None:
        self.path = path
        self.raw_pcm = raw_pcm
        self.fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in finish()
        self.hash = hashlib.sha256()
        self.size = 0
        if raw_pcm:
            self.fh.write(wav_header(0))

    def write(self, data: bytes | bytearray) -> None:
        self.fh.write(data)
        self.hash.update(data)
        self.size += len(data)

    def finish(self) -> None:
        if self.raw_pcm:
            self.fh.seek(0)
            self.fh.write(wav_header(min(self.size, 2**32 - 64)))
        self.fh.close()


async def read_form(
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    parent: Path,
    limit: int,
    raw_pcm: Callable[[str], bool] = lambda field: False,
) -> Form:
    """Parse a multipart body from `chunks`, file parts to a new folder under `parent`.

    Raises UploadError (400 for a broken body, 413 past `limit` bytes of files); the folder
    is removed then. `raw_pcm(field)`: that field's file is raw s16le 16 kHz mono PCM."""
    boundary = boundary_of(content_type)
    parent.mkdir(parents=True, exist_ok=True)
    form = Form(Path(tempfile.mkdtemp(prefix="upload-", dir=parent)))
    try:
        await _parse(chunks, boundary, form, limit, raw_pcm)
    except BaseException:
        form.discard()
        raise
    return form


def _garbage(why: str) -> UploadError:
    return UploadError(
        400,
        "bad_multipart",
        f"the multipart body is broken: {why}",
        "send it as a form (curl -F file=@audio.mp3)",
    )


async def _parse(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    form: Form,
    limit: int,
    raw_pcm: Callable[[str], bool],
) -> None:
    delim = b"--" + boundary
    sep = b"\r\n" + delim
    buf = bytearray()
    state = "preamble"
    total = 0
    name = ""
    filename: str | None = None
    ctype: str | None = None
    text = bytearray()
    part: _FilePart | None = None

    def emit(data: bytes | bytearray) -> None:
        nonlocal total
        if not data:
            return
        if part is not None:
            total += len(data)
            if total > limit:
                raise too_large(limit)
            part.write(data)
        else:
            if len(text) + len(data) > MAX_FIELD:
                raise _garbage(f"the field {name!r} is larger than {MAX_FIELD} bytes")
            text.extend(data)

    def close_part() -> None:
        nonlocal part
        if part is not None:
            part.finish()
            form.files.append(
                SavedFile(
                    name,
                    filename or "upload",
                    part.path,
                    part.size + (WAV_HEADER if part.raw_pcm else 0),
                    part.hash.hexdigest(),
                    ctype,
                )
            )
            part = None
        else:
            form.fields.setdefault(name, []).append(text.decode("utf-8", "replace"))

    async for chunk in chunks:
        buf += chunk
        while True:
            if state == "preamble":
                i = buf.find(delim)
                if i < 0:
                    if len(buf) > 64 * 1024:
                        raise _garbage("no boundary where the body begins")
                    break
                del buf[: i + len(delim)]
                state = "after"
            elif state == "after":
                if len(buf) < 2:
                    break
                if buf[:2] == b"--":
                    state = "end"
                    break
                if buf[:2] != b"\r\n":
                    raise _garbage("a boundary is followed by neither a part nor the end")
                del buf[:2]
                state = "headers"
            elif state == "headers":
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(buf) > MAX_HEADERS:
                        raise _garbage("a part's headers are too long")
                    break
                headers = bytes(buf[:i]).decode("utf-8", "replace")
                del buf[: i + 4]
                if len(form.files) + len(form.fields) >= MAX_PARTS:
                    raise _garbage(f"more than {MAX_PARTS} parts")
                name, filename, ctype = _disposition(headers)
                text = bytearray()
                if filename is not None:
                    stem = safe_name(filename)
                    pcm = raw_pcm(name)
                    path = form.folder / f"{stem}{'.wav' if pcm else ''}"
                    if path.exists() or any(f.path == path for f in form.files):
                        path = form.folder / f"{len(form.files)}-{path.name}"
                    part = _FilePart(path, pcm)
                state = "body"
            elif state == "body":
                i = buf.find(sep)
                if i < 0:
                    keep = len(sep)
                    if len(buf) > keep:
                        emit(buf[: len(buf) - keep])
                        del buf[: len(buf) - keep]
                    break
                emit(buf[:i])
                del buf[: i + len(sep)]
                close_part()
                state = "after"
            else:  # end: the epilogue is ignored
                buf.clear()
                break
    if state != "end":
        if part is not None:
            part.finish()
        raise _garbage("it ends before its closing boundary")


def _disposition(headers: str) -> tuple[str, str | None, str | None]:
    name: str | None = None
    filename: str | None = None
    ctype: str | None = None
    for line in headers.split("\r\n"):
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-disposition":
            if m := re.search(r'(?:^|;)\s*name="([^"]*)"', value) or re.search(
                r"(?:^|;)\s*name=([^;\s]+)", value
            ):
                name = m.group(1)
            if m := re.search(r'filename="([^"]*)"', value) or re.search(
                r"filename=([^;\s]+)", value
            ):
                filename = m.group(1)
        elif key == "content-type":
            ctype = value.strip()
    if name is None:
        raise _garbage("a part has no Content-Disposition name")
    return name, filename, ctype
