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
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earwig import paths
from earwig.durations import parse_date, parse_duration
from earwig.errors import ConfigError

if TYPE_CHECKING:
    from earwig.mediaservers.config import MediaServerConfig

OUTPUT_FORMATS = ("txt", "srt", "vtt", "tsv", "json")  # the default set
FORMATS = (*OUTPUT_FORMATS, "md")  # every format there is: md, notes, is asked for
DEFAULT_IGNORE = (".*", "*.part", "*.crdownload", "*.tmp", "~$*", "*.ytdl")
BACKENDS = ("auto", "mlx-whisper", "whisper.cpp", "faster-whisper", "openai")
LOG_LEVELS = ("debug", "info", "warning", "error")
COMPUTE_TYPES = (
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
    "default",
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


def _speakers(value: Any, _: Path) -> str | int:
    if value in ("off", "auto"):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 20:
        return value
    raise ValueError('"off", "auto", or how many speakers there are (1 to 20)')


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
    return parse_date(value)


def _command(value: Any, _: Path) -> tuple[str, ...]:
    """A command as a list of arguments, or a string split like a shell would split it
    (shlex), but never run by a shell: no globbing, no variables, no pipes."""
    import shlex

    if isinstance(value, str) and value.strip():
        return tuple(shlex.split(value))
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError('a command: ["program", "arg", ...] or "program arg ..."')


def opt(default: Any, convert: Converter, *, restart: bool = False) -> Any:
    """A config key, declared once: its default, how its TOML value is checked and
    converted, and whether a running daemon needs a restart to apply a change to it (it is
    read once at start-up) or applies it at the next reload (`earwig config edit`, SIGHUP)."""
    meta = {"convert": convert, "restart": restart}
    if callable(default) and not isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def schema(cls: type) -> dict[str, Converter]:
    """The keys of a section and their converters, from the dataclass itself."""
    return {f.name: f.metadata["convert"] for f in fields(cls) if "convert" in f.metadata}


@dataclass(frozen=True)
class ServerConfig:
    """An OpenAI-compatible speech server the queue may send jobs to ([[transcribe.servers]]):
    speaches, vLLM, whisper.cpp's server, OpenAI itself."""

    url: str = opt("", _url)  # the API base, e.g. http://gpu-box:8000/v1
    model: str = opt("whisper-1", _str)  # the model name the server knows
    concurrency: int = opt(1, _int(1))  # requests it takes at once
    api_key_env: str | None = opt(None, _str)  # the *name* of the variable holding its key
    name: str | None = opt(None, _str)  # default: the server's host:port
    priority: int = opt(0, _int(0))  # higher first when several slots are free
    timeout: float = opt(600.0, _duration)  # seconds one request may take

    @property
    def label(self) -> str:
        from urllib.parse import urlsplit

        if self.name:
            return self.name
        parts = urlsplit(self.url)
        return (parts.hostname or "server") + (f":{parts.port}" if parts.port else "")


def _servers(value: Any, base: Path) -> tuple[ServerConfig, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError('an array of tables: [[transcribe.servers]] with url = "..."')
    built = []
    for i, item in enumerate(value):
        if "url" not in item:
            raise ValueError(f'a url in server #{i + 1}: url = "http://host:8000/v1"')
        built.append(
            _build(
                ServerConfig, item, schema(ServerConfig), "config", f"transcribe.servers[{i}]", base
            )
        )
    labels = [s.label for s in built]
    if len(set(labels)) != len(labels):
        raise ValueError("servers with distinct names (give each a name = ...)")
    return tuple(built)


SUBTITLE_FORMATS = ("srt", "vtt")


def _float(low: float, high: float) -> Converter:
    def conv(value: Any, _: Path) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValueError(f"a number from {low:g} to {high:g}")
        return float(value)

    return conv


def _languages(value: Any, _: Path) -> tuple[str, ...]:
    """Languages to translate into: Whisper's codes such as "de" (a name is refused with the
    code to write, as everywhere else)."""
    from earwig.languages import check_language

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('a list of language codes such as ["de", "fr"]')
    codes = []
    for item in value:
        code = check_language(item)
        if code is None:
            raise ValueError('language codes such as ["de", "fr"] ("auto" is none)')
        codes.append(code)
    return tuple(dict.fromkeys(codes))


@dataclass(frozen=True)
class WatchConfig:
    path: Path = opt(paths.default_watch_dir, _path)
    recursive: bool = opt(True, _bool)
    ignore: tuple[str, ...] = opt(DEFAULT_IGNORE, _str_list())
    output_dir: Path | None = opt(None, _path)  # defaults to [output] dir
    # "beside": subtitles next to each media file (Movie.en.srt), for media servers;
    # "folder": transcripts in output_dir (or [output] dir)
    output: str = opt("folder", _choice("folder", "beside"))
    subtitles: tuple[str, ...] = opt(("srt",), _str_list(SUBTITLE_FORMATS))  # for "beside"
    skip_if_subtitled: bool = opt(True, _bool)  # "beside": leave files that have subtitles
    # What [llm] makes of this folder's transcripts (None: as [llm] says)
    summary: bool | None = opt(None, _bool)
    chapters: bool | None = opt(None, _bool)
    translate_to: tuple[str, ...] | None = opt(None, _languages)
    prompt: str | None = opt(None, _str)


def _mode(value: Any, _: Path) -> int:
    """Permission bits: "0644" (octal, as chmod takes them) or a TOML octal number (0o644)."""
    expected = 'permissions in octal such as "0644" or "0640", keeping 0600 for earwig itself'
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3}", value.strip()):
        value = int(value, 8)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise ValueError(expected)
    if value & 0o600 != 0o600:  # earwig reads its own .json back (names, renames)
        raise ValueError(expected)
    return value


@dataclass(frozen=True)
class OutputConfig:
    dir: Path = opt(paths.default_output_dir, _path)
    formats: tuple[str, ...] = opt(OUTPUT_FORMATS, _str_list(FORMATS))
    # Transcripts' and subtitles' permissions; None: 0666 less the umask, as for any new file
    mode: int | None = opt(None, _mode)
    # subtitle cues (srt, vtt; earwig/cues.py): characters a line (CJK counts 2), lines a cue
    line_width: int = opt(42, _int(10))
    lines: int = opt(2, _int(1))

    def cue_rules(self) -> Any:
        """The cue rules these settings make (a cues.Rules; imported only when needed)."""
        from earwig.cues import Rules

        return Rules(line_width=self.line_width, lines=self.lines)


# [transcribe] builds the backend once, at start-up: a change needs a restart, except for
# the two keys the daemon reads each time (when to unload an idle model, whether to preload).
@dataclass(frozen=True)
class TranscribeConfig:
    backend: str = opt("auto", _choice(*BACKENDS), restart=True)
    model: str = opt("bundled", _str, restart=True)
    language: str | None = opt(None, _language, restart=True)  # None: detect
    translate: bool = opt(False, _bool, restart=True)  # into English
    initial_prompt: str | None = opt(None, _str, restart=True)  # vocabulary hints
    vad: bool = opt(False, _bool, restart=True)  # skip silence (backends that support it)
    word_timestamps: bool = opt(False, _bool, restart=True)  # per-word times in the .json
    beam_size: int = opt(5, _int(1), restart=True)
    # find every language spoken, each stretch transcribed in its own (multilingual models);
    # false: one language for the whole file, detected from its first 30 s or `language`
    multilingual: bool = opt(True, _bool, restart=True)
    threads: int = opt(0, _int(0), restart=True)  # 0: all cores
    speakers: str | int = opt("off", _speakers, restart=True)  # "off", "auto" or how many
    voices: str = opt("same-source", _choice("same-source", "everywhere"), restart=True)
    device: str = opt("auto", _choice("auto", "cpu", "cuda"), restart=True)  # auto: a GPU if any
    compute_type: str = opt("auto", _choice(*COMPUTE_TYPES), restart=True)  # float16/int8
    batched: str | bool = opt("auto", _auto_or_bool, restart=True)  # "auto": on long audio
    batch_size: int = opt(8, _int(1), restart=True)
    # short jobs share the engine's batches (daemon/lane.py): how long a batch may wait for
    # more short jobs on their way (never when none is coming)
    gather: float = opt(0.3, _duration, restart=True)
    preload: bool = opt(True, _bool)  # load the model as soon as the daemon is up
    download: bool = opt(True, _bool, restart=True)  # fetch a named model not on disk yet
    unload_after: float = opt(600.0, _duration)  # seconds idle before the model is freed
    fallback: bool = opt(True, _bool, restart=True)  # a failing backend hands over the job
    models_dir: Path = opt(paths.default_models_dir, _path, restart=True)  # converted ggml
    # OpenAI or any OpenAI-compatible server: used when backend = "openai", or by "auto" as a
    # last resort once api_base_url is set or the key's variable is present.
    api_base_url: str | None = opt(None, _url, restart=True)
    api_key_env: str = opt("OPENAI_API_KEY", _str, restart=True)  # the variable's *name*
    api_model: str = opt("whisper-1", _str, restart=True)
    api_timeout: float = opt(600.0, _duration, restart=True)
    # The pool: transcriptions at once on this machine (0: none, the servers do the work),
    # and OpenAI-compatible servers that take jobs from the same queue.
    workers: int = opt(1, _int(0), restart=True)
    servers: tuple[ServerConfig, ...] = opt((), _servers, restart=True)


@dataclass(frozen=True)
class DaemonConfig:
    database: Path = opt(paths.default_database_path, _path, restart=True)
    state_dir: Path = opt(paths.default_state_dir, _path, restart=True)
    socket: Path | None = opt(None, _path, restart=True)  # resolved in Config.socket_path
    log_level: str = opt("info", _choice(*LOG_LEVELS), restart=True)
    log_format: str = opt("text", _choice("text", "json"), restart=True)  # or one JSON a line
    stable_after: float = opt(2.0, _duration)  # seconds a new file must stay unchanged
    max_attempts: int = opt(3, _int(1))
    shutdown_grace: float = opt(10.0, _duration)
    retry_backoff: float = opt(30.0, _duration)


@dataclass(frozen=True)
class DownloadsConfig:
    dir: Path = opt(paths.default_media_dir, _path)
    concurrency: int = opt(2, _int(1), restart=True)  # downloads at once (workers start once)
    per_host: int = opt(2, _int(1))  # downloads and checks at once against one host
    timeout: float = opt(30.0, _duration)  # network timeout; a stalled download is resumed
    retries: int = opt(3, _int(0))  # yt-dlp's own retries inside one attempt
    format: str = opt("bestaudio/best", _str)
    sleep_interval: float = opt(0.0, _duration)  # yt-dlp: pause before each download
    sleep_requests: float = opt(0.0, _duration)  # yt-dlp: pause between listing requests
    keep_media: float | None = opt(7 * 86400.0, _keep)  # None: forever; 0: once transcribed


@dataclass(frozen=True)
class InboxConfig:
    path: Path | None = opt(None, _path)  # default: inbox.txt in the first watch folder
    enabled: bool = opt(True, _bool)


TRANSCRIPT_MODES = ("publisher-first", "always-transcribe", "both")


@dataclass(frozen=True)
class SubscriptionConfig:
    name: str = opt("", _str)
    url: str = opt("", _url)
    every: float | None = opt(None, _interval)  # seconds; default 6h when no cron is given
    cron: str | None = opt(None, _cron)
    backfill: int = opt(3, _int(0))
    since: float | None = opt(None, _date)  # take items published after it on first check
    kind: str = opt("auto", _choice("auto", "feed", "ytdlp"))
    # A feed item's own <podcast:transcript>: taken instead of transcribing, never, or saved
    # beside earwig's transcript (NAME.publisher.*)
    transcripts: str = opt("publisher-first", _choice(*TRANSCRIPT_MODES))
    # the language its episodes speak: a hint (with [transcribe] multilingual, the audio can
    # overrule it, with a warning); None: [transcribe] language
    language: str | None = opt(None, _language)
    # What [llm] makes of its episodes' transcripts (None: as [llm] says)
    summary: bool | None = opt(None, _bool)
    chapters: bool | None = opt(None, _bool)
    translate_to: tuple[str, ...] | None = opt(None, _languages)
    prompt: str | None = opt(None, _str)
    # added by a client of the HTTP server: its feed and episodes are fetched by the rules
    # for such clients (earwig/reach.py: public addresses only, unless [http] allows more)
    added_over_http: bool = opt(False, _bool)

    @property
    def interval(self) -> float:
        return self.every or 6 * 3600.0


@dataclass(frozen=True)
class HooksConfig:
    on_done: tuple[str, ...] | None = opt(None, _command)  # argv, the job as JSON on stdin
    on_fail: tuple[str, ...] | None = opt(None, _command)
    webhook: str | None = opt(None, _url)  # JSON POST for every finished or failed job
    notify: bool = opt(False, _bool)  # desktop notification (notify-send / osascript)
    timeout: float = opt(30.0, _duration)

    @property
    def any(self) -> bool:
        return bool(self.on_done or self.on_fail or self.webhook or self.notify)


DEFAULT_PORT = 8327  # "EAR" on a phone's keypad after an 8; see docs/http.md for why this one


def _listen(value: Any, _: Path) -> str:
    """`host:port` ("[::1]:8327" for IPv6; port 0: the OS picks one), or "" for no server."""
    if value == "":
        return ""
    split_listen(value)  # raises ValueError with what was expected
    return str(value)


def split_listen(value: Any) -> tuple[str, int]:
    """("127.0.0.1", 8327) from "127.0.0.1:8327"; ValueError says what is expected."""
    expected = 'an address and port such as "127.0.0.1:8327" (port 0: any free one), or ""'
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(expected)
    host, _, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(expected)
    return host, int(port)


def _networks(value: Any, _: Path) -> tuple[str, ...]:
    import ipaddress

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('a list of networks such as ["192.168.1.0/24", "10.0.0.5"]')
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f'networks such as "192.168.1.0/24" ({item!r} is none)') from None
    return tuple(value)


