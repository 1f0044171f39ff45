"""Configuration: TOML in, frozen and validated dataclasses out.

The file is read with tomllib. Every key is checked against a small schema so that a typo or a
wrong type stops the daemon with the file, the key and what was expected, instead of being
silently ignored. A missing default config file is fine: earwig runs on its defaults.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from earwig import paths
from earwig.errors import ConfigError

OUTPUT_FORMATS = ("txt", "srt", "vtt", "tsv", "json")
DEFAULT_IGNORE = (".*", "*.part", "*.crdownload", "*.tmp", "~$*", "*.ytdl")
BACKENDS = ("auto", "mlx-whisper", "whisper.cpp", "faster-whisper", "openai")
LOG_LEVELS = ("debug", "info", "warning", "error")
COMPUTE_TYPES = (
    "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
    "float16", "bfloat16", "float32", "default",
)


@dataclass(frozen=True)
class WatchConfig:
    path: Path
    recursive: bool = True
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    output_dir: Path | None = None  # defaults to [output] dir


@dataclass(frozen=True)
class OutputConfig:
    dir: Path = field(default_factory=paths.default_output_dir)
    formats: tuple[str, ...] = OUTPUT_FORMATS


@dataclass(frozen=True)
class TranscribeConfig:
    backend: str = "auto"
    model: str = "bundled"
    language: str | None = None  # None: detect
    translate: bool = False  # into English
    initial_prompt: str | None = None  # vocabulary hints: names, jargon
    vad: bool = False  # skip silence (backends that support it)
    word_timestamps: bool = False  # per-word start/end in the .json output
    beam_size: int = 5
    multilingual: bool = False  # detect the language of each segment (mixed recordings)
    threads: int = 0  # 0: all cores
    device: str = "auto"  # "auto": a CUDA GPU when CTranslate2 sees one, else the CPU
    compute_type: str = "auto"  # "auto": float16 on a GPU, int8 on a CPU
    batched: str | bool = "auto"  # faster-whisper's batched pipeline; "auto": on long audio
    batch_size: int = 8
    preload: bool = True  # load the model as soon as the daemon is up, not at the first job
    download: bool = True  # fetch a model named here that is not on disk yet
    unload_after: float = 600.0  # seconds idle before the model is freed
    fallback: bool = True  # a backend failing for its own reasons hands the job to the next
    models_dir: Path = field(default_factory=paths.default_models_dir)  # converted ggml files
    # OpenAI or any OpenAI-compatible server: used when backend = "openai", or by "auto" as a
    # last resort once api_base_url is set or the key's variable is present.
    api_base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"  # the *name* of the variable; the key is never stored
    api_model: str = "whisper-1"
    api_timeout: float = 600.0


@dataclass(frozen=True)
class DaemonConfig:
    database: Path = field(default_factory=paths.default_database_path)
    state_dir: Path = field(default_factory=paths.default_state_dir)
    socket: Path | None = None  # resolved in Config.socket_path
    log_level: str = "info"
    log_format: str = "text"  # or "json": one object per line, for log shippers
    stable_after: float = 2.0  # seconds a new file must stay unchanged before it is queued
    max_attempts: int = 3
    shutdown_grace: float = 10.0
    retry_backoff: float = 30.0


@dataclass(frozen=True)
class DownloadsConfig:
    dir: Path = field(default_factory=paths.default_media_dir)
    concurrency: int = 2  # downloads at once (they overlap with transcription)
    per_host: int = 2  # downloads and checks at once against one host
    timeout: float = 30.0  # network timeout; a stalled download is retried and resumed
    retries: int = 3  # yt-dlp's own retries inside one attempt
    format: str = "bestaudio/best"
    sleep_interval: float = 0.0  # yt-dlp: pause before each download
    sleep_requests: float = 0.0  # yt-dlp: pause between requests while listing
    keep_media: float | None = 7 * 86400.0  # None: forever; 0: delete once transcribed


@dataclass(frozen=True)
class InboxConfig:
    path: Path | None = None  # default: inbox.txt in the first watch folder
    enabled: bool = True


@dataclass(frozen=True)
class SubscriptionConfig:
    name: str
    url: str
    every: float | None = None  # seconds; default 6h when no cron is given
    cron: str | None = None
    backfill: int = 3
    since: float | None = None  # a timestamp: take items published after it on first check
    kind: str = "auto"  # "feed", "ytdlp" or "auto"

    @property
    def interval(self) -> float:
        return self.every or 6 * 3600.0


@dataclass(frozen=True)
class HooksConfig:
    on_done: tuple[str, ...] | None = None  # argv, run with the job as JSON on stdin
    on_fail: tuple[str, ...] | None = None
    webhook: str | None = None  # JSON POST for every finished or failed job
    notify: bool = False  # desktop notification (notify-send / osascript) when available
    timeout: float = 30.0

    @property
    def any(self) -> bool:
        return bool(self.on_done or self.on_fail or self.webhook or self.notify)


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    watch: tuple[WatchConfig, ...] = field(
        default_factory=lambda: (WatchConfig(paths.default_watch_dir()),)
    )
    downloads: DownloadsConfig = field(default_factory=DownloadsConfig)
    inbox: InboxConfig = field(default_factory=InboxConfig)
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    hooks: HooksConfig = field(default_factory=HooksConfig)

    @property
    def inbox_path(self) -> Path | None:
        if not self.inbox.enabled:
            return None
        if self.inbox.path:
            return self.inbox.path
        return self.watch[0].path / "inbox.txt" if self.watch else None

    def subscription(self, name: str) -> SubscriptionConfig | None:
        return next((s for s in self.subscriptions if s.name == name), None)

    @property
    def socket_path(self) -> Path:
        return self.daemon.socket or paths.default_socket_path(self.daemon.state_dir)

    @property
    def log_path(self) -> Path:
        return self.daemon.state_dir / "earwig.log"

    @property
    def lock_path(self) -> Path:
        return self.socket_path.with_name("earwig.lock")

    def output_dir_for(self, watch: WatchConfig | None) -> Path:
        return (watch.output_dir if watch and watch.output_dir else None) or self.output.dir


# ---------------------------------------------------------------- loading


def load(path: Path | None = None) -> Config:
    """Load the config at `path`, or the default location (missing default -> defaults)."""
    explicit = path is not None or bool(os.environ.get(paths.CONFIG_ENV))
    path = Path(path).expanduser() if path else paths.default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(
                f"config file {path} does not exist",
                "create it (`earwig config example` prints every option) "
                "or drop --config / EARWIG_CONFIG",
            )
        return Config(path=None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the syntax at that line") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse(data, path)


def socket_path_despite_errors(path: Path | None = None) -> Path:
    """The socket a config names even when the file is broken (a typo elsewhere), so that
    clients can still reach a daemon running on its last good config; else the default."""
    daemon = DaemonConfig()
    try:
        explicit = Path(path).expanduser() if path else paths.default_config_path()
        text = explicit.read_text(encoding="utf-8")
        try:
            raw = tomllib.loads(text).get("daemon", {})
        except tomllib.TOMLDecodeError:  # the mistake may be elsewhere: read [daemon] alone
            section = re.search(r"(?ms)^\[daemon\][ \t]*$(.*?)(?=^\s*\[|\Z)", text)
            raw = tomllib.loads(section.group(1)) if section else {}
        base = explicit.parent
        if isinstance(raw.get("socket"), str):
            return _path(raw["socket"], base)
        if isinstance(raw.get("state_dir"), str):
            daemon = DaemonConfig(state_dir=_path(raw["state_dir"], base))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError, ValueError):
        pass
    return Config(daemon=daemon).socket_path


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "config"
    base = path.parent if path else Path.cwd()
    _check_keys(
        data,
        {"daemon", "transcribe", "output", "watch", "downloads", "inbox", "subscription", "hooks"},
        where,
        "",
    )

    def section(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table", f"write it as [{name}]")
        return value

    daemon = _build(DaemonConfig, section("daemon"), DAEMON_SCHEMA, where, "daemon", base)
    transcribe = _build(
        TranscribeConfig, section("transcribe"), TRANSCRIBE_SCHEMA, where, "transcribe", base
    )
    output = _build(OutputConfig, section("output"), OUTPUT_SCHEMA, where, "output", base)
    watch_items = data.get("watch")
    if watch_items is None:
        watches: tuple[WatchConfig, ...] = (WatchConfig(paths.default_watch_dir()),)
    else:
        if not isinstance(watch_items, list):
            raise ConfigError(
                f"{where}: 'watch' must be an array of tables",
                'write each folder as [[watch]] with path = "..."',
            )
        built = []
        for i, item in enumerate(watch_items):
            label = f"watch[{i}]"
            if not isinstance(item, dict) or "path" not in item:
                raise ConfigError(
                    f"{where}: [[watch]] #{i + 1} needs a path", 'path = "~/Podcasts"'
                )
            built.append(_build(WatchConfig, item, WATCH_SCHEMA, where, label, base))
        watches = tuple(built)
    downloads = _build(
        DownloadsConfig, section("downloads"), DOWNLOADS_SCHEMA, where, "downloads", base
    )
    inbox = _build(InboxConfig, section("inbox"), INBOX_SCHEMA, where, "inbox", base)
    subs_raw = data.get("subscription", [])
    if not isinstance(subs_raw, list):
        raise ConfigError(
            f"{where}: 'subscription' must be an array of tables",
            'write each one as [[subscription]] with name = "..." and url = "..."',
        )
    subscriptions: list[SubscriptionConfig] = []
    for i, item in enumerate(subs_raw):
        if not isinstance(item, dict) or "url" not in item or "name" not in item:
            raise ConfigError(
                f"{where}: [[subscription]] #{i + 1} needs a name and a url",
                'name = "My podcast"\nurl = "https://example.org/feed.xml"',
            )
        sub = _build(
            SubscriptionConfig, item, SUBSCRIPTION_SCHEMA, where, f"subscription[{i}]", base
        )
        if sub.every is not None and sub.cron is not None:
            raise ConfigError(
                f"{where}: subscription {sub.name!r} has both every and cron", "keep one of them"
            )
        if any(s.name == sub.name for s in subscriptions):
            raise ConfigError(f"{where}: two subscriptions are named {sub.name!r}", "rename one")
        subscriptions.append(sub)
    hooks = _build(HooksConfig, section("hooks"), HOOKS_SCHEMA, where, "hooks", base)
    return Config(
        hooks=hooks,
        path=path,
        daemon=daemon,
        transcribe=transcribe,
        output=output,
        watch=watches,
        downloads=downloads,
        inbox=inbox,
        subscriptions=tuple(subscriptions),
    )


# ---------------------------------------------------------------- value converters

Converter = Callable[[Any, Path], Any]


def _path(value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("a path (string)")
    p = Path(os.path.expandvars(value)).expanduser()
    return p if p.is_absolute() else (base / p)


def _bool(value: Any, _: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _int(minimum: int) -> Converter:
    def conv(value: Any, _: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"a whole number >= {minimum}")
        return value

    return conv


def _choice(*choices: str) -> Converter:
    def conv(value: Any, _: Path) -> str:
        if value not in choices:
            raise ValueError("one of " + ", ".join(repr(c) for c in choices))
        return value

    return conv


def _str(value: Any, _: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty string")
    return value


def _language(value: Any, _: Path) -> str | None:
    from earwig.languages import check_language

    if not isinstance(value, str):
        raise ValueError('"auto" or a language code such as "en"')
    return check_language(value)


def _auto_or_bool(value: Any, _: Path) -> str | bool:
    if value == "auto" or isinstance(value, bool):
        return value
    raise ValueError('"auto", true or false')


def _duration(value: Any, _: Path) -> float:
    return parse_duration(value)


def _interval(value: Any, _: Path) -> float:
    seconds = parse_duration(value)
    if seconds < 60:
        raise ValueError('an interval of at least a minute, such as "30m", "6h" or "1d"')
    return seconds


def _str_list(allowed: tuple[str, ...] | None = None) -> Converter:
    def conv(value: Any, _: Path) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("a list of strings")
        if allowed is not None:
            bad = [v for v in value if v not in allowed]
            if bad or not value:
                raise ValueError("a non-empty list drawn from " + ", ".join(allowed))
        return tuple(value)

    return conv


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """'90', 90, '2s', '10m', '6h', '7d' -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    raise ValueError('a duration such as "30s", "10m", "6h" or "7d"')


