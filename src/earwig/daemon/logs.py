"""The daemon's log: levelled lines on stderr (journald and launchd keep them) and a private
rotating file, as text or as one JSON object per line for log shippers."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys

from earwig import redact
from earwig.config import Config


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:  # scrubbed by redact.ScrubFilter
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that is 0600 from its creation: it names files and jobs."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # one made 0644 by an older earwig, too
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def secrets_of(config: Config) -> list[str]:
    """What the daemon never writes anywhere: the keys' values (and every variable whose
    name says secret), and the `user:password` of the config's URLs."""
    names = [
        config.transcribe.api_key_env,
        config.llm.api_key_env,
        *(s.api_key_env for s in config.transcribe.servers),
    ]
    names += [m.token_env for m in config.media_servers if m.token_env]
    urls = [
        config.transcribe.api_base_url,
        config.llm.base_url,
        config.hooks.webhook,
        *(s.url for s in config.transcribe.servers),
        *(s.url for s in config.subscriptions),
    ]
    return redact.env_secrets([n for n in names if n]) + redact.url_secrets(urls)


def setup_logging(config: Config) -> None:
    """Levelled logs to stderr (journald/launchd pick it up) and a rotating file."""
    root = logging.getLogger("earwig")
    root.setLevel(config.daemon.log_level.upper())
    root.handlers.clear()
    fmt: logging.Formatter = (
        JsonFormatter()
        if config.daemon.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    scrubbed = redact.ScrubFilter(secrets_of(config))  # tracebacks too
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    stderr.addFilter(scrubbed)
    root.addHandler(stderr)
    config.daemon.state_dir.mkdir(parents=True, exist_ok=True)
    rotating = PrivateRotatingFileHandler(
        config.log_path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    rotating.setFormatter(fmt)
    rotating.addFilter(scrubbed)
    root.addHandler(rotating)
