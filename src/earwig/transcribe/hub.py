"""Fetching models: huggingface_hub downloads into its own cache, earwig checks what arrived.

huggingface_hub does the transfer (HF_ENDPOINT mirrors, HF_TOKEN, resuming a `.incomplete`
blob with a Range request, linking a file into the snapshot only when it is whole). earwig adds
what a daemon needs around it: byte progress for the whole model, a few attempts when the
connection drops (each resumes where the last stopped), and a check of every file against the
hash the hub lists for it. A file that does not match is deleted and fetched again; a model
that never verifies is not used.

The only module that imports huggingface_hub; imported only to pull or remove a model.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earwig.errors import BackendError, EarwigError, TransientError
from earwig.transcribe import catalog

ProgressFn = Callable[[int, int], None]  # bytes done, bytes in all
ATTEMPTS = 4


class HubUnreachable(TransientError):
    """The hub did not answer: worth trying again later."""

    code = "hub_unreachable"


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # large (LFS) files
    git_oid: str | None  # small files: git's blob hash

    def matches(self, local: Path) -> bool:
        if local.stat().st_size != self.size:
            return False
        if self.sha256:
            return _digest(local, hashlib.sha256()) == self.sha256
        if self.git_oid:
            h = hashlib.sha1(f"blob {self.size}\0".encode(), usedforsecurity=False)
            return _digest(local, h) == self.git_oid
        return True


def _digest(path: Path, h: Any) -> str:
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return str(h.hexdigest())


def offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _endpoint() -> str | None:
    """HF_ENDPOINT (a mirror), read now, for the same reason."""
    return os.environ.get("HF_ENDPOINT") or None


def pull(entry: catalog.Entry, on_progress: ProgressFn | None = None) -> Path:
    """Download `entry` into huggingface_hub's cache (or finish an interrupted download),
    verify it, and return the snapshot folder."""
    if offline():
        raise BackendError(
            f"model {entry.name!r} is not downloaded and HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE to download it, or copy the model into the cache",
        )
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # earwig reports progress itself, for the whole model
    files = _call(lambda: _remote_files(entry), entry)
    total = sum(f.size for f in files)
    blobs = catalog.repo_folder(entry.repo) / "blobs"
    stop = threading.Event()
    watcher = None
    if on_progress is not None:
        watcher = threading.Thread(
            target=_watch, args=(blobs, files, total, on_progress, stop), daemon=True
        )
        watcher.start()
    try:
        snapshot = _fetch(entry)
        for f in files:
            local = snapshot / f.path
            if not local.is_file() or not f.matches(local):
                _discard(local)
                snapshot = _fetch(entry, force=f.path)
                if not (snapshot / f.path).is_file() or not f.matches(snapshot / f.path):
                    _discard(snapshot / f.path)
                    raise BackendError(
                        f"{entry.repo}: {f.path} arrived damaged twice (its size or hash does "
                        "not match what the hub lists)",
                        "try again later, or check HF_ENDPOINT if you use a mirror",
                    )
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    if on_progress is not None:
        on_progress(total, total)
    if not catalog.complete(snapshot):
        raise BackendError(
            f"{entry.repo} is not a CTranslate2 Whisper model (no model.bin, tokenizer.json "
            "and vocabulary)",
            "choose a faster-whisper model: `earwig models` lists them",
        )
    return snapshot


def _remote_files(entry: catalog.Entry) -> list[RemoteFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    found = []
    for item in HfApi(endpoint=_endpoint()).list_repo_tree(entry.repo, recursive=False):
        if isinstance(item, RepoFile) and _wanted(item.path):
            lfs = item.lfs
            sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
            found.append(RemoteFile(item.path, int(item.size), sha, None if sha else item.blob_id))
    if not any(f.path == "model.bin" for f in found):
        raise BackendError(
            f"{entry.repo} has no model.bin: it is not a CTranslate2 Whisper model",
            "choose a faster-whisper model: `earwig models` lists them",
        )
    return found


def _wanted(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in catalog.FILES)


def _fetch(entry: catalog.Entry, force: str | None = None) -> Path:
    """snapshot_download, again after a dropped connection: each attempt resumes."""
    from huggingface_hub import hf_hub_download, snapshot_download

    cache, endpoint = str(catalog.hub_cache()), _endpoint()

    def once() -> Path:
        if force is not None:
            hf_hub_download(
                entry.repo, force, force_download=True, cache_dir=cache, endpoint=endpoint
            )
        return Path(
            snapshot_download(
                entry.repo, allow_patterns=list(catalog.FILES), cache_dir=cache, endpoint=endpoint
            )
        )

    last: EarwigError | None = None
    for attempt in range(ATTEMPTS):
        try:
            return _call(once, entry)
        except HubUnreachable as exc:
            last = exc
            time.sleep(min(8.0, 0.5 * 2**attempt))
    assert last is not None
    raise last


def _call(fn: Callable[[], Any], entry: catalog.Entry) -> Any:
    """huggingface_hub's errors, as earwig errors that say what to do."""
    from huggingface_hub import errors

    try:
        return fn()
    except errors.RepositoryNotFoundError:
        raise BackendError(
            f"the hub has no repository {entry.repo}",
            "check the model name: `earwig models` lists the known ones",
        ) from None
    except (errors.EntryNotFoundError, errors.RevisionNotFoundError) as exc:
        raise BackendError(f"{entry.repo}: {_first_line(exc)}") from None
    except errors.OfflineModeIsEnabled:
        raise BackendError(
            f"model {entry.name!r} is not downloaded and HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE to download it",
        ) from None
    except errors.HfHubHTTPError as exc:
        raise HubUnreachable(
            f"the hub refused {entry.repo}: {_first_line(exc)}",
            "it is retried later; check HF_ENDPOINT and your network",
        ) from None
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:  # ENOSPC
            raise BackendError(
                f"no space left to download {entry.name} ({entry.size / 1e6:.0f} MB) into "
                f"{catalog.hub_cache()}",
                "free some space, or point HF_HUB_CACHE at a bigger disk",
            ) from None
        raise HubUnreachable(
            f"cannot download {entry.repo}: {_first_line(exc)}",
            "check your network (or HF_ENDPOINT); it is retried later",
        ) from None
    except Exception as exc:  # httpx and friends: connection refused, reset, timeouts
        package = type(exc).__module__.split(".")[0].rstrip("0123456789")  # httpx2 -> httpx
        if package in ("httpx", "httpcore", "requests", "urllib3"):
            raise HubUnreachable(
                f"cannot reach the hub for {entry.repo}: {_first_line(exc) or type(exc).__name__}",
                "check your network (or HF_ENDPOINT); it is retried later",
            ) from None
        raise


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _discard(local: Path) -> None:
    """Remove a snapshot file and the blob it points at, so the next fetch starts clean."""
    if local.is_symlink():
        target = local.resolve()
        local.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
    else:
        local.unlink(missing_ok=True)


def _watch(
    blobs: Path, files: list[RemoteFile], total: int, report: ProgressFn, stop: threading.Event
) -> None:
    """Report bytes on disk (whole blobs and `.incomplete` ones) twice a second."""
    names = {f.sha256 or f.git_oid: f.size for f in files}
    while not stop.wait(0.5):
        done = 0
        for name, size in names.items():
            blob = blobs / str(name)
            if blob.is_file():
                done += size
            else:
                part = blob.with_name(f"{name}.incomplete")
                done += part.stat().st_size if part.is_file() else 0
        report(min(done, total), total)


def remove(entry: catalog.Entry) -> int:
    """Delete a downloaded model from the cache; return the bytes freed (0: not there)."""
    folder = catalog.repo_folder(entry.repo)
    if not folder.is_dir():
        return 0
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    shutil.rmtree(folder)
    return freed