def _paths(value: Any, base: Path) -> tuple[Path, ...]:
    if not isinstance(value, list):
        raise ValueError('a list of folders such as ["/srv/media"]')
    return tuple(_path(item, base) for item in value)


def _size(value: Any, _: Path) -> int:
    """Bytes: a whole number, or "2GB", "500MB", "64KB" (powers of 1000, as disks count)."""
    units = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if isinstance(value, str) and match and match.group(2).lower() in units:
        number = int(float(match.group(1)) * units[match.group(2).lower()])
        if number > 0:
            return number
    raise ValueError('a size such as "2GB", "500MB", or a number of bytes')


@dataclass(frozen=True)
class HttpConfig:
    """The HTTP server: earwig's own API, the OpenAI-compatible and the
    whisper-asr-webservice-compatible doors, and the web page (docs/http.md)."""

    listen: str = opt(f"127.0.0.1:{DEFAULT_PORT}", _listen, restart=True)  # "": no server
    trust: tuple[str, ...] = opt((), _networks)  # clients from these need no token
    hosts: tuple[str, ...] = opt((), _str_list())  # more names the Host header may carry
    cors: tuple[str, ...] = opt((), _str_list())  # origins whose pages may call the API
    max_upload: int = opt(2 * 10**9, _size)  # bytes one request may upload
    keep: bool = opt(True, _bool)  # API transcripts stay in the history and search
    # What clients of this server may make earwig fetch or read (earwig/reach.py): URLs to
    # these networks although they are private or loopback, and files under these folders
    private_networks: tuple[str, ...] = opt((), _networks)
    folders: tuple[Path, ...] = opt((), _paths)
    # reverse proxies in front of earwig: only from these is X-Forwarded-For believed
    proxies: tuple[str, ...] = opt((), _networks)


