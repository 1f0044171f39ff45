"""What ships: the sdist and the wheel hold the project's own files and nothing a tool left
lying in the working tree (onnxruntime's `*.data` and `*_temp.onnx`, venvs, caches)."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDIST_TOP = {
    "src",
    "tests",
    "bench",
    "scripts",
    "systemd",
    "launchd",
    "docs",
    "README.md",
    "CONTRIBUTING.md",
    "pyproject.toml",
    "config.example.toml",
    "PKG-INFO",
    ".gitignore",  # hatchling always adds it to an sdist
}
DEBRIS = re.compile(r"(\.data$|_temp\.|\.tmp$|\.pyc$|__pycache__|\.venv|snapshot_report\.html$)")


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    # Debris planted in the tree must stay out of both archives.
    planted = ROOT / "eccd1730-e845-11f1-a4a2-000000000000.data"
    planted.write_bytes(b"x")
    try:
        subprocess.run(
            [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-t", "wheel", "-d", out],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    finally:
        planted.unlink()
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_the_sdist_holds_only_the_projects_files(archives: tuple[Path, Path]) -> None:
    sdist, _ = archives
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    tops = {n.split("/", 1)[0] for n in names}
    assert tops <= SDIST_TOP, tops - SDIST_TOP
    assert {"src", "tests", "pyproject.toml", "README.md"} <= tops
    assert not [n for n in names if DEBRIS.search(n)]
    # The voice model is the one large file; 40 MB leaves room for it and nothing like it twice.
    assert sdist.stat().st_size < 40_000_000


def test_the_wheel_holds_the_package_and_its_data(archives: tuple[Path, Path]) -> None:
    _, wheel = archives
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"earwig"}
    assert "earwig/data/sample.mp3" in names
    assert any(n.startswith("earwig/data/speakers/") and n.endswith(".onnx") for n in names)
    # The web page, every file of it (the daemon serves them from the installed package)
    static = ROOT / "src/earwig/web/static"
    page = {f"earwig/web/static/{p.relative_to(static)}" for p in static.rglob("*") if p.is_file()}
    assert "earwig/web/static/index.html" in page
    assert page <= set(names), page - set(names)
    assert not [n for n in names if DEBRIS.search(n)]


def test_no_script_folder_shadows_the_standard_library() -> None:
    """`python bench/x.py` puts bench/ first on the path (and pytest puts tests/ there): a
    bench/http.py once made every benchmark's `import urllib.request` fail."""
    shadows = [
        str(path.relative_to(ROOT))
        for folder in ("bench", "tests", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if path.stem in sys.stdlib_module_names
    ]
    assert not shadows, shadows
