"""The servers' own APIs, as each documents them: who is there, an item's path, the library
folders, and a refresh. httpx, one short deadline per call, no redirects followed (a server
that answers with a redirect is reported, not chased to wherever it points).

- Jellyfin (jellyfin/jellyfin's controllers): `Authorization: MediaBrowser ... Token="KEY"`
  (10.11 refuses `X-Emby-Token` unless legacy authorization is on); `GET /System/Info`;
  `GET /Users` for an administrator, then `GET /Items/{id}?userId=` for its `Path`;
  `GET /Library/VirtualFolders` (`Locations`); refresh `POST /Items/{id}/Refresh` with
  `metadataRefreshMode=Default` (its provider notices changed external subtitle files and
  probes again; the default mode, None, would do nothing) or `POST /Library/Media/Updated`
  `{"Updates": [{"Path", "UpdateType"}]}` (its library monitor refreshes the item at each
  path, after its own short delay, and merges paths in one folder).
- Emby (its OpenAPI description): `X-Emby-Token: KEY`; the same refresh calls;
  `GET /Users/{user}/Items/{id}` for a path its webhook did not carry.
- Plex: `X-Plex-Token: KEY` as a header (never in the URL, where logs keep it) and
  `Accept: application/json`; `GET /identity`; `GET /library/metadata/{ratingKey}`
  (`Metadata[0].Media[0].Part[0].file`); `GET /library/sections` (`Directory[].Location[]`);
  refresh `PUT /library/metadata/{ratingKey}/refresh` (python-plexapi: what to call after
  adding "local media assets" such as subtitle files) or the partial scan Sonarr asks for,
  `GET /library/sections/{id}/refresh?path=FOLDER`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from earwig import __version__
from earwig.mediaservers.config import MediaServerConfig
from earwig.mediaservers.paths import windowsy

if TYPE_CHECKING:
    import httpx

TIMEOUT, CONNECT_TIMEOUT = 15.0, 5.0  # seconds: one call's deadline, and to connect
ONE_BY_ONE = 3  # up to this many items are refreshed one call each; more, by folder or path
NAMES = {"jellyfin": "Jellyfin", "plex": "Plex", "emby": "Emby"}


class ServerProblem(Exception):
    """A server that could not be asked: one sentence for the job, the log and status, never
    the key. `permanent`: asking again will not help (a refused key, an unknown item)."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status


@dataclass(frozen=True)
class Target:
    """One media file to look at again: its path as the server names it, and its id there
    when the event that brought it said."""

    path: str
    item: str | None = None


@dataclass(frozen=True)
class Call:
    """One request of a refresh, planned before it is made (tests and the log read these)."""

    method: str
    path: str  # below the server's URL, with its query
    body: dict[str, Any] | None = None
    covers: tuple[str, ...] = ()  # the media paths this call is for

    def describe(self) -> str:
        return f"{self.method} {self.path.split('?')[0]}"


@dataclass(frozen=True)
class Library:
    name: str
    locations: tuple[str, ...]  # as the server names them
    key: str | None = None  # Plex's section id


def shown(url: str) -> str:
    """The server's address for messages: scheme, host and port, nothing else."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def folder_of(path: str) -> str:
    """The folder a file lies in, in the server's own spelling."""
    if windowsy(path):
        return path.replace("/", "\\").rpartition("\\")[0] or path
    return path.rpartition("/")[0] or "/"


def inside(path: str, folder: str) -> bool:
    """Whether a server's path lies in one of its folders (Windows: any case, any slash)."""
    if windowsy(folder) or windowsy(path):
        p, f = path.replace("\\", "/").lower(), folder.replace("\\", "/").lower().rstrip("/")
    else:
        p, f = path, folder.rstrip("/")
    return p == f or p.startswith(f + "/")