@dataclass(frozen=True)
class LlmConfig:
    """A chat model for what follows a transcript (docs/llm.md): any OpenAI-compatible
    endpoint (Ollama, llama.cpp's llama-server, vLLM, LM Studio, a hosted API). Off unless
    base_url and model are set; then summary, chapters, translate_to and prompt here are
    what every job gets, and each [[watch]] or [[subscription]] may say otherwise."""

    base_url: str | None = opt(None, _url)  # the API base, e.g. http://127.0.0.1:11434/v1
    model: str | None = opt(None, _str)  # the model name the endpoint knows
    api_key_env: str | None = opt(None, _str)  # the *name* of the variable holding its key
    timeout: float = opt(300.0, _duration)  # seconds one call may take
    max_input_chars: int = opt(12_000, _int(500))  # longer transcripts go through map-reduce
    temperature: float = opt(0.2, _float(0.0, 2.0))
    max_calls_per_hour: int = opt(0, _int(0))  # 0: no cap; over it, calls wait their turn
    summary: bool = opt(True, _bool)  # a summary and a title
    chapters: bool = opt(True, _bool)  # chapters (a publisher's own win)
    translate_to: tuple[str, ...] = opt((), _languages)  # subtitles in these languages too
    prompt: str | None = opt(None, _str)  # what to write instead of the default summary

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


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
    http: HttpConfig = field(default_factory=HttpConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)  # [llm]: summaries, translations
    media_servers: tuple[MediaServerConfig, ...] = ()  # [[media_server]]: mediaservers/

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
    return parse(*_read(path))


