"""The Whisper models earwig can fetch by name, and where huggingface_hub keeps them.

The names are faster-whisper's own (`faster_whisper.available_models()`; a test holds the two
equal), so a name means the same thing in earwig, in faster-whisper and in every tool built on
it, and a model any of them downloaded is found and shared. Nothing here imports
huggingface_hub or the ML stack: `earwig models` and the config check use it at no cost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# What faster-whisper's own download_model fetches from a model repository.
FILES = ("config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*")
REQUIRED = ("config.json", "model.bin", "tokenizer.json")  # and one vocabulary.* file


@dataclass(frozen=True)
class Entry:
    name: str
    repo: str
    size: int  # bytes to download, about
    multilingual: bool

    @property
    def languages(self) -> str:
        return "multilingual" if self.multilingual else "English only"


_MB = 1_000_000
CATALOG: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("tiny.en", "Systran/faster-whisper-tiny.en", 75 * _MB, False),
        Entry("tiny", "Systran/faster-whisper-tiny", 75 * _MB, True),
        Entry("base.en", "Systran/faster-whisper-base.en", 145 * _MB, False),
        Entry("base", "Systran/faster-whisper-base", 145 * _MB, True),
        Entry("small.en", "Systran/faster-whisper-small.en", 484 * _MB, False),
        Entry("small", "Systran/faster-whisper-small", 484 * _MB, True),
        Entry("medium.en", "Systran/faster-whisper-medium.en", 1528 * _MB, False),
        Entry("medium", "Systran/faster-whisper-medium", 1528 * _MB, True),
        Entry("large-v1", "Systran/faster-whisper-large-v1", 3087 * _MB, True),
        Entry("large-v2", "Systran/faster-whisper-large-v2", 3087 * _MB, True),
        Entry("large-v3", "Systran/faster-whisper-large-v3", 3087 * _MB, True),
        Entry("large", "Systran/faster-whisper-large-v3", 3087 * _MB, True),
        Entry("distil-large-v2", "Systran/faster-distil-whisper-large-v2", 1512 * _MB, False),
        Entry("distil-medium.en", "Systran/faster-distil-whisper-medium.en", 789 * _MB, False),
        Entry("distil-small.en", "Systran/faster-distil-whisper-small.en", 332 * _MB, False),
        Entry("distil-large-v3", "Systran/faster-distil-whisper-large-v3", 1512 * _MB, False),
        Entry("distil-large-v3.5", "distil-whisper/distil-large-v3.5-ct2", 1512 * _MB, False),
        Entry("large-v3-turbo", "mobiuslabsgmbh/faster-whisper-large-v3-turbo", 1624 * _MB, True),
        Entry("turbo", "mobiuslabsgmbh/faster-whisper-large-v3-turbo", 1624 * _MB, True),
    )
}


def lookup(name: str) -> Entry | None:
    """A catalog name, or a Hugging Face repository id ("org/name") of a CTranslate2 model."""
    if name in CATALOG:
        return CATALOG[name]
    if _is_repo_id(name):
        known = next((e for e in CATALOG.values() if e.repo == name), None)
        return known or Entry(name, name, 0, not name.endswith(".en"))
    return None


def _is_repo_id(text: str) -> bool:
    parts = text.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not text.startswith(("~", ".", "/"))
        and not Path(text).expanduser().exists()
    )


def hub_cache() -> Path:
    """huggingface_hub's cache, found the way huggingface_hub finds it (HF_HUB_CACHE,
    the older HUGGINGFACE_HUB_CACHE, HF_HOME, XDG_CACHE_HOME), without importing it."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def repo_folder(repo: str) -> Path:
    return hub_cache() / ("models--" + repo.replace("/", "--"))


def cached(entry: Entry) -> Path | None:
    """The snapshot of `entry` that the cache's main ref points at, if it is complete.

    huggingface_hub links a file into the snapshot only once it has arrived whole, so a
    download cut off half-way leaves a snapshot without model.bin: it is never used.
    """
    folder = repo_folder(entry.repo)
    try:
        revision = (folder / "refs" / "main").read_text().strip()
    except OSError:
        revision = ""
    candidates = [folder / "snapshots" / revision] if revision else []
    if not candidates and (folder / "snapshots").is_dir():  # no ref: newest snapshot
        candidates = sorted((folder / "snapshots").iterdir(), key=lambda p: p.stat().st_mtime)[::-1]
    for snapshot in candidates:
        if complete(snapshot):
            return snapshot
    return None


def complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in REQUIRED) and any(folder.glob("vocabulary.*"))


def english_only(model_dir: Path) -> bool:
    """A CTranslate2 Whisper model's vocabulary tells: 51864 tokens for English-only models,
    51865 (51866 for large-v3) for multilingual ones."""
    for vocab in sorted(model_dir.glob("vocabulary.*")):
        try:
            if vocab.suffix == ".json":
                import json

                return len(json.loads(vocab.read_text(encoding="utf-8"))) < 51865
            with vocab.open("rb") as fh:
                return sum(1 for _ in fh) < 51865
        except (OSError, ValueError):
            return False
    return False
