"""Build earwig's container image on a machine with no container registry (CI, these hosts).

    python scripts/container.py base             # the Debian base image, made with debootstrap
    python scripts/container.py build [TAG]      # the base if missing, then the image

No public registry is reachable from CI, so `debian:bookworm-slim` cannot be pulled: the base
is made locally with `debootstrap --variant=minbase bookworm` from the Debian mirror apt
already uses, slimmed as Debian's own `-slim` images are (no manuals, docs or translations,
apt's lists and caches emptied), and imported into podman. It is cached: in podman's storage,
and as a tarball under ~/.cache/earwig/ that a wiped storage is re-imported from in seconds.

`build` passes that base as the Containerfile's `BASE_IMAGE`. pip inside the build reaches
the package registry only when it trusts this host's CA bundle (a proxy may stand between
here and PyPI), so the bundle and a pip.conf naming it are mounted into the build's RUN steps
from outside: nothing of this machine goes into the Containerfile or the image.

Standard library only: .ci/run calls it before any virtual environment exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_TAG = "localhost/earwig-base:bookworm-slim"
IMAGE_TAG = "localhost/earwig:test"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
# What podman needs on these machines: the sandbox may not raise rlimits, and crun refuses
# its hybrid cgroups. Written by .ci/run (root) when the file is missing.
CONTAINERS_CONF_TEXT = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""

# Debian's -slim images (debuerreotype --slim): dpkg leaves these out of every package
# installed later too, so the image's own apt-get installs stay as small as on the real base.
SLIM_DPKG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
"""
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
"""
SOURCES = """\
Types: deb
URIs: {mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def cache_dir() -> Path:
    """~/.cache/earwig of the real user (tests point HOME elsewhere; the cache outlives them)."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "earwig"


def mirror() -> str:
    """The Debian mirror apt on this machine already uses (deb822 or one-line sources)."""
    for name in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = Path(name).read_text()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s+\S+", text, re.M
        )
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def podman(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], check=True, **kwargs)


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag]).returncode == 0


def write_containers_conf() -> None:
    """The podman settings these machines need, unless someone already wrote their own."""
    if not CONTAINERS_CONF.exists():
        CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
        CONTAINERS_CONF.write_text(CONTAINERS_CONF_TEXT)


def make_rootfs_tarball(target: Path) -> None:
    """debootstrap a minimal bookworm, slim it, and pack it as `target` (gzip)."""
    source = mirror()
    with tempfile.TemporaryDirectory(prefix="earwig-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), source],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        pack(rootfs, source, target)


def pack(rootfs: Path, source: str, target: Path) -> None:
    """Slim a debootstrapped tree as Debian's -slim images are, and tar it as `target`."""
    for folder in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
        for item in (rootfs / folder).glob("*"):
            if item.name == "locale.alias":
                continue
            if folder == "usr/share/doc" and item.is_dir():
                for inner in item.iterdir():  # keep the copyright files
                    if inner.name != "copyright":
                        _remove(inner)
                continue
            _remove(item)
    for folder in ("var/lib/apt/lists", "var/cache/apt", "var/log"):
        for item in (rootfs / folder).rglob("*"):
            if item.is_file() and item.name != "lock":
                item.unlink()
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(SLIM_DPKG)
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    security = source.removesuffix("/debian") + "/debian-security"
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
        SOURCES.format(mirror=source, security=security)
    )
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["tar", "-C", str(rootfs), "--numeric-owner", "-czf", str(partial), "."], check=True
    )
    partial.replace(target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One maker at a time: .ci/run starts the build in the background while pip installs,
    and the test that needs the image waits here for it instead of building it twice."""
    path = cache_dir() / "container.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_base(tag: str = BASE_TAG) -> str:
    """The base image's tag, made (or re-imported from the cached tarball) if podman lacks it."""
    with exclusive():
        write_containers_conf()
        if image_exists(tag):
            return tag
        tarball = cache_dir() / f"debian-{SUITE}-minbase.tar.gz"
        if not tarball.exists():
            make_rootfs_tarball(tarball)
        with tarball.open("rb") as fh:
            podman("import", "--quiet", "-", tag, stdin=fh, stdout=subprocess.DEVNULL)
        return tag


def build(
    tag: str = IMAGE_TAG, base: str | None = None, extra: tuple[str, ...] = (), quiet: bool = False
) -> str:
    """Build the Containerfile at the top of the repository as `tag` on the local base."""
    base = base or ensure_base()
    with exclusive(), tempfile.TemporaryDirectory(prefix="earwig-pip-") as tmp:
        pip_conf = Path(tmp) / "pip.conf"
        pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n")
        podman(
            "build",
            "--format=docker",  # HEALTHCHECK is a Docker-format field (OCI drops it)
            "--network=host",
            f"--volume={HOST_CA}:/run/host-ca.crt:ro",
            f"--volume={pip_conf}:/etc/pip.conf:ro",
            f"--build-arg=BASE_IMAGE={base}",
            "--layers",
            "--tag",
            tag,
            *extra,
            *(["--quiet"] if quiet else []),
            "--file",
            str(ROOT / "Containerfile"),
            str(ROOT),
        )
    return tag


def main(argv: list[str]) -> int:
    started = time.monotonic()
    if not argv or argv[0] not in ("base", "build"):
        print(__doc__.strip().splitlines()[2:4], file=sys.stderr)
        return 2
    if argv[0] == "base":
        print(ensure_base())
    else:
        print(build(argv[1] if len(argv) > 1 else IMAGE_TAG))
    print(f"{argv[0]}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