def problems(path: Path | None = None) -> list[ConfigError]:
    """Every mistake `load` would refuse, not only the first: a key's problem is noted, the
    key left out, and the rest read again; a problem of no single key (bad TOML, a missing
    path) ends the list."""
    try:
        data, where = _read(path)
    except ConfigError as exc:
        return [exc]
    found: list[ConfigError] = []
    while True:
        try:
            parse(data, where)
            return found
        except ConfigError as exc:
            found.append(exc)
            if exc.place is None or not _leave_out(data, exc.place):
                return found


def _leave_out(data: dict[str, Any], place: tuple[str, str]) -> bool:
    """Drop the key at `place` (its table given as "", "transcribe" or "watch[0]")."""
    label, key = place
    table: Any = data
    if label:
        name, _, index = label.partition("[")
        table = data.get(name)
        if index and isinstance(table, list):
            table = table[int(index.rstrip("]"))]
    if isinstance(table, dict) and key in table:
        del table[key]
        return True
    return False


def _read(path: Path | None) -> tuple[dict[str, Any], Path | None]:
    """The file's tables with the environment's over them, and the file (None: defaults)."""
    explicit = path is not None or bool(os.environ.get(paths.CONFIG_ENV))
    path = Path(path).expanduser() if path else paths.default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(
                f"config file {path} does not exist",
                "create it (`earwig config example` prints every option) "
                "or drop --config / EARWIG_CONFIG",
            )
        return with_environment({}, Path.cwd()), None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the syntax at that line") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return with_environment(data, path.parent), path


