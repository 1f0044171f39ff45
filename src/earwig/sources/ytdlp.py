"""yt-dlp as a library: download one URL's best audio, or list a channel's newest entries.

Files land in a per-job directory named by yt-dlp's sanitised id (never by an untrusted
title), and the final path is checked to be inside it. Partial downloads (.part) are resumed
when the same job is fetched again after a restart or a stall.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from earwig.errors import Aborted, EarwigError, TransientError
from earwig.reach import FENCED_PROTOCOLS, Reach, within
from earwig.sources import Item
from earwig.sources.errors import SourceError, classify_http, plain_network_error

log = logging.getLogger("earwig.ytdlp")

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Downloaded:
    path: Path
    title: str
    size: int


class _Logger:
    """yt-dlp talks through this instead of printing: nothing reaches stdout."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    def info(self, msg: str) -> None:
        log.debug(msg)

    def warning(self, msg: str) -> None:
        log.info(msg)

    def error(self, msg: str) -> None:
        log.debug(msg)  # raised as DownloadError and reported with the job


def ffmpeg_location() -> str | None:
    """A system ffmpeg if there is one, else the binary that imageio-ffmpeg ships."""
    if shutil.which("ffmpeg"):
        return None
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def base_options(timeout: float, retries: int) -> dict[str, Any]:
    return {
        "quiet": True,
        "noprogress": True,
        "no_warnings": False,
        "logger": _Logger(),
        "socket_timeout": timeout,
        "retries": retries,
        "fragment_retries": retries,
        "cachedir": False,
        "color": {"stdout": "never", "stderr": "never"},
    }


def download(
    url: str,
    dest: Path,
    on_progress: ProgressFn,
    should_abort: Callable[[], bool],
    *,
    fmt: str = "bestaudio/best",
    timeout: float = 30.0,
    retries: int = 3,
    sleep_interval: float = 0.0,
    extractors: Sequence[Any] = (),
    reach: Reach | None = None,
) -> Downloaded:
    """Download `url`'s media into `dest`. `reach`: the job came from a network client, and
    every connection yt-dlp makes for it is held to what that client may reach
    (earwig/reach.py); only formats yt-dlp fetches itself are taken, and ffmpeg, which
    would resolve names on its own, is not used."""
    from yt_dlp.networking.exceptions import RequestError
    from yt_dlp.utils import DownloadCancelled, DownloadError

    dest.mkdir(parents=True, exist_ok=True)
    for folder in (dest.parent, dest):  # the media cache is private, like the transcripts
        os.chmod(folder, 0o700)

    def hook(status: dict[str, Any]) -> None:
        if should_abort():
            raise DownloadCancelled("stopped by earwig")
        if status.get("status") == "downloading":
            on_progress(
                {
                    "downloaded": status.get("downloaded_bytes"),
                    "total": status.get("total_bytes") or status.get("total_bytes_estimate"),
                    "speed": status.get("speed"),
                    "eta": status.get("eta"),
                }
            )

    options = {
        **base_options(timeout, retries),
        "format": fmt,
        "outtmpl": {"default": "%(id).60B.%(ext)s"},
        "paths": {"home": str(dest), "temp": str(dest)},
        "windowsfilenames": True,
        "trim_file_name": 100,
        "noplaylist": True,
        "continuedl": True,
        "overwrites": False,
        "progress_hooks": [hook],
    }
    if sleep_interval:
        options["sleep_interval"] = sleep_interval
    if location := ffmpeg_location():
        options["ffmpeg_location"] = location
    if reach is not None:
        options.update(_fenced_options(dest))
    direct = None if extractors else direct_media(url)

    def fetch() -> Any:
        with _youtube_dl(options, extractors, direct=direct is not None) as ydl:
            if reach is not None:
                ydl.format_selector = _fenced_selector(ydl, fmt)
            if direct is not None:  # one GET, not a probe by the generic extractor and then
                return ydl.process_ie_result(direct, download=True)  # the download
            return ydl.extract_info(url, download=True)

    try:
        info = within(reach, fetch)
    except DownloadCancelled:
        raise Aborted("download stopped") from None
    except (DownloadError, RequestError) as exc:  # RequestError: a redirect to file:, say
        raise _classify(exc, url) from None
    if info is None or not info.get("requested_downloads"):
        raise SourceError(f"yt-dlp found nothing to download at {url}")
    path = Path(info["requested_downloads"][0]["filepath"]).resolve()
    if not path.is_relative_to(dest.resolve()):
        path.unlink(missing_ok=True)
        raise SourceError(f"refusing a download that would land outside {dest}: {path}")
    os.chmod(path, 0o600)
    return Downloaded(
        path=path, title=str(info.get("title") or path.stem), size=path.stat().st_size
    )


def _fenced_options(dest: Path) -> dict[str, Any]:
    """yt-dlp's options for a network client's download: its own downloaders only, one
    fragment at a time (the fence is per thread), and no ffmpeg (a live stream or an HLS
    playlist yt-dlp cannot read itself would go to ffmpeg, which resolves names on its own:
    such a download fails instead)."""
    return {
        "external_downloader": {"default": "native"},
        "hls_prefer_native": True,
        "concurrent_fragment_downloads": 1,
        "ffmpeg_location": str(dest / "no-ffmpeg-for-network-clients"),
    }


