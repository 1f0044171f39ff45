"""The `[[media_server]]` tables: one per server or app that sends earwig webhooks.

A server earwig also talks back to (Jellyfin, Plex, Emby) has a `url` and, usually, the
*name* of the environment variable holding its API key (`token_env`): the key itself never
sits in the config file, the database, a log line or an answer. An app that only sends paths
(Sonarr, Radarr, Tautulli, Bazarr) needs a table only when it sees the library at other paths
than earwig does: then its `path_map` says how.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earwig.config import (
    SUBTITLE_FORMATS,
    _bool,
    _build,
    _choice,
    _duration,
    _str,
    _str_list,
    _url,
    opt,
    schema,
)
from earwig.errors import ConfigError

SERVERS = ("jellyfin", "plex", "emby")  # earwig asks these for paths and refreshes
SENDERS = ("sonarr", "radarr", "tautulli", "bazarr")  # these only send paths
KINDS = SERVERS + SENDERS
EVENTS = ("added", "play")
EXAMPLE_URLS = {
    "jellyfin": "http://jellyfin:8096",
    "emby": "http://emby:8096",
    "plex": "http://plex:32400",
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: Any, _: Path) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ValueError('the *name* of an environment variable, such as "JELLYFIN_API_KEY"')
    return value


def _clean(path: str) -> str:
    """A folder prefix without its trailing separators ("/" and "C:\\" stay)."""
    stripped = path.rstrip("/\\")
    if not stripped or re.fullmatch(r"[A-Za-z]:", stripped):
        return path[: len(stripped) + 1]
    return stripped


def _path_map(value: Any, base: Path) -> tuple[tuple[str, str], ...]:
    """`{ "/data/media" = "/media" }` or `[["/data/media", "/media"], ...]`: the path as the
    server (or app) names it, then the same folder as earwig sees it (absolute)."""
    expected = (
        'a table { "/path/on/the/server" = "/path/here" } or a list of pairs '
        '[["/path/on/the/server", "/path/here"], ...]'
    )
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        pairs = [(p[0], p[1]) for p in value]
    else:
        raise ValueError(expected)
    built = []
    for theirs, ours in pairs:
        if not isinstance(theirs, str) or not isinstance(ours, str) or not theirs or not ours:
            raise ValueError(expected)
        here = Path(ours).expanduser()
        if not here.is_absolute():
            raise ValueError(f"an absolute path on earwig's side ({ours!r} is relative)")
        built.append((_clean(theirs), _clean(str(here))))
    return tuple(built)


@dataclass(frozen=True)
class MediaServerConfig:
    """One `[[media_server]]` table."""

    kind: str = opt("", _choice(*KINDS))
    name: str | None = opt(None, _str)  # default: the kind; each name once
    url: str | None = opt(None, _url)  # Jellyfin, Plex, Emby: where earwig reaches it
    token_env: str | None = opt(None, _env_name)  # the variable holding its API key
    path_map: tuple[tuple[str, str], ...] = opt((), _path_map)  # (theirs, ours), in order
    events: tuple[str, ...] = opt(EVENTS, _str_list(EVENTS))  # which events make jobs
    refresh: bool = opt(True, _bool)  # ask the server to look once subtitles are written
    refresh_delay: float = opt(15.0, _duration)  # gather a batch this long; the least gap
    subtitles: tuple[str, ...] = opt(("srt",), _str_list(SUBTITLE_FORMATS))

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def talks_back(self) -> bool:
        """A server earwig asks for paths and refreshes (not an app that only sends)."""
        return self.kind in SERVERS


MEDIA_SERVER_SCHEMA = schema(MediaServerConfig)


def parse_media_servers(value: Any, where: str, base: Path) -> tuple[MediaServerConfig, ...]:
    """The `[[media_server]]` array, each table checked, or a ConfigError that says which."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(
            f"{where}: 'media_server' must be an array of tables",
            'write each one as [[media_server]] with kind = "jellyfin" and url = "..."',
        )
    built: list[MediaServerConfig] = []
    for i, item in enumerate(value):
        label = f"media_server[{i}]"
        if "kind" not in item:
            raise ConfigError(
                f"{where}: [[media_server]] #{i + 1} needs a kind",
                "kind = " + " | ".join(f'"{k}"' for k in KINDS),
            )
        server = _build(MediaServerConfig, item, MEDIA_SERVER_SCHEMA, where, label, base)
        if server.talks_back and not server.url:
            raise ConfigError(
                f"{where}: [[media_server]] {server.label} ({server.kind}) needs a url",
                f'url = "{EXAMPLE_URLS[server.kind]}" (where earwig reaches it)',
            )
        if not server.talks_back and (server.url or server.token_env):
            raise ConfigError(
                f"{where}: [[media_server]] {server.label}: earwig never calls {server.kind}",
                "remove url and token_env; such a table holds only path_map and events",
            )
        if any(s.label == server.label for s in built):
            raise ConfigError(
                f"{where}: two [[media_server]] tables are named {server.label!r}",
                'give one a name = "..."',
            )
        built.append(server)
    return tuple(built)
