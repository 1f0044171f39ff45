"""Running earwig as a service: a systemd user unit on Linux, a launchd agent on macOS.

Templates live in service_files/; `render_*` fill in the real interpreter and config path so
the service runs exactly the earwig that installed it. Commands to systemctl and launchctl
are argument lists, never shell strings.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from earwig.config import Config
from earwig.errors import EarwigError
from earwig.launch import daemon_command

UNIT_NAME = "earwig.service"
AGENT_LABEL = "org.earwig.daemon"


class ServiceError(EarwigError):
    code = "service"


@dataclass(frozen=True)
class ServiceFile:
    kind: str  # "systemd" or "launchd"
    path: Path
    text: str


def command(config: Config) -> list[str]:
    """How the service starts earwig: this interpreter, so the right environment is used."""
    return daemon_command(config.path)


def platform_kind() -> str:
    return "launchd" if sys.platform == "darwin" else "systemd"


def render_systemd(config: Config, argv: list[str] | None = None) -> ServiceFile:
    template = resources.files("earwig.service_files").joinpath("earwig.service").read_text()
    exec_start = " ".join(_systemd_quote(a) for a in argv or command(config))
    text = template.replace("{exec_start}", exec_start).replace(
        "{stop_timeout}", f"{int(config.daemon.shutdown_grace) + 20}s"
    )
    path = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return ServiceFile("systemd", path / "systemd" / "user" / UNIT_NAME, text)


def render_launchd(config: Config, argv: list[str] | None = None) -> ServiceFile:
    logs = config.daemon.state_dir
    agent = {
        "Label": AGENT_LABEL,
        "ProgramArguments": argv or command(config),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a crash, not after a stop
        "ProcessType": "Background",
        "StandardOutPath": str(logs / "launchd.out.log"),
        "StandardErrorPath": str(logs / "launchd.err.log"),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "ExitTimeOut": int(config.daemon.shutdown_grace) + 20,
    }
    text = plistlib.dumps(agent).decode()
    path = Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
    return ServiceFile("launchd", path, text)


def render(config: Config, kind: str | None = None) -> ServiceFile:
    kind = kind or platform_kind()
    return render_launchd(config) if kind == "launchd" else render_systemd(config)


def control_commands(service: ServiceFile, action: str) -> list[list[str]]:
    """The service manager commands for install / uninstall / status."""
    if service.kind == "systemd":
        return {
            "install": [
                ["systemctl", "--user", "daemon-reload"],
                ["systemctl", "--user", "enable", "--now", UNIT_NAME],
            ],
            "uninstall": [["systemctl", "--user", "disable", "--now", UNIT_NAME]],
            "after_uninstall": [["systemctl", "--user", "daemon-reload"]],
            "status": [["systemctl", "--user", "status", "--no-pager", UNIT_NAME]],
        }[action]
    domain = f"gui/{os.getuid()}"
    return {
        "install": [["launchctl", "bootstrap", domain, str(service.path)]],
        "uninstall": [["launchctl", "bootout", f"{domain}/{AGENT_LABEL}"]],
        "after_uninstall": [],
        "status": [["launchctl", "print", f"{domain}/{AGENT_LABEL}"]],
    }[action]


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ServiceError(
            f"{argv[0]} is not available here",
            "run `earwig run` in a terminal instead, or use --dry-run to see the file",
        ) from None
    if check and result.returncode != 0:
        raise ServiceError(
            f"`{shlex.join(argv)}` failed: {(result.stderr or result.stdout).strip()}",
            "see the service manager's message above",
        )
    return result


def _systemd_quote(arg: str) -> str:
    """One ExecStart argument: quoted when needed, and a literal % doubled (systemd would
    read it as a specifier), except a leading %h/ that asks for the user's home on purpose."""
    home = arg.startswith("%h/")
    arg = ("%h/" if home else "") + arg[3 if home else 0 :].replace("%", "%%")
    if arg and all(c.isalnum() or c in "/._-=:+@,%" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