def _fenced_selector(ydl: Any, fmt: str) -> Callable[[dict[str, Any]], Any]:
    """`fmt`'s choice among the formats yt-dlp fetches over its own HTTP stack."""
    choose = ydl.build_format_selector(fmt)

    def select(ctx: dict[str, Any]) -> Any:
        formats = [f for f in ctx["formats"] if f.get("protocol") in FENCED_PROTOCOLS]
        return choose({**ctx, "formats": formats})

    return select


def direct_media(url: str) -> dict[str, Any] | None:
    """What yt-dlp's generic extractor would find at a plain media URL (a feed's enclosure,
    `earwig add https://host/talk.mp3`), known from the name alone; None for anything else.

    The generic extractor GETs a URL to learn that it is media, then the downloader GETs it
    again: twice the requests for every episode. Given this, yt-dlp downloads at once."""
    from urllib.parse import unquote, urlsplit

    from earwig.media import AUDIO_EXTENSIONS, is_media_name

    path = PurePosixPath(unquote(urlsplit(url).path))
    if not path.name or not is_media_name(path.name):
        return None
    ext = path.suffix.lower().lstrip(".")
    return {
        "id": path.stem or "media",
        "title": path.stem or url,
        "webpage_url": url,
        "extractor": "generic",
        "extractor_key": "Generic",
        "direct": True,
        "formats": [
            {
                "format_id": ext,
                "url": url,
                "ext": ext,
                "vcodec": "none" if path.suffix.lower() in AUDIO_EXTENSIONS else None,
            }
        ],
    }


def list_entries(
    url: str,
    newest: int,
    *,
    timeout: float = 30.0,
    sleep_requests: float = 0.0,
    extractors: Sequence[Any] = (),
) -> list[Item]:
    """The newest `newest` entries of a channel or playlist, without downloading anything."""
    from yt_dlp.utils import DownloadError

    options = {
        **base_options(timeout, 2),
        "extract_flat": "in_playlist",
        "playlist_items": f"1:{max(1, newest)}",
    }
    if sleep_requests:
        options["sleep_interval_requests"] = sleep_requests
    try:
        with _youtube_dl(options, extractors) as ydl:
            info = ydl.extract_info(url, download=False)
    except DownloadError as exc:
        raise _classify(exc, url) from None
    if info is None:
        raise SourceError(f"yt-dlp found nothing at {url}")
    entries = info.get("entries")
    entries = list(entries) if entries is not None else [info]
    items = []
    for entry in entries:
        ident = entry and (entry.get("id") or entry.get("url"))
        if not ident:
            continue
        key = entry.get("ie_key") or entry.get("extractor_key") or info.get("extractor_key") or ""
        items.append(
            Item(
                id=f"{key.lower() or 'generic'} {ident}",
                url=entry.get("url") or entry.get("webpage_url") or url,
                title=entry.get("title") or entry["id"],
                published=entry.get("timestamp"),
            )
        )
    return items


def _youtube_dl(options: dict[str, Any], extractors: Sequence[Any], *, direct: bool = False) -> Any:
    """A YoutubeDL whose extra extractors (plugins, tests) are tried before the built-in
    ones, since the generic extractor accepts any URL and would otherwise win.

    `direct`: the media's info is known already, so no extractor is loaded at all. Loading
    the ~1,800 built-in ones costs 0.4 s of CPU in pure Python per download, holding the GIL
    the daemon's event loop needs: 100 queued episodes made `earwig status` wait 0.3-0.9 s."""
    import yt_dlp

    if direct:
        return yt_dlp.YoutubeDL(options, auto_init=False)
    ydl = yt_dlp.YoutubeDL(options, auto_init=not extractors)
    for extractor in extractors:
        ydl.add_info_extractor(extractor)
    if extractors:
        ydl.add_default_info_extractors()
    return ydl


def _classify(exc: Exception, url: str) -> EarwigError:
    from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError
    from yt_dlp.utils import ExtractorError, UnsupportedError

    info = getattr(exc, "exc_info", None)  # yt-dlp's DownloadError keeps the cause here
    cause = info[1] if info else exc
    message = str(exc).removeprefix("ERROR: ")
    if isinstance(cause, HTTPError):
        retry_after = cause.response.headers.get("Retry-After") if cause.response else None
        return classify_http(cause.status, url, retry_after)
    if isinstance(cause, TransportError) or "Giving up after" in message:
        return TransientError(
            plain_network_error(url, message), "a network problem: earwig tries again later"
        )
    if isinstance(cause, UnsupportedError):
        return SourceError(f"yt-dlp cannot handle {url}", "check the URL, or that it is media")
    if isinstance(cause, ExtractorError):
        return SourceError(message, "check the URL")
    if isinstance(cause, RequestError):  # neither the network nor the server: the request
        return SourceError(f"{url}: {message}", "check the URL")
    return TransientError(plain_network_error(url, message), "earwig tries again later")
