"""What each sender posts, read into `MediaEvent`s: pure functions over bytes, no I/O.

Shapes, as read in each project's own code (tests/payloads/ holds one of each, with where it
came from):

- Jellyfin's Webhook plugin, "Generic Destination" with "Send All Properties": a JSON object
  (sent as text/plain unless a Content-Type header is added) with `NotificationType`
  (`ItemAdded`, `PlaybackStart`, ...), `ItemId` (a GUID, 32 hex digits), `ItemType`, `Name`.
  It carries no path: the server is asked for it.
- Plex (Plex Pass webhooks): multipart/form-data, the JSON in the part `payload` (and a JPEG
  thumbnail in another part for some events): `event` (`library.new`, `media.play`, ...),
  `Metadata.ratingKey`, `Metadata.type`. No path either.
- Emby: the JSON in the multipart part `data` (Emby 4.8) or as the body (4.9 offers
  application/json): `Event` (`library.new`, `playback.start`, `system.notificationtest`),
  `Item.Path`, `Item.Id`, `Item.Type`.
- Tautulli's webhook agent: the JSON its "Data" template makes; earwig reads `event`
  (`added` / `played`, as Subgen's template writes) and `file`.
- Sonarr and Radarr ("Connect -> Webhook"): JSON with `eventType` (`Download` on import and
  upgrade, `Test`), `episodeFile.path` or, for an import of several files at once (Sonarr's
  "On Import Complete"), `episodeFiles[].path`; Radarr `movieFile.path` (else
  `movie.folderPath` + `movieFile.relativePath`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_BODY = 4 * 1024 * 1024  # a payload is a few KB; Plex adds a small thumbnail

# The kinds of item that are one playable file worth subtitles (a series, a season, an
# album or a music track is not)
JELLYFIN_TYPES = {"Movie", "Episode", "Video", "MusicVideo", "AudioBook", "Trailer"}
PLEX_TYPES = {"movie", "episode", "clip"}
EMBY_TYPES = JELLYFIN_TYPES

_GUID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_EMBY_ID = re.compile(f"{_DIGITS.pattern}|{_GUID.pattern}")


class PayloadError(ValueError):
    """A body that is not what the sender posts: answered 400 with this sentence."""


@dataclass(frozen=True)
class MediaEvent:
    """One event from one sender, in earwig's words."""

    sender: str  # "jellyfin", "plex", "emby", "tautulli", "sonarr", "radarr"
    action: str  # "added", "play", "test", or "other" (anything earwig leaves alone)
    name: str  # the sender's own name for it: "ItemAdded", "library.new", "Download"
    item: str | None = None  # the server's id of the item: Jellyfin/Emby Id, Plex ratingKey
    paths: tuple[str, ...] = ()  # the media files, as the sender names them
    title: str | None = None

    def describe(self) -> str:
        what = self.title or (self.paths[0] if self.paths else None) or self.item or ""
        return f"{self.name} {what}".strip()


def _json(body: bytes | str, what: str) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise PayloadError(f"the {what} is larger than a webhook's payload ever is")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError(f"the {what} is not JSON") from None
    if not isinstance(doc, dict):
        raise PayloadError(f"the {what} is not a JSON object")
    return doc


def _get(doc: Any, *keys: str) -> Any:
    """doc[k1][k2]..., or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def item_id(value: Any, pattern: re.Pattern[str], sender: str) -> str | None:
    """An item id from a payload, only in the shape the server gives it: it goes into a URL
    on the configured server, so "../System/Restart" must never get there."""
    if value is None or value == "":
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not pattern.fullmatch(text):
        raise PayloadError(f"{sender}'s item id {str(value)[:40]!r} is not one it would send")
    return text


def jellyfin(body: bytes) -> MediaEvent:
    doc = _json(body, "Jellyfin webhook's body")
    name = _text(doc.get("NotificationType")) or ""
    action = {"ItemAdded": "added", "PlaybackStart": "play"}.get(name, "other")
    if action != "other" and doc.get("ItemType") not in JELLYFIN_TYPES:
        action = "other"
    item = item_id(doc.get("ItemId"), _GUID, "Jellyfin") if action != "other" else None
    if action != "other" and item is None:
        raise PayloadError(
            "the Jellyfin webhook has no ItemId: tick 'Send All Properties' in its destination"
        )
    title = _text(doc.get("Name"))
    if doc.get("ItemType") == "Episode" and _text(doc.get("SeriesName")):
        title = f"{doc['SeriesName']} - {title}"
    return MediaEvent("jellyfin", action, name or "(no NotificationType)", item, (), title)


def plex(payload: str | bytes) -> MediaEvent:
    """The `payload` part of Plex's multipart body."""
    doc = _json(payload, "Plex webhook's payload part")
    name = _text(doc.get("event")) or ""
    action = {"library.new": "added", "media.play": "play", "playback.started": "play"}.get(
        name, "other"
    )
    kind = _get(doc, "Metadata", "type")
    if action != "other" and kind not in PLEX_TYPES:
        action = "other"
    item = None
    if action != "other":
        item = item_id(_get(doc, "Metadata", "ratingKey"), _DIGITS, "Plex")
        if item is None:
            raise PayloadError("the Plex webhook's Metadata has no ratingKey")
    title = _text(_get(doc, "Metadata", "title"))
    show = _text(_get(doc, "Metadata", "grandparentTitle"))
    if kind == "episode" and show:
        title = f"{show} - {title}"
    return MediaEvent("plex", action, name or "(no event)", item, (), title)


