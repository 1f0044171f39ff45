"""Secrets never reach logs, the database or hooks: one place that takes them out.

What counts: credentials inside URLs (`user:password@host`), Authorization values a server
echoes back (`Bearer ...`, `Basic ...`), API-key-shaped tokens (`sk-...`), the value of the
configured key variable even when only part of it is quoted, and, for hook commands, every
environment variable whose name says it holds a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@:]+:[^/\s@]*@")
_AUTH_VALUE = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.I)
_KEY_SHAPED = re.compile(r"\b(sk|pk|rk|hf)[-_][A-Za-z0-9_-]{8,}")
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.I)
MASK = "***"


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every secret it may hold replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, MASK)
            text = text.replace(secret[:8], MASK)  # a key quoted half-masked (sk-proj-***abcd)
    text = _URL_CREDENTIALS.sub(MASK + "@", text)
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KEY_SHAPED.sub(MASK, text)


def env_secrets(names: Iterable[str] = ()) -> list[str]:
    """The values of the named variables and of every variable whose name says secret."""
    return [
        value
        for name, value in os.environ.items()
        if value and (name in set(names) or SECRET_NAME.search(name))
    ]


def safe_environment(env: Mapping[str, str], also: Iterable[str] = ()) -> dict[str, str]:
    """An environment for a hook command: the user's, less anything that names a secret."""
    drop = set(also)
    return {k: v for k, v in env.items() if k not in drop and not SECRET_NAME.search(k)}