def _keep(value: Any, _: Path) -> float | None:
    if value == "forever":
        return None
    if value == "none":
        return 0.0
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError('"forever", "none" or a duration such as "7d"') from None


def _url(value: Any, _: Path) -> str:
    from earwig.urls import is_url

    if not isinstance(value, str) or not is_url(value):
        raise ValueError("an http:// or https:// URL")
    return value


def _cron(value: Any, _: Path) -> str:
    if not isinstance(value, str) or len(value.split()) != 5:
        raise ValueError('a crontab line with five fields, such as "0 7 * * *"')
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValueError(f"a valid crontab line ({exc})") from None
    return value


def _date(value: Any, _: Path) -> float:
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    raise ValueError("a date such as 2026-01-31")


DAEMON_SCHEMA: dict[str, Converter] = {
    "database": _path,
    "state_dir": _path,
    "socket": _path,
    "log_level": _choice(*LOG_LEVELS),
    "log_format": _choice("text", "json"),
    "stable_after": _duration,
    "max_attempts": _int(1),
    "shutdown_grace": _duration,
    "retry_backoff": _duration,
}
TRANSCRIBE_SCHEMA: dict[str, Converter] = {
    "backend": _choice(*BACKENDS),
    "model": _str,
    "language": _language,
    "translate": _bool,
    "initial_prompt": _str,
    "vad": _bool,
    "word_timestamps": _bool,
    "beam_size": _int(1),
    "multilingual": _bool,
    "threads": _int(0),
    "device": _choice("auto", "cpu", "cuda"),
    "compute_type": _choice(*COMPUTE_TYPES),
    "batched": _auto_or_bool,
    "batch_size": _int(1),
    "preload": _bool,
    "download": _bool,
    "unload_after": _duration,
    "fallback": _bool,
    "models_dir": _path,
    "api_base_url": _url,
    "api_key_env": _str,
    "api_model": _str,
    "api_timeout": _duration,
}
OUTPUT_SCHEMA: dict[str, Converter] = {"dir": _path, "formats": _str_list(OUTPUT_FORMATS)}
DOWNLOADS_SCHEMA: dict[str, Converter] = {
    "dir": _path,
    "concurrency": _int(1),
    "per_host": _int(1),
    "timeout": _duration,
    "retries": _int(0),
    "format": _str,
    "sleep_interval": _duration,
    "sleep_requests": _duration,
    "keep_media": _keep,
}
INBOX_SCHEMA: dict[str, Converter] = {"path": _path, "enabled": _bool}


