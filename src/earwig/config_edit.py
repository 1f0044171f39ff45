"""Edits to the config file that keep the user's comments and layout (tomlkit).

Every edit is validated by parsing the result exactly as the daemon would before the file is
replaced (atomically), so a command can never leave a config the daemon refuses. Edits hold an
exclusive lock (flock on `<config>.lock`) from read to write: ten `earwig subscribe` at once
give ten subscriptions, not five.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomlkit

from earwig import config
from earwig.errors import ConfigError
from earwig.outputs import PRIVATE, write_atomic


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the config's edit lock: read, change and write without another edit between."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _load(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        doc = tomlkit.document()
        doc.add(tomlkit.comment("earwig config; `earwig config example` prints every option"))
        return doc
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix it by hand first") from exc


def _save(path: Path, doc: tomlkit.TOMLDocument) -> None:
    text = tomlkit.dumps(doc)
    config.parse(tomllib.loads(text), path)  # refuse to write what the daemon would refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, PRIVATE)  # it may hold a webhook's token


def add_subscription(path: Path, entry: dict[str, Any]) -> None:
    with _locked(path):
        _add_subscription(path, entry)


def _add_subscription(path: Path, entry: dict[str, Any]) -> None:
    doc = _load(path)
    subs = doc.get("subscription")
    if subs is None:
        subs = tomlkit.aot()
        doc.append("subscription", subs)
    if any(s.get("name") == entry["name"] for s in subs):
        raise ConfigError(
            f"{path}: a subscription named {entry['name']!r} already exists",
            "choose another --name, or `earwig unsubscribe` it first",
        )
    if any(s.get("url") == entry["url"] for s in subs):
        raise ConfigError(f"{path}: {entry['url']} is already subscribed")
    table = tomlkit.table()
    for key, value in entry.items():
        if value is not None:
            table[key] = value
    subs.append(table)
    _save(path, doc)


def remove_subscription(path: Path, name: str) -> None:
    with _locked(path):
        _remove_subscription(path, name)


def _remove_subscription(path: Path, name: str) -> None:
    doc = _load(path)
    subs = doc.get("subscription")
    index = next((i for i, s in enumerate(subs or []) if s.get("name") == name), None)
    if subs is None or index is None:
        raise ConfigError(
            f"{path}: no subscription named {name!r}", "`earwig subscriptions` lists them"
        )
    del subs[index]
    if not subs:
        del doc["subscription"]
    _save(path, doc)


def set_value(path: Path, section: str, key: str, value: Any) -> None:
    """Set one key of one table (`earwig backends --pin`), keeping everything else as it was."""
    with _locked(path):
        doc = _load(path)
        table = doc.get(section)
        if table is None:
            table = tomlkit.table()
            doc.append(section, table)
        table[key] = value
        _save(path, doc)
