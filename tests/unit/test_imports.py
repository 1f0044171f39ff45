"""Startup stays light: the CLI and core modules never import the ML stack or textual."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "faster_whisper",
    "ctranslate2",
    "av",
    "numpy",
    "onnxruntime",
    "textual",
    "tokenizers",
    "pywhispercpp",
    "_pywhispercpp",
    "openai",
    "litestar",  # the HTTP stack: only the daemon imports it (earwig.web), and only its own
    "uvicorn",
)

PROBE = """
import sys
from earwig.cli import main
try:
    main(["--config", sys.argv[1], "status"])
except SystemExit as exc:
    code = exc.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print(code, ",".join(heavy))
"""


def test_status_imports_no_ml_stack(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[daemon]\nsocket = "{tmp_path}/s.sock"\nstate_dir = "{tmp_path}"\n')
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    code, heavy = (
        out.stdout.strip().split(" ", 1) if " " in out.stdout.strip() else (out.stdout.strip(), "")
    )
    assert code == "3", out  # not running: the documented exit code, no traceback
    assert heavy == "", f"earwig status imported {heavy}"
    assert "Traceback" not in out.stderr


def test_core_modules_do_not_import_textual_or_ml() -> None:
    modules = [
        "earwig.config",
        "earwig.store",
        "earwig.jobs",
        "earwig.protocol",
        "earwig.client",
        "earwig.daemon.app",
        "earwig.transcribe.registry",
        "earwig.web",  # the package itself is light: `earwig token` reads web/token.py
        "earwig.web.token",
        "earwig.web.guard",
    ]
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        f"print(','.join(m for m in ('textual', 'faster_whisper', 'ctranslate2', 'litestar', "
        "'uvicorn') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_only_earwig_web_imports_the_http_stack() -> None:
    """litestar and uvicorn are named in src/earwig/web/ and nowhere else."""
    import re
    from pathlib import Path

    src = Path(__file__).parents[2] / "src" / "earwig"
    pattern = re.compile(r"^\s*(from|import)\s+(litestar|uvicorn)\b", re.M)
    outside = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if pattern.search(p.read_text()) and "web" not in p.relative_to(src).parts[:1]
    ]
    assert outside == []