@dataclass
class Client:
    """One configured server, asked through the daemon's one httpx client."""

    config: MediaServerConfig
    http: httpx.AsyncClient
    _admin: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return NAMES.get(self.config.kind, self.config.kind)

    @property
    def where(self) -> str:
        return f"{self.name} at {shown(self.config.url or '')}"

    def key(self) -> str | None:
        """The API key, from the environment each time (a restart with a new key applies)."""
        env = self.config.token_env
        if env is None:
            return None
        value = os.environ.get(env)
        if not value:
            raise ServerProblem(
                f"{env} is not set in earwig's environment: {self.name} needs its API key there",
                permanent=True,
            )
        return value

    def headers(self) -> dict[str, str]:
        key = self.key()
        kind = self.config.kind
        headers = {"Accept": "application/json", "User-Agent": f"earwig/{__version__}"}
        if kind == "plex":
            headers |= {"X-Plex-Product": "earwig", "X-Plex-Client-Identifier": "earwig"}
            if key:
                headers["X-Plex-Token"] = key
        elif kind == "emby":
            if key:
                headers["X-Emby-Token"] = key
        elif key:
            headers["Authorization"] = (
                f'MediaBrowser Client="earwig", Device="earwig", DeviceId="earwig", '
                f'Version="{__version__}", Token="{key}"'
            )
        return headers

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; the JSON answer (or None); ServerProblem with a sentence otherwise."""
        import httpx  # only a daemon with media servers pays for it

        url = (self.config.url or "").rstrip("/") + path
        timeout = httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT)
        try:
            response = await self.http.request(
                method, url, headers=self.headers(), json=body, timeout=timeout
            )
        except httpx.TimeoutException:
            raise ServerProblem(f"{self.where} did not answer in time") from None
        except httpx.HTTPError as exc:
            why = str(exc) or type(exc).__name__
            raise ServerProblem(f"cannot reach {self.where}: {why}") from None
        status = response.status_code
        if status in (401, 403):
            env = self.config.token_env
            fix = f"check the key in {env}" if env else "set token_env to the variable holding it"
            raise ServerProblem(
                f"{self.name} refused earwig's key ({status}): {fix}", permanent=True, status=status
            )
        if status == 404:
            raise ServerProblem(
                f"{self.name} has no {path.split('?')[0]} (404)", permanent=True, status=status
            )
        if 300 <= status < 400:
            raise ServerProblem(
                f"{self.where} answered with a redirect ({status}): give its final URL as url",
                permanent=True,
                status=status,
            )
        if status >= 400:
            raise ServerProblem(
                f"{self.where} answered {status} to {method} {path.split('?')[0]}",
                permanent=status < 500,
                status=status,
            )
        if not response.content or "json" not in response.headers.get("content-type", ""):
            return None
        try:
            return response.json()
        except ValueError:
            raise ServerProblem(f"{self.where} answered {path} with broken JSON") from None

    # ------------------------------------------------------------ questions

    async def check(self) -> str:
        """Who answers, with the key: "Jellyfin 10.11.0 (living-room)"; ServerProblem else."""
        if self.config.kind == "plex":
            identity = await self.call("GET", "/identity")
            await self.call("GET", "/library/sections")  # /identity needs no key: this does
            version = _dig(identity, "MediaContainer", "version")
            return f"Plex {version}" if version else "Plex"
        info = await self.call("GET", "/System/Info")
        version, server = _dig(info, "Version"), _dig(info, "ServerName")
        return " ".join(str(x) for x in (self.name, version, f"({server})" if server else "") if x)

    async def libraries(self) -> list[Library]:
        if self.config.kind == "plex":
            doc = await self.call("GET", "/library/sections")
            found = []
            for d in _dig(doc, "MediaContainer", "Directory") or []:
                places = tuple(
                    loc["path"]
                    for loc in d.get("Location") or []
                    if isinstance(loc, dict) and isinstance(loc.get("path"), str)
                )
                found.append(Library(str(d.get("title") or ""), places, str(d.get("key"))))
            return found
        doc = await self.call("GET", "/Library/VirtualFolders")
        return [
            Library(
                str(f.get("Name") or ""),
                tuple(p for p in f.get("Locations") or [] if isinstance(p, str)),
            )
            for f in doc or []
            if isinstance(f, dict)
        ]

    async def item_path(self, item: str) -> str:
        """The file of the item a webhook named (its id, checked by payloads.py)."""
        quoted = quote(item, safe="")
        if self.config.kind == "plex":
            doc = await self.call("GET", f"/library/metadata/{quoted}")
            path = _dig(doc, "MediaContainer", "Metadata", 0, "Media", 0, "Part", 0, "file")
        else:
            admin = await self._administrator()
            if self.config.kind == "emby":
                doc = await self.call("GET", f"/Users/{admin}/Items/{quoted}")
            else:
                doc = await self.call("GET", f"/Items/{quoted}?userId={admin}")
            path = _dig(doc, "Path")
        if not isinstance(path, str) or not path:
            raise ServerProblem(f"{self.name} names no file for item {item}", permanent=True)
        return path

    async def _administrator(self) -> str:
        """An administrator's id: Jellyfin answers item lookups for a user only."""
        if self._admin is None:
            users = await self.call("GET", "/Users")
            admin = next(
                (
                    u.get("Id")
                    for u in users or []
                    if isinstance(u, dict) and _dig(u, "Policy", "IsAdministrator") is True
                ),
                None,
            )
            if not isinstance(admin, str) or not re.fullmatch(r"[0-9A-Za-z-]{1,64}", admin):
                raise ServerProblem(f"{self.name} lists no administrator", permanent=True)
            self._admin = admin
        return self._admin

    # ------------------------------------------------------------ refresh

    async def plan(self, targets: list[Target]) -> list[Call]:
        libraries = await self.libraries() if self.config.kind == "plex" else []
        return plan_refresh(self.config.kind, targets, libraries)

    async def run(self, call: Call) -> None:
        await self.call(call.method, call.path, call.body)


