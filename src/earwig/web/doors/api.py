"""earwig's own API, /api: the socket's requests over HTTP (their routes derived in rest.py
from the protocol's declarations), plus what only HTTP has: uploads to `POST /api/jobs`, a
job's transcript files and media (with Range), the models, the event streams (SSE and a
WebSocket, events.py) and the OpenAPI document of every route the app serves.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import parse_qs

import msgspec
from litestar import Litestar, Request, Response, Router, WebSocket, get, post, route, websocket
from litestar.handlers import BaseRouteHandler
from litestar.response import Stream
from litestar.routes import HTTPRoute, WebSocketRoute

from earwig import outputs, protocol
from earwig.daemon import dispatch
from earwig.daemon.delivery import UPLOAD_SOURCE
from earwig.daemon.followups import translated_cues
from earwig.llm.translate import WRITERS
from earwig.web import events, rest
from earwig.web.answers import error_response, json_response, read_upload
from earwig.web.host import Host, HostDep
from earwig.web.params import from_text
from earwig.web.uploads import UploadError

MEDIA_TYPES = {
    "txt": "text/plain",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "md": "text/markdown",
}


class UploadForm(msgspec.Struct):
    """The form fields of a multipart `POST /api/jobs` (besides its `file` parts)."""

    force: Annotated[bool, msgspec.Meta(description="true or false")] = False


def _derived(r: rest.Route) -> BaseRouteHandler:
    """The handler of one route of rest.ROUTES: the socket request it names, its params
    from the path, the query string and the body."""

    async def handler(request: Request, host: HostDep) -> Response[bytes]:
        query = parse_qs(request.scope["query_string"].decode(), keep_blank_values=True)
        length = request.headers.get("content-length")
        body = await rest.read_body(request.stream(), length) if r.body else b""
        params = rest.params_for(r, dict(request.path_params), query, body)
        return json_response(await dispatch.call(host, r.kind, params))

    handler.__name__ = f"api_{r.method.lower()}_{r.kind.replace('.', '_')}"
    handler.__doc__ = (protocol.REQUESTS[r.kind].__doc__ or r.kind).strip()
    return route(
        r.path.removeprefix("/api"),
        http_method=[cast(Any, r.method)],
        status_code=200,
        name=f"{r.method} {r.path}",
    )(handler)


@post("/jobs", status_code=200)
async def add_jobs(request: Request, host: HostDep) -> Response[bytes]:
    """job.add: JSON {url} or {urls}, or multipart `file` parts."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        folder = host.config.downloads.dir / "uploads"
        form = await read_upload(request, folder, host.config.http.max_upload)
        if not form.files:
            form.discard()
            raise UploadError(400, "missing_file", "the form has no `file` part")
        force = from_text(UploadForm, form.fields, {}).force
        # straight to the intake, with their own source: an upload is no `earwig add`
        # ("from cli"), and the files are the ones just written here, never a name sent in
        paths = [str(f.path) for f in form.files]
        results: list[Any] = []
        try:
            results = await host.intake.add_paths(paths, UPLOAD_SOURCE, force)
        finally:  # nothing queued from it (a duplicate, a refusal, a hang-up): its folder goes
            if not any("job" in result for result in results):
                form.discard()
        return json_response({"results": results})
    else:
        length = request.headers.get("content-length")
        doc = await rest.read_json(request.stream(), length) or {}
        if not isinstance(doc, dict):
            raise rest.BadRequest('the body must be {"url": ...} or {"urls": [...]}')
        urls = doc.get("urls") or ([doc["url"]] if doc.get("url") else [])
        if not isinstance(urls, list) or not urls:
            raise rest.BadRequest('give {"url": "https://..."} or {"urls": [...]}')
        paths, force = urls, doc.get("force", False)
    return json_response(await dispatch.call(host, "job.add", {"paths": paths, "force": force}))


@get("/jobs/{job_id:int}/{name:str}")
async def job_file(request: Request, host: HostDep, job_id: int, name: str) -> Response[Any]:
    """The transcript as txt, srt, vtt, tsv, json or md (`transcript.FORMAT`), or the job's
    audio or video (`media`, Range supported)."""
    if name == "media":
        return media_response(host, job_id, request.headers.get("range"))
    match = re.fullmatch(r"transcript\.(?:([a-z]{2,3})\.)?(\w+)", name)
    if not match or match.group(2) not in outputs.WRITERS:
        raise rest.BadRequest(
            f"no {name!r} here",
            "transcript.txt, .srt, .vtt, .tsv, .json, .md, transcript.LANG.srt (.vtt) or media",
        )
    language, fmt = match.groups()
    job = host.store.get_job(job_id)
    if language is not None:  # subtitles the [llm] model translated
        translated = host.store.job_translation(job_id, language)
        if translated is None or fmt not in WRITERS:
            return error_response(
                404,
                "no_translation",
                f"job {job_id} has no {fmt} translated into {language}",
                f"`earwig translate {job_id} {language}` makes one (srt or vtt)",
            )
        width = host.config.output.cue_rules().line_width
        text = WRITERS[fmt](translated_cues(translated), width)
        return Response(text.encode(), media_type=MEDIA_TYPES[fmt])
    transcript = host.store.get_transcript(job_id)
    if transcript is None:
        return error_response(
            404, "no_transcript", f"job {job_id} has no transcript yet", f"it is {job.state}"
        )
    meta = outputs.transcript_meta(job)
    meta.update(outputs.summary_meta(job, host.store.job_summary(job_id)))
    text = outputs.WRITERS[fmt](transcript, meta)
    return Response(text.encode(), media_type=MEDIA_TYPES[fmt])


