"""Secrets never reach logs, the database or hooks: one place that takes them out.

What counts: credentials inside URLs (`user:password@host`), Authorization values a server
echoes back (`Bearer ...`, `Basic ...`), API-key-shaped tokens (`sk-...`), the value of the
configured key variable even when only part of it is quoted, and, for hook commands, every
environment variable whose name says it holds a secret.
"""

from __future__ import annotations

import base64
import functools
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
RUN = 8  # any run of this many characters of a secret is masked (a key quoted cut short)
# A key or token, not a path, a URL or a phrase (whose runs would be common words and
# folders): no spaces, not starting like a path, at least 12 characters
_KEY_LIKE = re.compile(r"(?![/~.])[A-Za-z0-9_.~+=:/%-]{12,}")


def _is_key(secret: str) -> bool:
    return bool(_KEY_LIKE.fullmatch(secret)) and "://" not in secret


def _b64(text: str) -> list[str]:
    """The base64 spellings of `text` a server may echo (padded, unpadded, URL-safe)."""
    raw = text.encode()
    plain = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    return list({plain, plain.rstrip("="), urlsafe, urlsafe.rstrip("=")})


def _b64_inside(secret: str) -> list[str]:
    """What base64 of anything around `secret` (`user:KEY`, `Bearer KEY`, a JSON body)
    always holds, whatever came before it: base64 works in groups of three bytes, so for
    each of the three places the secret can start in a group, the groups made of its own
    bytes alone encode the same way. Without the user's name, base64("alice:KEY") is still
    found."""
    raw = secret.encode()
    out = []
    for lead in range(3):
        skip = (3 - lead) % 3  # bytes of the secret that share a group with what precedes
        whole = (len(raw) - skip) // 3 * 3
        if whole >= 9:
            core = base64.b64encode(raw[skip : skip + whole]).decode()
            out += [core, core.replace("+", "-").replace("/", "_")]
    return out


def _escaped(secret: str) -> list[str]:
    """How a server may escape a key's punctuation when it echoes it: URL-encoded (upper
    and lower case hex, `+` for a space), JSON (`\\/`, `\\u002f`), HTML entities."""
    special = {c for c in secret if not c.isalnum() and c not in "-_.~"}
    if not special:
        return []
    upper = "".join(f"%{ord(c):02X}" if c in special else c for c in secret)
    forms = {
        upper,
        "".join(f"%{ord(c):02x}" if c in special else c for c in secret),
        upper.replace("%20", "+"),
        secret.replace("/", "\\/"),
        "".join(f"\\u{ord(c):04x}" if c in special else c for c in secret),
        "".join(f"\\u{ord(c):04X}" if c in special else c for c in secret),
        "".join(f"&#{ord(c)};" if c in special else c for c in secret),
        "".join(f"&#x{ord(c):x};" if c in special else c for c in secret),
        "".join(f"&#x{ord(c):X};" if c in special else c for c in secret),
    }
    return sorted(forms)


def forms(secrets: Iterable[str | None]) -> list[str]:
    """Each secret and the forms a server may echo it in: escaped, and base64 of it and of
    what may surround it (an Authorization value, `user:key`)."""
    out: list[str] = []
    for secret in secrets:
        if secret and len(secret) >= 6:
            if len(secret) >= RUN:
                out += [*_b64(secret), *_b64(f"Bearer {secret}"), *_b64(f"Basic {secret}")]
                out += _b64_inside(secret)
            if _is_key(secret):
                out += _escaped(secret)
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


@functools.lru_cache(maxsize=64)
def _plan(secrets: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """What scrub() looks for, worked out once per set of secrets (every log line, job
    error and job view is scrubbed): every RUN-character window (lower-cased) of every key
    and of every form it may be echoed in, and the phrases (a path, words with spaces) that
    are masked whole only, longest first."""
    windows: set[str] = set()
    phrases: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < 6:
            continue
        derived = [f for f in forms([secret]) if f != secret]
        if _is_key(secret):
            derived.append(secret)
        else:  # a path or a phrase: its runs would be common words and folders
            phrases.add(secret)
        for form in derived:
            low = form.lower()
            if len(low) < RUN:
                phrases.add(form)
            windows.update(low[i : i + RUN] for i in range(len(low) - RUN + 1))
    return frozenset(windows), tuple(sorted(phrases, key=len, reverse=True))


def _mask_runs(text: str, windows: frozenset[str]) -> str:
    """Mask, case-insensitively, every run of RUN or more characters that is a window of
    some secret's form (overlapping windows make one mask)."""
    low = text.lower()
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
    """`text` with every secret it may hold replaced by ***: each key whole, in any case and
    any form a server may echo it in (URL-encoded, JSON- or HTML-escaped, base64 of it or of
    `user:key`), and any run of 8 characters of any of those; a path or phrase whole;
    credentials of URLs in the text; Authorization values; key-shaped tokens; signed query
    strings."""
    windows, phrases = _plan(tuple(s for s in secrets if s))
    found = url_secrets([text])
    if found:
        more_windows, more_phrases = _plan(tuple(found))
        windows, phrases = windows | more_windows, (*more_phrases, *phrases)
    for phrase in phrases:
        text = re.sub(re.escape(phrase), MASK, text, flags=re.I)
    if windows:
        text = _mask_runs(text, windows)
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
