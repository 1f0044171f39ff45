"""Paths between a media server's view of the library and earwig's, and which paths a webhook
may name at all.

The server, the arr apps and earwig often run in separate containers that mount one library
at different places: Sonarr sees `/tv`, Jellyfin `/data/tvshows`, earwig `/srv/tv`. A
`path_map` pair says "their prefix, our prefix"; the longest prefix that matches wins, whole
folder names only (`/data/media` never matches `/data/media2`). A server on Windows names
its files `D:\\TV\\Show\\S01E01.mkv`: such a prefix is matched without regard to case or
to the kind of slash.

The rule for a path a webhook names (docs/media-servers.md): once mapped and with every
symlink and `..` resolved, it must lie inside a folder the user gave earwig, a watched folder,
the earwig side of a `path_map`, or a library folder a configured server reports, or it is
refused without being opened. A network client never makes earwig read anything else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_DRIVE = re.compile(r"^[A-Za-z]:")


def windowsy(path: str) -> bool:
    """A path as a Windows server writes it: a drive letter or backslashes."""
    return bool(_DRIVE.match(path)) or "\\" in path


def _names(path: str, windows: bool) -> tuple[bool, list[str]]:
    """Whether `path` is absolute, and its folder names (slashes of either kind on Windows)."""
    text = path.replace("\\", "/") if windows else path
    return text.startswith("/"), [p for p in text.split("/") if p]


def _under(path: str, prefix: str) -> list[str] | None:
    """The names of `path` below `prefix` (both on the server's side), or None when it is
    not below it. Windows paths compare without regard to case."""
    windows = windowsy(prefix) or windowsy(path)
    absolute, have = _names(path, windows)
    prefix_absolute, want = _names(prefix, windows)
    if absolute != prefix_absolute:
        return None
    head = have[: len(want)]
    if windows:
        head, want = [h.lower() for h in head], [w.lower() for w in want]
    if head != want:
        return None
    return have[len(want) :]


def _depth(prefix: str) -> int:
    return len(_names(prefix, windowsy(prefix))[1])


@dataclass(frozen=True)
class PathMap:
    """One server's `path_map`: (their prefix, our prefix) pairs."""

    pairs: tuple[tuple[str, str], ...] = ()

    def to_local(self, theirs: str) -> Path | None:
        """Earwig's path for a path the server names, by the longest matching prefix; None
        when no pair covers it."""
        best: tuple[int, Path] | None = None
        for prefix, ours in self.pairs:
            rest = _under(theirs, prefix)
            if rest is None:
                continue
            depth = _depth(prefix)
            if best is None or depth > best[0]:
                best = (depth, Path(ours).joinpath(*rest))
        return best[1] if best else None

    def to_server(self, ours: Path) -> str | None:
        """The server's name for one of earwig's paths (to ask it to refresh), by the longest
        matching prefix on earwig's side; None when no pair covers it."""
        best: tuple[int, str] | None = None
        for theirs, prefix in self.pairs:
            base = Path(prefix)
            if not ours.is_relative_to(base):
                continue
            rest = ours.relative_to(base).parts
            sep = "\\" if windowsy(theirs) else "/"
            joined = theirs.rstrip("/\\") + (sep + sep.join(rest) if rest else "")
            if best is None or len(base.parts) > best[0]:
                best = (len(base.parts), joined or sep)
        return best[1] if best else None

    def covers_local(self, ours: Path) -> bool:
        return any(ours.is_relative_to(Path(prefix)) for _, prefix in self.pairs)

    @property
    def local_roots(self) -> list[Path]:
        return [Path(prefix) for _, prefix in self.pairs]


def real(path: Path) -> Path:
    """`path` with every symlink and `..` resolved (it need not exist)."""
    return Path(os.path.realpath(path))


@dataclass
class Placed:
    """Where a path named by a webhook lands here."""

    theirs: str
    local: Path | None = None  # inside a library earwig knows (it may not exist)
    tried: list[str] = field(default_factory=list)  # what it was mapped to, for the warning

    @property
    def refused(self) -> bool:
        return self.local is None


def place(theirs: str, maps: Sequence[PathMap], roots: Iterable[Path]) -> Placed:
    """Map `theirs` by each map in turn (then as it is, when it is a plain absolute path),
    and keep the first result inside `roots`; one that exists beats one that does not. A
    path outside every root is refused: nothing is opened, so the answer says nothing about
    what exists outside the libraries."""
    placed = Placed(theirs)
    inside = [real(r) for r in roots]
    candidates: list[Path] = []
    for m in maps:
        local = m.to_local(theirs)
        if local is not None and local not in candidates:
            candidates.append(local)
    if not windowsy(theirs) and PurePosixPath(theirs).is_absolute():
        as_is = Path(theirs)
        if as_is not in candidates:
            candidates.append(as_is)
    kept: list[Path] = []
    for candidate in candidates:
        placed.tried.append(str(candidate))
        resolved = real(candidate)
        if any(resolved.is_relative_to(root) for root in inside):
            kept.append(resolved)
    existing = [p for p in kept if p.is_file()]
    placed.local = existing[0] if existing else (kept[0] if kept else None)
    return placed