def emby(body: bytes | str) -> MediaEvent:
    """Emby's JSON: the `data` part of its multipart body, or the whole body."""
    doc = _json(body, "Emby webhook's data")
    name = _text(doc.get("Event")) or ""
    action = {
        "library.new": "added",
        "playback.start": "play",
        "system.notificationtest": "test",
    }.get(name.lower(), "other")
    if action in ("added", "play") and _get(doc, "Item", "Type") not in EMBY_TYPES:
        action = "other"
    path = _text(_get(doc, "Item", "Path"))
    item = None
    if action in ("added", "play"):
        item = item_id(_get(doc, "Item", "Id"), _EMBY_ID, "Emby")
        if path is None and item is None:
            raise PayloadError("the Emby webhook's Item has neither a Path nor an Id")
    return MediaEvent(
        "emby",
        action,
        name or "(no Event)",
        item,
        (path,) if path else (),
        _text(_get(doc, "Item", "Name")),
    )


def tautulli(body: bytes) -> MediaEvent:
    doc = _json(body, "Tautulli webhook's body")
    name = _text(doc.get("event")) or ""
    action = {
        "added": "added",
        "created": "added",
        "recently_added": "added",
        "played": "play",
        "play": "play",
        "playback.start": "play",
    }.get(name.lower(), "other")
    path = _text(doc.get("file"))
    if action != "other" and path is None:
        raise PayloadError(
            'the Tautulli webhook has no "file": its Data template needs "file": "{file}"'
        )
    title = _text(doc.get("filename")) or _text(doc.get("title"))
    return MediaEvent(
        "tautulli", action, name or "(no event)", None, (path,) if path else (), title
    )


def _arr_file(file: Any, folder: Any) -> str | None:
    path = _text(_get(file, "path"))
    if path is None and _text(folder) and _text(_get(file, "relativePath")):
        sep = "\\" if "\\" in folder else "/"
        path = folder.rstrip("/\\") + sep + file["relativePath"]
    return path


def sonarr(body: bytes) -> MediaEvent:
    doc = _json(body, "Sonarr webhook's body")
    name = _text(doc.get("eventType")) or ""
    action = {"Download": "added", "Test": "test"}.get(name, "other")
    folder = _get(doc, "series", "path")
    files = doc.get("episodeFiles") if isinstance(doc.get("episodeFiles"), list) else None
    found = [_arr_file(f, folder) for f in (files or [doc.get("episodeFile")])]
    paths = tuple(p for p in found if p)
    if action == "added" and not paths:
        raise PayloadError("the Sonarr Download event names no episodeFile path")
    title = _text(_get(doc, "series", "title"))
    episodes = doc.get("episodes")
    if title and isinstance(episodes, list) and len(episodes) == 1:
        season, number = _get(episodes[0], "seasonNumber"), _get(episodes[0], "episodeNumber")
        if isinstance(season, int) and isinstance(number, int):
            title = f"{title} S{season:02d}E{number:02d}"
    return MediaEvent("sonarr", action, name or "(no eventType)", None, paths, title)


def radarr(body: bytes) -> MediaEvent:
    doc = _json(body, "Radarr webhook's body")
    name = _text(doc.get("eventType")) or ""
    action = {"Download": "added", "Test": "test"}.get(name, "other")
    path = _arr_file(doc.get("movieFile"), _get(doc, "movie", "folderPath"))
    if action == "added" and path is None:
        raise PayloadError("the Radarr Download event names no movieFile path")
    title = _text(_get(doc, "movie", "title"))
    year = _get(doc, "movie", "year")
    if title and isinstance(year, int) and year > 0:
        title = f"{title} ({year})"
    return MediaEvent(
        "radarr", action, name or "(no eventType)", None, (path,) if path else (), title
    )