@get("/models")
async def models(host: HostDep) -> Response[bytes]:
    """The models on this machine, and the configured one."""
    from earwig.transcribe.models import local_models

    cfg = host.config.transcribe
    found = local_models(cfg.models_dir, cfg.model)
    return json_response({"models": found, "configured": cfg.model})


@get("/events")
async def sse(host: HostDep, limit: int | None = None) -> Stream:
    """Server-Sent Events: a snapshot, then the socket's events (?limit=N: the snapshot's
    newest N jobs; the web page asks for fewer than 500)."""
    return Stream(
        events.sse_events(host, limit),
        media_type="text/event-stream",
        headers=events.SSE_HEADERS,
    )


@websocket("/ws")
async def ws(socket: WebSocket, host: HostDep) -> None:
    """A snapshot, then the socket's events; socket requests sent on it are answered."""
    await events.websocket_session(host, socket)


@get("/schema")
async def schema(request: Request) -> Response[bytes]:
    """This document: every route the app serves."""
    return json_response(openapi(request.app))


router = Router(
    "/api",
    route_handlers=[
        add_jobs,
        job_file,
        models,
        sse,
        ws,
        schema,
        *(_derived(r) for r in rest.ROUTES),
    ],
)


def openapi(app: Litestar) -> dict[str, Any]:
    """rest.openapi's document of the derived routes, with every other route the app
    serves (each door's), summarised by its handler's docstring."""
    doc = rest.openapi()
    paths: dict[str, Any] = doc["paths"]
    for r in app.routes:
        path = re.sub(r"{(\w+):\w+}", r"{\1}", r.path)
        if isinstance(r, WebSocketRoute):
            found = [(r.route_handler.fn, ["get"])]
        elif isinstance(r, HTTPRoute):
            found = [
                (h.fn, sorted(h.http_methods)) for h in r.route_handlers if h.include_in_schema
            ]
        else:
            continue
        for fn, methods in found:
            summary = " ".join((fn.__doc__ or fn.__name__).strip().split("\n\n")[0].split())
            for method in methods:
                if method.lower() not in ("head", "options"):
                    paths.setdefault(path, {}).setdefault(method.lower(), {"summary": summary})
    return doc


def media_response(host: Host, job_id: int, range_header: str | None) -> Response[Any]:
    """The job's media file, with HTTP Range (a player seeks)."""
    import mimetypes

    job = host.store.get_job(job_id)
    path = Path(job.path) if job.path else None
    if path is None or not path.is_file():
        return error_response(
            404,
            "no_media",
            f"job {job_id} has no media file here",
            "downloaded media is removed after [downloads] keep_media",
        )
    size = path.stat().st_size
    if job.duration is None or (job.size is not None and size != job.size):
        # only what decoded as audio or video, unchanged since: never a text file a job
        # was made of by mistake (or on purpose), nor what replaced its media since
        return error_response(
            404,
            "no_media",
            f"job {job_id} has no audio or video to serve",
            "a job's media is served once earwig has read it as audio or video",
        )
    ctype = mimetypes.guess_type(path.name)[0] or ""
    if not ctype.startswith(("audio/", "video/")):  # a name such as x.html never makes
        ctype = "application/octet-stream"  # the browser render it as a page of ours
    start, end, status = 0, size - 1, 200
    if range_header:
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
        if not match or (not match.group(1) and not match.group(2)):
            return error_response(416, "bad_range", f"cannot serve the range {range_header!r}")
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # the last N bytes
            start = max(0, size - int(match.group(2)))
        if start > end or start >= size:
            answer = error_response(416, "bad_range", f"the file has {size} bytes")
            answer.headers["content-range"] = f"bytes */{size}"
            return answer
        status = 206

    async def chunks() -> AsyncIterator[bytes]:
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                data = fh.read(min(left, 256 * 1024))
                if not data:
                    return
                left -= len(data)
                yield data

    headers = {
        "accept-ranges": "bytes",
        "content-length": str(end - start + 1),
        "x-content-type-options": "nosniff",
    }
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    return Stream(chunks(), status_code=status, media_type=ctype, headers=headers)
