"""The Containerfile, compose.yaml and the image's starter config agree with each other and
with earwig, in seconds and without podman: every EARWIG_ variable they set is a real key
with a valid value, the starter config is one the daemon accepts, and the CUDA variant that
cannot be built or run here still names a stage and an extra that exist. (The image itself
is built and run by tests/container/test_image.py.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from earwig import config, config_env

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = (ROOT / "Containerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
VOLUMES = {"/config", "/data", "/watch", "/transcripts"}


def image_env() -> dict[str, str]:
    """The ENV the image sets (one `ENV A=1 \\ B=2` instruction)."""
    block = re.search(r"^ENV LANG=.*?(?=^\S)", CONTAINERFILE, re.M | re.S)
    assert block, "the runtime stage's ENV"
    return dict(re.findall(r"(\w+)=(\S+)", block.group(0)))


def check_variables(env: dict[str, str]) -> None:
    """Each EARWIG_<SECTION>_<KEY> is a key of earwig's and its value passes the key's check."""
    found = config_env.overrides(env, config.SECTIONS, Path("/config"))
    named = {n for n in env if n.startswith("EARWIG_") and n != "EARWIG_CONFIG"}
    assert named == {config_env.variable(s, k) for s, keys in found.items() for k in keys}


def test_the_image_sets_real_keys_and_paths_in_its_volumes() -> None:
    env = image_env()
    check_variables(env)
    assert env["EARWIG_CONFIG"].startswith("/config/")
    assert env["EARWIG_HTTP_LISTEN"] == f"0.0.0.0:{config.DEFAULT_PORT}"
    for name in ("EARWIG_DAEMON_DATABASE", "EARWIG_DOWNLOADS_DIR", "HF_HOME"):
        assert env[name].startswith("/data/"), name
    declared = re.search(r"^VOLUME (\[.*\])$", CONTAINERFILE, re.M)
    assert declared and set(yaml.safe_load(declared.group(1))) == VOLUMES
    assert f"EXPOSE {config.DEFAULT_PORT}" in CONTAINERFILE


def test_the_starter_config_is_valid_and_uses_the_volumes() -> None:
    path = ROOT / "container" / "config.toml"
    parsed = config.parse(tomllib.loads(path.read_text()), Path("/config/config.toml"))
    assert [str(w.path) for w in parsed.watch] == ["/watch"]
    assert str(parsed.output.dir) == "/transcripts"
    assert parsed.http.trust == ()  # the container's network is not trusted by default
    # docker stop kills after 10 s: the job must be back in the queue before that
    assert parsed.daemon.shutdown_grace < 10


@pytest.mark.parametrize("service", ["earwig", "earwig-cuda"])
def test_compose_services_match_the_image(service: str) -> None:
    spec = COMPOSE["services"][service]
    mounts = {volume.split(":")[1] for volume in spec["volumes"]}
    assert mounts == VOLUMES
    assert spec["ports"] == [f"{config.DEFAULT_PORT}:{config.DEFAULT_PORT}"]
    assert {"PUID", "PGID"} <= set(spec["environment"])
    check_variables(spec["environment"])
    assert spec["restart"] == "unless-stopped"


def test_the_cuda_variant_names_what_exists() -> None:
    """Never built nor run here (no GPU): at least its stage, extra and profile exist."""
    spec = COMPOSE["services"]["earwig-cuda"]
    assert spec["build"]["target"] == "cuda" and spec["profiles"] == ["cuda"]
    assert re.search(r"^FROM runtime AS cuda$", CONTAINERFILE, re.M)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert extras["optional-dependencies"]["cuda"]
    assert '["optional-dependencies"]["cuda"]' in CONTAINERFILE
    devices = spec["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"
    # the CPU image is the default target: the last stage
    assert re.findall(r"^FROM .* AS (\S+)$", CONTAINERFILE, re.M)[-1] == "cpu"
