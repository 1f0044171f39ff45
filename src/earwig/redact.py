"""Secrets never reach logs, the database or hooks: one place that takes them out.

What counts: credentials inside URLs (`user:password@host`), Authorization values a server
echoes back (`Bearer ...`, `Basic ...`), API-key-shaped tokens (`sk-...`), the value of the
configured key variable even when only part of it is quoted, and, for hook commands, every
environment variable whose name says it holds a secret.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Iterable, Mapping

_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@:]+:[^/\s@]*@")
_URL_USERINFO = re.compile(r"(?<=://)([^/\s@:]+):([^/\s@]*)@")
_AUTH_VALUE = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.I)
_KEY_SHAPED = re.compile(r"\b(sk|pk|rk|hf)[-_][A-Za-z0-9_-]{8,}")
# Signed URLs (S3, Azure SAS, CDNs) and API keys in query strings: the value is the secret.
_QUERY_TOKEN = re.compile(
    r"([?&;](?:sig|signature|token|access_token|auth|key|api_key|apikey|password|secret"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|policy)=)"
    r"[^&#\s\"'<>]+",
    re.I,
)
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.I)
MASK = "***"
_KEY_LIKE = re.compile(r"[A-Za-z0-9_.~+=:-]{12,}")  # a key or token, not a path or phrase
RUN = 8  # any run of this many characters of a secret is masked (a key quoted cut short)


def _b64(text: str) -> list[str]:
    """The base64 spellings of `text` a server may echo (padded, unpadded, URL-safe)."""
    raw = text.encode()
    plain = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    return list({plain, plain.rstrip("="), urlsafe, urlsafe.rstrip("=")})


def forms(secrets: Iterable[str | None]) -> list[str]:
    """Each secret and its base64 forms (an Authorization value, `user:password`)."""
    out: list[str] = []
    for secret in secrets:
        if secret and len(secret) >= 6:
            if len(secret) >= RUN:  # also as sent: `Authorization: Bearer KEY`, base64'd
                out += [*_b64(secret), *_b64(f"Bearer {secret}"), *_b64(f"Basic {secret}")]
            out.append(secret)
    return out


def url_secrets(urls: Iterable[str | None]) -> list[str]:
    """The `user:password` (and the password) of every URL that carries credentials."""
    out: list[str] = []
    for url in urls:
        for user, password in _URL_USERINFO.findall(url or ""):
            out.append(f"{user}:{password}")
            if len(password) >= 6:
                out.append(password)
    return out


def _mask_runs(text: str, secret: str) -> str:
    """Mask, case-insensitively, every run of `RUN` or more characters of `secret`."""
    low, key = text.lower(), secret.lower()
    windows = {key[i : i + RUN] for i in range(len(key) - RUN + 1)}
    covered = [False] * len(text)
    hit = False
    for i in range(len(low) - RUN + 1):
        if low[i : i + RUN] in windows:
            hit = True
            for j in range(i, i + RUN):
                covered[j] = True
    if not hit:
        return text
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(MASK)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every secret it may hold replaced by ***: each secret whole, in any case,
    any run of 8 of its characters, its base64; credentials of URLs in the text and their
    base64; Authorization values; key-shaped tokens; signed query strings."""
    found = forms([*secrets, *url_secrets([text])])
    for secret in sorted(set(found), key=len, reverse=True):
        if _KEY_LIKE.fullmatch(secret):
            text = _mask_runs(text, secret)
        else:  # a path or a phrase: its runs would be common words and folders
            text = re.sub(re.escape(secret), MASK, text, flags=re.I)
    text = _URL_CREDENTIALS.sub(MASK + "@", text)
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _QUERY_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    return _KEY_SHAPED.sub(MASK, text)


class ScrubFilter(logging.Filter):
    """A log handler's filter: every record (its message and traceback) scrubbed, so a
    crash's traceback that quotes a key never reaches stderr or the log file."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = scrub(message, self.secrets), None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self.secrets)
        return True


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