def plan_refresh(kind: str, targets: list[Target], libraries: list[Library]) -> list[Call]:
    """The fewest calls that make the server look at every target again.

    A few items with known ids: one item refresh each (the cheapest look). More than that (a
    season, a pack): Jellyfin and Emby get one `/Library/Media/Updated` naming every file,
    Plex one partial scan per folder (a season's folder once), never a scan of a whole
    library. A Plex folder in no library is left to its items' own refreshes when their ids
    are known; else it has no call (the caller reports it)."""
    unique = list(dict.fromkeys(targets))
    one_by_one = len(unique) <= ONE_BY_ONE and all(t.item for t in unique)
    if kind == "plex":
        if one_by_one:
            return [
                Call(
                    "PUT",
                    f"/library/metadata/{quote(t.item or '', safe='')}/refresh",
                    None,
                    (t.path,),
                )
                for t in unique
            ]
        calls = []
        folders: dict[str, list[Target]] = {}
        for t in unique:
            folders.setdefault(folder_of(t.path), []).append(t)
        for folder, members in folders.items():
            section = max(
                (
                    (len(loc), lib)
                    for lib in libraries
                    for loc in lib.locations
                    if inside(folder, loc)
                ),
                key=lambda pair: pair[0],
                default=None,
            )
            if section is not None:
                key = quote(section[1].key or "", safe="")
                calls.append(
                    Call(
                        "GET",
                        f"/library/sections/{key}/refresh?path={quote(folder, safe='')}",
                        None,
                        tuple(t.path for t in members),
                    )
                )
            else:
                calls += [
                    Call(
                        "PUT",
                        f"/library/metadata/{quote(t.item, safe='')}/refresh",
                        None,
                        (t.path,),
                    )
                    for t in members
                    if t.item
                ]
        return calls
    if one_by_one:
        query = (
            "metadataRefreshMode=Default&imageRefreshMode=Default"
            "&replaceAllMetadata=false&replaceAllImages=false"
        )
        return [
            Call("POST", f"/Items/{quote(t.item or '', safe='')}/Refresh?{query}", None, (t.path,))
            for t in unique
        ]
    paths = list(dict.fromkeys(t.path for t in unique))
    body = {"Updates": [{"Path": p, "UpdateType": "Modified"} for p in paths]}
    return [Call("POST", "/Library/Media/Updated", body, tuple(paths))]


def _dig(doc: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(doc, list) or len(doc) <= key:
                return None
        elif not isinstance(doc, dict):
            return None
        doc = doc[key] if isinstance(key, int) else doc.get(key)
    return doc
