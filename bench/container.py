"""The container image: how big it is, what takes the room, how fast it is ready.

Builds the image from this checkout (scripts/container.py: the local Debian base, made with
debootstrap, and podman; layers of an earlier build are reused, so time a build on a machine
that never built it), then prints:

  * its uncompressed size (`podman image inspect`) and its compressed size (`podman save |
    gzip -6 | wc -c`: about what a registry stores and a pull downloads);
  * the layers (the Debian base, Debian's Python, the venv) and the largest packages in the
    venv, in MB;
  * container start to ready: from `podman run -d` until `earwig status` answers inside it
    (as the healthcheck asks), the median of --rounds starts, each on empty folders, beside
    the same measure for `earwig run` on this machine without a container (interleaved, so
    both see the same load; the ratio is the container's cost).

    python bench/container.py [--rounds 5] [--image TAG] [--no-build]

Needs podman run by root, as tests/container does. Removes the containers it starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness  # bench/harness.py: the daemon every benchmark starts the same way

ROOT = Path(__file__).resolve().parents[1]
TAG = "localhost/earwig:bench"
MB = 1_000_000


def builder() -> Any:
    spec = importlib.util.spec_from_file_location("container_script", ROOT / "scripts/container.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def podman(*args: str, **kwargs: Any) -> str:
    return subprocess.run(
        ["podman", *args], check=True, capture_output=True, text=True, **kwargs
    ).stdout


def sizes(image: str) -> tuple[int, int]:
    """(uncompressed, gzip -6 compressed) bytes of the image."""
    unpacked = int(podman("image", "inspect", "--format", "{{.Size}}", image).strip())
    save = subprocess.Popen(["podman", "save", image], stdout=subprocess.PIPE)
    gzip = subprocess.Popen(["gzip", "-6"], stdin=save.stdout, stdout=subprocess.PIPE)
    assert save.stdout is not None and gzip.stdout is not None
    save.stdout.close()
    packed = 0
    while chunk := gzip.stdout.read(1 << 20):
        packed += len(chunk)
    gzip.wait()
    if save.wait() != 0:
        raise RuntimeError(f"podman save {image} failed")
    return unpacked, packed


def layers(image: str) -> list[tuple[int, str]]:
    """(bytes, what made it) for each layer that holds anything, largest first."""
    rows = json.loads(podman("history", "--format", "json", image))
    found = [(int(r.get("size", 0)), " ".join(str(r.get("CreatedBy", "")).split())) for r in rows]
    return sorted((f for f in found if f[0] > 100_000), reverse=True)


def packages(image: str, top: int = 14) -> list[tuple[int, str]]:
    """The largest entries of the venv's site-packages, in bytes."""
    script = "cd /opt/earwig/lib/python3*/site-packages && du -s --block-size=1 * | sort -rn"
    out = podman("run", "--rm", "--entrypoint", "sh", image, "-c", script)
    rows = [line.split("\t", 1) for line in out.splitlines() if "\t" in line]
    return [(int(size), name) for size, name in rows[:top]]


def start_to_ready(image: str) -> float:
    """Seconds from `podman run -d` to `earwig status` answering inside the container."""
    host = Path(tempfile.mkdtemp(prefix="ew-bench-", dir="/tmp"))
    name = f"earwig-bench-{os.getpid()}"
    volumes = []
    for folder in ("config", "data", "watch", "transcripts"):
        (host / folder).mkdir()
        os.chown(host / folder, 1000, 1000)
        volumes += ["--volume", f"{host / folder}:/{folder}"]
    try:
        started = time.monotonic()
        podman("run", "--detach", "--name", name, *volumes, image)
        while True:
            done = subprocess.run(
                ["podman", "exec", name, "earwig", "status"], capture_output=True, text=True
            )
            if done.returncode == 0:
                return time.monotonic() - started
            if time.monotonic() - started > 120:
                raise TimeoutError(f"not ready after 120 s: {done.stderr}")
            time.sleep(0.1)
    finally:
        subprocess.run(["podman", "rm", "--force", "--time", "5", name], capture_output=True)
        shutil.rmtree(host, ignore_errors=True)


def host_start_to_ready() -> float:
    """The same on this machine without a container, for comparison: `earwig run` from this
    Python (its HTTP on, as in the image) until `earwig status` answers."""
    root = Path(tempfile.mkdtemp(prefix="ew-bench-host-"))
    daemon = harness.Daemon(root, http='listen = "127.0.0.1:0"')
    status = [sys.executable, "-m", "earwig", "--config", str(daemon.config), "status"]
    try:
        started = time.monotonic()
        daemon.start()  # returns once the socket answers; then the CLI, as in the container
        while subprocess.run(status, capture_output=True).returncode != 0:
            time.sleep(0.1)
        return time.monotonic() - started
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", default=TAG)
    parser.add_argument("--no-build", action="store_true", help="measure --image as it is")
    args = parser.parse_args()
    if not args.no_build:
        began = time.monotonic()
        builder().build(args.image, quiet=True)
        print(f"build (earlier layers reused): {time.monotonic() - began:.0f} s")
    unpacked, packed = sizes(args.image)
    print(f"image {args.image}: {unpacked / MB:.0f} MB uncompressed, {packed / MB:.0f} MB gzip -6")
    print("layers:")
    for size, what in layers(args.image):
        print(f"  {size / MB:7.1f} MB  {what[:90]}")
    print("largest in the venv:")
    for size, name in packages(args.image):
        print(f"  {size / MB:7.1f} MB  {name}")
    boxed, bare = [], []
    for _ in range(args.rounds):  # interleaved: both see the same load
        boxed.append(start_to_ready(args.image))
        bare.append(host_start_to_ready())
    box, host = statistics.median(boxed), statistics.median(bare)
    print(
        f"start to `earwig status` answering, median of {args.rounds}: container {box:.2f} s "
        f"(min {min(boxed):.2f}, max {max(boxed):.2f}); the same daemon on this machine "
        f"without a container {host:.2f} s; ratio {box / host:.2f} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