def _command(value: Any, _: Path) -> tuple[str, ...]:
    """A command as a list of arguments, or a string split like a shell would split it
    (shlex), but never run by a shell: no globbing, no variables, no pipes."""
    import shlex

    if isinstance(value, str) and value.strip():
        return tuple(shlex.split(value))
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError('a command: ["program", "arg", ...] or "program arg ..."')


HOOKS_SCHEMA: dict[str, Converter] = {
    "on_done": _command,
    "on_fail": _command,
    "webhook": _url,
    "notify": _bool,
    "timeout": _duration,
}
SUBSCRIPTION_SCHEMA: dict[str, Converter] = {
    "name": _str,
    "url": _url,
    "every": _interval,
    "cron": _cron,
    "backfill": _int(0),
    "since": _date,
    "kind": _choice("auto", "feed", "ytdlp"),
}
WATCH_SCHEMA: dict[str, Converter] = {
    "path": _path,
    "recursive": _bool,
    "ignore": _str_list(),
    "output_dir": _path,
}


def _check_keys(table: dict[str, Any], known: set[str], where: str, label: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            place = f"[{label}] " if label else ""
            raise ConfigError(
                f"{where}: unknown key {place}{key!r}",
                f"did you mean {close[0]!r}?"
                if close
                else "known keys: " + ", ".join(sorted(known)),
            )


def _build(
    cls: type, table: dict, schema: dict[str, Converter], where: str, label: str, base: Path
):
    _check_keys(table, set(schema), where, label)
    values = {}
    for key, raw in table.items():
        try:
            values[key] = schema[key](raw, base)
        except ValueError as exc:
            raise ConfigError(
                f"{where}: [{label}] {key} = {raw!r} is not valid",
                f"expected {exc}",
            ) from None
    return cls(**values)