def with_environment(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """The file's tables with every EARWIG_<SECTION>_<KEY> variable set over them."""
    from earwig import config_env

    merged = dict(data)
    for section, values in config_env.overrides(os.environ, SECTIONS, base).items():
        table = merged.get(section, {})
        merged[section] = {**table, **values} if isinstance(table, dict) else table
    return merged


def socket_path_despite_errors(path: Path | None = None) -> Path:
    """The socket a config names even when the file is broken (a typo elsewhere), so that
    clients can still reach a daemon running on its last good config; else the default."""
    from earwig import config_env

    daemon = DaemonConfig()
    explicit = Path(path).expanduser() if path else paths.default_config_path()
    base = explicit.parent
    raw: Any = {}
    try:
        text = explicit.read_text(encoding="utf-8")
        try:
            raw = tomllib.loads(text).get("daemon", {})
        except tomllib.TOMLDecodeError:  # the mistake may be elsewhere: read [daemon] alone
            section = re.search(r"(?ms)^\[daemon\][ \t]*$(.*?)(?=^\s*\[|\Z)", text)
            raw = tomllib.loads(section.group(1)) if section else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        pass
    try:
        env = config_env.overrides(os.environ, {"daemon": DaemonConfig}, base)
        raw = {**(raw if isinstance(raw, dict) else {}), **env.get("daemon", {})}
        if isinstance(raw.get("socket"), str):
            return _path(raw["socket"], base)
        if isinstance(raw.get("state_dir"), str):
            daemon = DaemonConfig(state_dir=_path(raw["state_dir"], base))
    except (ConfigError, ValueError):
        pass
    return Config(daemon=daemon).socket_path


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "config"
    base = path.parent if path else Path.cwd()
    _check_keys(data, {*SECTIONS, *ARRAYS}, where, "")

    def section(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table", f"write it as [{name}]")
        return value

    tables = {
        name: _build(cls, section(name), schema(cls), where, name, base)
        for name, cls in SECTIONS.items()
    }
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
            watch = _build(WatchConfig, item, schema(WatchConfig), where, label, base)
            if watch.output == "beside" and watch.output_dir is not None:
                raise ConfigError(
                    f'{where}: [[watch]] {watch.path} has output = "beside" and an output_dir',
                    "subtitles beside the media need no output_dir: remove one of the two",
                )
            built.append(watch)
        watches = tuple(built)
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
            SubscriptionConfig, item, schema(SubscriptionConfig), where, f"subscription[{i}]", base
        )
        if sub.every is not None and sub.cron is not None:
            raise ConfigError(
                f"{where}: subscription {sub.name!r} has both every and cron", "keep one of them"
            )
        if any(s.name == sub.name for s in subscriptions):
            raise ConfigError(f"{where}: two subscriptions are named {sub.name!r}", "rename one")
        subscriptions.append(sub)
    from earwig.mediaservers.config import parse_media_servers

    media_servers = parse_media_servers(data.get("media_server", []), where, base)
    _check_llm(tables["llm"], [*watches, *subscriptions], where)
    transcribe = tables["transcribe"]
    if transcribe.workers == 0 and not transcribe.servers:
        raise ConfigError(
            f"{where}: [transcribe] workers = 0 and no [[transcribe.servers]]: nothing would "
            "transcribe",
            'set workers = 1, or add a server: [[transcribe.servers]] url = "http://host:8000/v1"',
        )
    return Config(
        path=path,
        watch=watches,
        subscriptions=tuple(subscriptions),
        media_servers=media_servers,
        **tables,
    )


# The sections, listed once: each field of Config whose value is a section's dataclass is a
# [table] of that name (a new section is a dataclass and a field of Config, nothing else)
def _sections() -> dict[str, type]:
    found: dict[str, type] = {}
    for f in fields(Config):
        factory = f.default_factory
        if isinstance(factory, type) and is_dataclass(factory):
            found[f.name] = factory
    return found


SECTIONS = _sections()
ARRAYS = ("watch", "subscription", "media_server")  # the arrays of tables, parsed one by one


def _check_llm(llm: LlmConfig, sources: list[WatchConfig | SubscriptionConfig], where: str) -> None:
    """A folder or feed that asks for a summary or a translation needs a model to ask."""
    if llm.enabled:
        return
    if llm.base_url or llm.model:
        missing = "model" if llm.base_url else "base_url"
        raise ConfigError(
            f"{where}: [llm] has no {missing}",
            'set both, e.g. base_url = "http://127.0.0.1:11434/v1" and model = "llama3.2"',
        )
    for source in sources:
        if source.summary or source.chapters or source.translate_to or source.prompt:
            name = source.path if isinstance(source, WatchConfig) else source.name
            raise ConfigError(
                f"{where}: {name} asks for a summary or a translation, and [llm] is not set",
                "add [llm] with base_url and model (docs/llm.md), or remove summary, chapters, "
                "translate_to and prompt there",
            )


def _check_keys(table: dict[str, Any], known: set[str], where: str, label: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            place = f"[{label}] " if label else ""
            unknown = ConfigError(
                f"{where}: unknown key {place}{key!r}",
                f"did you mean {close[0]!r}?"
                if close
                else "known keys: " + ", ".join(sorted(known)),
            )
            unknown.place = (label, key)
            raise unknown


def _build(
    cls: type, table: dict, schema: dict[str, Converter], where: str, label: str, base: Path
):
    _check_keys(table, set(schema), where, label)
    values = {}
    for key, raw in table.items():
        try:
            values[key] = schema[key](raw, base)
        except ValueError as exc:
            wrong = ConfigError(
                f"{where}: [{label}] {key} = {raw!r} is not valid", f"expected {exc}"
            )
            wrong.place = (label, key)
            raise wrong from None
    return cls(**values)
