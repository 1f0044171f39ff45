"""Config keys from the environment: `EARWIG_<SECTION>_<KEY>`, over the file's value.

A container, a compose file or a service manager sets a key without writing a file:
`EARWIG_HTTP_LISTEN=0.0.0.0:8327`, `EARWIG_HTTP_TRUST=192.168.1.0/24,10.0.0.5`. The variable
wins over the file (the environment is the more specific of the two, as for any twelve-factor
program) and is checked exactly like the file: a wrong value stops the daemon with the
variable's name and what was expected. A variable that names a section but no key of it is
refused with the nearest key (a typo is never silently ignored); other `EARWIG_` variables
(`EARWIG_CONFIG`, those hooks receive) name no section and are left alone.

Values are written as in the file, without the quotes a string would need there: `true`,
`4`, `30m`, `/data/earwig.db`; a list is TOML (`["a", "b"]`) or comma-separated (`a,b`).
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from earwig.errors import ConfigError

PREFIX = "EARWIG_"


def variable(section: str, key: str) -> str:
    """The variable that sets `[section] key`: EARWIG_HTTP_TRUST for [http] trust."""
    return f"{PREFIX}{section.upper()}_{key.upper()}"


def overrides(
    environ: Mapping[str, str], sections: Mapping[str, type], base: Path
) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} for every EARWIG_<SECTION>_<KEY> set in `environ`, each value
    already checked by its key's converter (so a mistake names the variable, not the file)."""
    found: dict[str, dict[str, Any]] = {}
    for name, text in sorted(environ.items()):
        for section, cls in sections.items():
            prefix = f"{PREFIX}{section.upper()}_"
            if not name.startswith(prefix):
                continue
            key = name[len(prefix) :].lower()
            converters = {f.name: f.metadata["convert"] for f in _fields(cls)}
            if key not in converters:
                close = difflib.get_close_matches(key, sorted(converters), n=1)
                raise ConfigError(
                    f"{name}: [{section}] has no key {key!r}",
                    f"did you mean {variable(section, close[0])}?"
                    if close
                    else f"unset it; [{section}] has " + ", ".join(sorted(converters)),
                )
            value = _value(text, _kinds(cls, key))
            try:
                converters[key](value, base)
            except ValueError as exc:
                raise ConfigError(f"{name}={text!r} is not valid", f"expected {exc}") from None
            found.setdefault(section, {})[key] = value
    return found


def _fields(cls: type) -> list[Any]:
    import dataclasses

    return [f for f in dataclasses.fields(cls) if "convert" in f.metadata]


def _kinds(cls: type, key: str) -> set[type]:
    """The Python types `[section] key` may hold, from the dataclass's annotation."""
    hint = typing.get_type_hints(cls)[key]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = typing.get_args(hint) if union else (hint,)
    return {typing.get_origin(a) or a for a in args}


def _value(text: str, kinds: set[type]) -> Any:
    """The TOML value `text` spells when the key takes that kind of value, else the text."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    if isinstance(value, list) and tuple in kinds:
        return value
    if tuple in kinds:  # comma-separated items
        return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(value, bool):
        return value if bool in kinds else text
    if isinstance(value, int | float):
        return value if kinds & {int, float} else text
    return value if isinstance(value, str) else text
