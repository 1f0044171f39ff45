"""The media servers' door: webhooks from Jellyfin, Plex, Emby, Tautulli, Sonarr and Radarr.

`POST /hooks/TOKEN/jellyfin` (the token in the path: the senders can be given only a URL;
the guard checks it and strips it), or `/hooks/jellyfin` from a network in `[http] trust`.
Each request is only parsed here and answered at once (202; 200 for a sender's test): the
server lookups, the path checks and the queueing run after the answer
(mediaservers/service.py), so a sender never waits on earwig or times out. `?server=NAME`
picks one of several `[[media_server]]` tables of one kind. A body that is not the sender's
is a 400 that says why; a payload never names a URL earwig would fetch.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar import Request, Response, Router, route

from earwig.mediaservers import payloads
from earwig.mediaservers.payloads import MAX_BODY, MediaEvent, PayloadError
from earwig.web.answers import json_response, read_upload
from earwig.web.host import Host, HostDep
from earwig.web.uploads import UploadError, too_large

JSON_SENDERS: dict[str, Callable[[bytes], MediaEvent]] = {
    "jellyfin": payloads.jellyfin,
    "tautulli": payloads.tautulli,
    "sonarr": payloads.sonarr,
    "radarr": payloads.radarr,
}


async def _body(request: Request) -> bytes:
    """The whole body, refused past a webhook's size (never read into memory beyond it)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise too_large(MAX_BODY)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large(MAX_BODY)
    return bytes(body)


async def _part(request: Request, host: Host, name: str) -> bytes:
    """One part of a multipart body (Plex's `payload`, Emby's `data`), as a field or a file;
    the rest (Plex's thumbnail) is dropped unread beyond the size cap."""
    form = await read_upload(request, host.config.downloads.dir / "hooks", MAX_BODY)
    try:
        text = form.get(name)
        if text is not None:
            return text.encode()
        saved = form.file(name)
        if saved is None:
            raise PayloadError(f"the multipart body has no `{name}` part")
        return saved.path.read_bytes()
    finally:
        form.discard()


async def _event(sender: str, request: Request, host: Host) -> MediaEvent:
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/")
    if sender == "plex":
        if not multipart:
            return payloads.plex(await _body(request))
        return payloads.plex(await _part(request, host, "payload"))
    if sender == "emby":
        return payloads.emby(
            await _part(request, host, "data") if multipart else await _body(request)
        )
    return JSON_SENDERS[sender](await _body(request))


@route(
    "/hooks/{sender:str}",
    http_method=["POST", "PUT"],  # Sonarr and Radarr may be set to PUT
    status_code=202,
)
async def hook(request: Request, host: HostDep, sender: str) -> Response[bytes]:
    """A media server's or an arr app's webhook: 202 at once, the work after."""
    if sender not in (*JSON_SENDERS, "plex", "emby"):
        raise UploadError(
            404,
            "not_found",
            f"earwig takes no webhook from {sender!r}",
            "the senders are jellyfin, plex, emby, tautulli, sonarr and radarr",
        )
    try:
        event = await _event(sender, request, host)
    except PayloadError as exc:
        host.log("warning", f"a {sender} webhook was refused: {exc}")
        raise UploadError(400, "bad_payload", str(exc), "docs/media-servers.md") from None
    server = request.query_params.get("server") or None
    said = host.mediaservers.accept(event, server)
    if event.action == "test":
        return json_response({"status": "ok", "message": said})
    return json_response({"status": "accepted", "message": said}, 202)


router = Router("/", route_handlers=[hook])
