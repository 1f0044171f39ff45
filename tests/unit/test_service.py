"""Service files: a unit systemd accepts, a plist launchd can read, real paths in both."""

from __future__ import annotations

import plistlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from earwig import config, service
from earwig.daemon.server import peer_uid
from helpers import run_cli


@pytest.fixture
def cfg(tmp_path: Path) -> config.Config:
    path = tmp_path / "my config" / "earwig.toml"  # a space, to exercise quoting
    path.parent.mkdir()
    path.write_text('[daemon]\nshutdown_grace = "15s"\n')
    return config.load(path)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_accepts_the_unit(cfg: config.Config, tmp_path: Path) -> None:
    unit = service.render_systemd(cfg)
    path = tmp_path / "earwig.service"
    path.write_text(unit.text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    assert f'ExecStart={sys.executable} -m earwig --config "{cfg.path}" run' in unit.text
    assert "Type=notify" in unit.text and "Restart=on-failure" in unit.text
    assert "TimeoutStopSec=35s" in unit.text
    assert unit.path.parts[-3:] == ("systemd", "user", "earwig.service")


def test_systemd_catches_a_broken_unit_too(tmp_path: Path) -> None:
    """The check above can fail: a typo in the unit is reported."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not here")
    path = tmp_path / "broken.service"
    path.write_text("[Service]\nType=notfy\nExecStart=/bin/true\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True
    )
    assert "notfy" in result.stderr


def test_launchd_plist_round_trips_with_the_keys_launchd_needs(cfg: config.Config) -> None:
    agent = service.render_launchd(cfg)
    data = plistlib.loads(agent.text.encode())
    assert data["Label"] == service.AGENT_LABEL
    assert data["ProgramArguments"] == [
        sys.executable,
        "-m",
        "earwig",
        "--config",
        str(cfg.path),
        "run",
    ]
    assert data["RunAtLoad"] is True and data["KeepAlive"] == {"SuccessfulExit": False}
    assert data["StandardErrorPath"].startswith(str(cfg.daemon.state_dir))
    assert agent.path.parent.name == "LaunchAgents"


def test_dry_run_prints_real_paths_and_writes_nothing(cfg: config.Config, tmp_path: Path):
    assert cfg.path is not None
    for kind in ("systemd", "launchd"):
        out = run_cli(cfg.path, "service", "install", "--dry-run", "--kind", kind)
        assert out.returncode == 0, out.stderr
        assert sys.executable in out.stdout and str(cfg.path) in out.stdout
        assert "would run:" in out.stdout
    assert not (Path.home() / ".config" / "systemd").exists()
    out = run_cli(cfg.path, "service", "status", "--kind", "systemd")
    assert out.returncode == 1 and "not installed" in out.stdout


def test_peer_uid_reads_the_kernel_credentials() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("SO_PEERCRED is Linux")
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        import os

        assert peer_uid(a) == os.getuid()


def _repository_examples() -> dict[Path, str]:
    """What `earwig service install` writes for an earwig installed with pipx or
    `uv tool install` (the README's way) and no config file: the files at the top of the
    repository must be exactly that, for people who install services by hand."""
    root = Path(__file__).parents[2]
    home = Path("/Users/you")  # launchd wants absolute paths; the README says to adapt it
    mac = config.Config(daemon=config.DaemonConfig(state_dir=home / "Library/Logs/earwig"))
    return {
        root / "systemd" / "earwig.service": service.render_systemd(
            config.Config(), ["%h/.local/bin/earwig", "run"]
        ).text,
        root / "launchd" / "org.earwig.daemon.plist": service.render_launchd(
            mac, [str(home / ".local/bin/earwig"), "run"]
        ).text,
    }


def test_the_repository_service_files_are_what_service_install_writes() -> None:
    """No drift between systemd/, launchd/ and `earwig service install` (regenerate with
    EARWIG_WRITE_SERVICE_FILES=1 python -m pytest tests/unit/test_service.py)."""
    import os

    for path, text in _repository_examples().items():
        if os.environ.get("EARWIG_WRITE_SERVICE_FILES"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
        assert path.read_text() == text, f"{path} differs from what `earwig service install` writes"
