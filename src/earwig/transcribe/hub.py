"""Fetching models: earwig moves the bytes into huggingface_hub's cache, resumably, and checks
what arrived.

huggingface_hub 2.x downloads each file to a per-process temporary name
(`<etag>.<random>.incomplete`) and never resumes one, so a download killed at 90% starts again
from byte 0 and leaves its temporary file behind. earwig therefore transfers the blobs itself,
in the cache's own layout (blobs/<etag>, snapshots/<commit>/<file> linking to it, refs/main):
each to the one stable name `blobs/<etag>.incomplete`, continued with a Range request after a
dropped connection or a kill -9, renamed into place only when whole. What huggingface_hub
left behind is salvaged (its temporary file becomes the one resumed) or removed.
huggingface_hub still does the rest (HF_ENDPOINT mirrors, HF_TOKEN, the listing, the final
snapshot). earwig adds byte progress for the whole model, a few attempts when the connection
drops (each resumes where the last stopped), and a check of every file against the hash the
hub lists for it. A file that does not match is deleted and fetched again; a model that never
verifies is not used.

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
from urllib.parse import quote

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
    import logging

    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # earwig reports progress itself, for the whole model
    # ... and says what failed in one sentence: huggingface_hub's own "Retrying in 8s
    # [Retry 4/5]" lines are not for people (earwig retries where it makes sense)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    _reachable(entry)
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


UNREACHABLE_HINT = "check the network connection (or HF_ENDPOINT, if you use a mirror)"


def _reachable(entry: catalog.Entry) -> None:
    """One quick request before huggingface_hub's, which tries a refused connection six
    times over 25 s: without a network, that is said at once. Any answer at all (even an
    error status) means the hub is there; what it says is read by the calls that follow."""
    import httpx

    base = (_endpoint() or "https://huggingface.co").rstrip("/")
    try:
        httpx.head(f"{base}/api/models/{entry.repo}", timeout=15.0, follow_redirects=False)
    except httpx.TransportError as exc:
        host = httpx.URL(base).host
        reason = _first_line(exc) or type(exc).__name__
        raise HubUnreachable(
            f"cannot reach the model hub ({host}) to download {entry.name}: {reason}",
            UNREACHABLE_HINT,
        ) from None


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


def _commit(entry: catalog.Entry) -> str:
    from huggingface_hub import HfApi

    sha = HfApi(endpoint=_endpoint()).model_info(entry.repo, revision="main").sha
    if not sha:
        raise HubUnreachable(f"the hub did not say which commit of {entry.repo} is current")
    return str(sha)


def _blob_name(f: RemoteFile) -> str:
    return str(f.sha256 or f.git_oid)


def _salvage(blobs: Path, names: set[str]) -> None:
    """huggingface_hub's own temporary files (`<etag>.<random>.incomplete`): the biggest of
    each blob becomes the stable `<etag>.incomplete` that is resumed; the others go."""
    for part in sorted(blobs.glob("*.*.incomplete"), key=lambda p: p.stat().st_size):
        etag = part.name.split(".", 1)[0]
        stable = blobs / f"{etag}.incomplete"
        keep = etag in names and not (blobs / etag).exists()
        if keep and (not stable.exists() or stable.stat().st_size < part.stat().st_size):
            os.replace(part, stable)
        else:
            part.unlink(missing_ok=True)
    for part in blobs.glob("*.incomplete"):  # blobs no file of the model needs now
        if part.name.removesuffix(".incomplete") not in names:
            part.unlink(missing_ok=True)


def _download_blobs(entry: catalog.Entry, files: list[RemoteFile]) -> None:
    """Put every file of `entry` into the cache, resuming partial blobs with Range."""
    import httpx

    commit = _commit(entry)
    folder = catalog.repo_folder(entry.repo)
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    _salvage(blobs, {_blob_name(f) for f in files})
    base = (_endpoint() or "https://huggingface.co").rstrip("/")
    headers = {"User-Agent": "earwig"}
    if token := os.environ.get("HF_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"  # httpx drops it on a cross-host redirect
    timeout = httpx.Timeout(30.0, read=60.0)
    with httpx.Client(follow_redirects=True, timeout=timeout, headers=headers) as client:
        for f in files:
            blob = blobs / _blob_name(f)
            if not blob.is_file():
                part = blobs / f"{blob.name}.incomplete"
                url = f"{base}/{entry.repo}/resolve/{commit}/{quote(f.path)}"
                _transfer(client, url, part, f.size)
                if not f.matches(part):
                    part.unlink(missing_ok=True)
                    raise HubUnreachable(
                        f"{entry.repo}: {f.path} arrived damaged (its size or hash does not "
                        "match what the hub lists); it is fetched again"
                    )
                os.replace(part, blob)
            link = folder / "snapshots" / commit / f.path
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.unlink(missing_ok=True)  # a dangling link
                link.symlink_to(os.path.relpath(blob, link.parent))
    refs = folder / "refs"
    refs.mkdir(exist_ok=True)
    (refs / "main").write_text(commit)


def _transfer(client: Any, url: str, part: Path, size: int) -> None:
    """GET `url` into `part`, continuing from the bytes already there (Range)."""
    import fcntl

    with part.open("ab") as fh:
        try:  # one download of a blob at a time (the daemon and `earwig models pull`)
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HubUnreachable(
                f"another earwig is downloading {part.name} right now",
                "wait for it to finish; this one tries again",
            ) from None
        have = fh.seek(0, os.SEEK_END)
        if have > size:
            fh.truncate(0)
            have = 0
        if have == size:
            return
        ranged = {"Range": f"bytes={have}-"} if have else {}
        with client.stream("GET", url, headers=ranged) as answer:
            if answer.status_code == 200 and have:  # the server ignored the range
                fh.truncate(0)
                fh.seek(0)
            elif answer.status_code == 416:
                fh.truncate(0)
                raise HubUnreachable(f"the hub refused to resume {url}; starting it again")
            elif answer.status_code not in (200, 206):
                answer.read()
                answer.raise_for_status()
            for block in answer.iter_bytes(1 << 20):
                fh.write(block)


def _wanted(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in catalog.FILES)


def _fetch(entry: catalog.Entry, force: str | None = None) -> Path:
    """snapshot_download, again after a dropped connection: each attempt resumes."""
    from huggingface_hub import hf_hub_download, snapshot_download

    cache, endpoint = str(catalog.hub_cache()), _endpoint()

    def once() -> Path:
        if force is None:
            _download_blobs(entry, _remote_files(entry))  # resumable; then nothing is left
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
            "check HF_ENDPOINT (a mirror) and the network connection",
        ) from None
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:  # ENOSPC
            raise BackendError(
                f"no space left to download {entry.name} ({entry.size / 1e6:.0f} MB) into "
                f"{catalog.hub_cache()}",
                "free some space, or point HF_HUB_CACHE at a bigger disk",
            ) from None
        raise HubUnreachable(
            f"cannot download {entry.repo}: {_first_line(exc)}", UNREACHABLE_HINT
        ) from None
    except Exception as exc:  # httpx and friends: connection refused, reset, timeouts
        package = type(exc).__module__.split(".")[0].rstrip("0123456789")  # httpx2 -> httpx
        if package in ("httpx", "httpcore", "requests", "urllib3"):
            raise HubUnreachable(
                f"cannot reach the hub for {entry.repo}: {_first_line(exc) or type(exc).__name__}",
                UNREACHABLE_HINT,
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
