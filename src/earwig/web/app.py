"""The Litestar app: the page, /api, the OpenAI-compatible /v1 and the
whisper-asr-webservice-compatible /asr, /detect-language and /status.

Routes parse what the client sent and hand it on: transcription to doors.py (through the
queue), /api to rest.py (the socket's handlers), events to events.py. Every error is JSON
`{"error": {"code", "message", "hint"}}` with a 4xx status for the client's mistakes; a
bug is a 500 with the same shape and the traceback in the daemon's log, never the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, quote

from litestar import Litestar, Request, Response, WebSocket, get, post, route, websocket
from litestar.exceptions import HTTPException
from litestar.response import ServerSentEvent, ServerSentEventMessage, Stream
from litestar.static_files import create_static_files_router

from earwig import __version__, outputs
from earwig.errors import EarwigError
from earwig.media import MAX_STEM_BYTES, fit_bytes
from earwig.web import events, formats, rest
from earwig.web.doors import Ask, Doors, flag, language_code
from earwig.web.guard import error_body
from earwig.web.uploads import Form, UploadError, read_form, too_large

if TYPE_CHECKING:
    from earwig.daemon.app import Daemon

log = logging.getLogger("earwig.http")
STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    "txt": "text/plain",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "md": "text/markdown",
}


def json_response(data: Any, status: int = 200) -> Response[bytes]:
    import json

    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    return Response(body, status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str, hint: str = "") -> Response[bytes]:
    return Response(
        error_body(code, message, hint), status_code=status, media_type="application/json"
    )


def on_earwig_error(request: Request, exc: EarwigError) -> Response[bytes]:
    return error_response(rest.status_of(exc), exc.code, exc.message, exc.hint)


def on_http_error(request: Request, exc: HTTPException) -> Response[bytes]:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
    message = str(exc.detail) if exc.detail else "bad request"
    if exc.status_code == 404:
        message = f"no such path: {request.url.path}"
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(exc.status_code, code, message)


def on_bug(request: Request, exc: Exception) -> Response[bytes]:
    if isinstance(exc, (RecursionError, OverflowError)):  # the client's numbers or nesting
        log.warning("HTTP %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return error_response(
            400,
            "bad_request",
            "a number in the request is too large, or its data is nested too deep",
            "ids and counts fit in 64 bits; JSON nests at most a few hundred levels",
        )
    log.exception("HTTP %s %s failed", request.method, request.url.path)
    return error_response(
        500, "internal", f"{type(exc).__name__}: {exc}", "a bug in earwig: see `earwig logs`"
    )


async def wait_disconnect(request: Request) -> None:
    """Returns when the client has gone (after its body was read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def build(daemon: Daemon, doors: Doors) -> Litestar:
    def settings() -> Any:
        return daemon.config.http

    async def read_upload(request: Request, folder: Path, raw_pcm: bool = False) -> Form:
        limit = settings().max_upload
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit + 1024 * 1024:
            raise too_large(limit)
        return await read_form(
            request.stream(),
            request.headers.get("content-type"),
            folder,
            limit,
            raw_pcm=lambda field: raw_pcm,
        )

    # ------------------------------------------------------------ the page

    def page() -> Response[bytes]:
        index = STATIC / "index.html"
        return Response(
            index.read_bytes(),
            media_type="text/html",
            headers={"cache-control": "no-cache"},
        )

    @get("/", include_in_schema=False)
    async def index() -> Response[bytes]:
        return page()

    @get("/jobs/{job_id:int}", include_in_schema=False)
    async def job_page(job_id: int) -> Response[bytes]:
        return page()

    # ------------------------------------------------------------ /v1 (OpenAI)

    @get("/v1/models")
    async def v1_models() -> Response[bytes]:
        return json_response({"object": "list", "data": models_list(daemon)})

    async def openai_door(request: Request, task: str) -> Response[Any]:
        form = await read_upload(request, doors.upload_dir)
        try:
            upload = form.file("file")
            if upload is None:
                raise UploadError(
                    400,
                    "missing_file",
                    "the request has no `file` part",
                    "send the audio as the multipart field `file`",
                )
            response_format = form.get("response_format") or "json"
            if response_format not in formats.OPENAI_FORMATS:
                raise UploadError(
                    400,
                    "bad_response_format",
                    f"response_format {response_format!r} is not one of "
                    + ", ".join(formats.OPENAI_FORMATS),
                )
            grains = tuple(
                form.getall("timestamp_granularities[]") + form.getall("timestamp_granularities")
            )
            for grain in grains:
                if grain not in formats.GRANULARITIES:
                    raise UploadError(
                        400,
                        "bad_timestamp_granularities",
                        f"timestamp_granularities[] {grain!r} is not segment or word",
                    )
            if "word" in grains and response_format != "verbose_json":
                raise UploadError(
                    400,
                    "bad_timestamp_granularities",
                    "word timestamps need response_format=verbose_json",
                    "ask for verbose_json, or leave timestamp_granularities[] out",
                )
            temperature = form.get("temperature")
            if temperature:
                try:
                    float(temperature)
                except ValueError:
                    raise UploadError(
                        400, "bad_params", f"temperature must be a number, not {temperature!r}"
                    ) from None
            stream = flag(form.get("stream"))
            ask = Ask(
                translate=task == "translate",
                language=None if task == "translate" else language_code(form.get("language")),
                prompt=form.get("prompt") or None,
                words="word" in grains,
                model=doors.model_for(form.get("model")),
            )
        except BaseException:
            form.discard()
            raise
        answer = await doors.transcribe(upload, ask, lambda: wait_disconnect(request))
        form.discard()
        doors.after_answer(answer)
        if stream:
            return ServerSentEvent(_deltas(answer.transcript))
        body, media_type = formats.openai_body(answer.transcript, response_format, grains, task)
        return Response(body, media_type=media_type)

    @post("/v1/audio/transcriptions", status_code=200)
    async def v1_transcriptions(request: Request) -> Response[Any]:
        return await openai_door(request, "transcribe")

    @post("/v1/audio/translations", status_code=200)
    async def v1_translations(request: Request) -> Response[Any]:
        return await openai_door(request, "translate")

    # ------------------------------------------------------------ whisper-asr-webservice

    def asr_query(request: Request) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(request.scope["query_string"].decode()).items()}

    @post("/asr", status_code=200)
    async def asr(request: Request) -> Response[bytes]:
        query = asr_query(request)
        task = query.get("task") or "transcribe"
        output = query.get("output") or "txt"
        if task not in ("transcribe", "translate"):
            raise UploadError(
                400, "bad_params", f"task must be transcribe or translate, not {task!r}"
            )
        if output not in formats.ASR_OUTPUTS:
            raise UploadError(
                400,
                "bad_params",
                f"output must be one of {', '.join(formats.ASR_OUTPUTS)}, not {output!r}",
            )
        encode = flag(query.get("encode"), default=True)
        ask = Ask(
            translate=task == "translate",
            language=language_code(query.get("language")),
            prompt=query.get("initial_prompt") or None,
            words=flag(query.get("word_timestamps")),
            vad=flag(query.get("vad_filter")) if "vad_filter" in query else None,
        )
        form = await read_upload(request, doors.upload_dir, raw_pcm=not encode)
        upload = form.file("audio_file")
        if upload is None:
            form.discard()
            raise UploadError(400, "missing_file", "the request has no `audio_file` part")
        answer = await doors.transcribe(upload, ask, lambda: wait_disconnect(request))
        form.discard()
        doors.after_answer(answer)
        name = quote(fit_bytes(upload.filename, MAX_STEM_BYTES))  # a header, not 12 kB
        return Response(
            formats.asr_body(answer.transcript, output).encode(),
            media_type="text/plain",
            headers={"content-disposition": f'attachment; filename="{name}.{output}"'},
        )

    @post("/detect-language", status_code=200)
    async def detect_language(request: Request) -> Response[bytes]:
        encode = flag(asr_query(request).get("encode"), default=True)
        form = await read_upload(request, doors.upload_dir, raw_pcm=not encode)
        upload = form.file("audio_file")
        if upload is None:
            form.discard()
            raise UploadError(400, "missing_file", "the request has no `audio_file` part")
        answer = await doors.detect(upload, lambda: wait_disconnect(request))
        form.discard()
        doors.after_answer(answer)
        t = answer.transcript
        return json_response(
            {
                "detected_language": formats.language_name(t.language),
                "language_code": t.language,
                "confidence": t.language_probability,
            }
        )

    @get("/status")
    async def asr_status() -> Response[bytes]:
        return json_response(
            {"version": __version__, "engine": "earwig", "model": daemon.config.transcribe.model}
        )

    # ------------------------------------------------------------ /api

    def rest_handler(r: rest.Route) -> Any:
        async def handler(request: Request) -> Response[bytes]:
            query = parse_qs(request.scope["query_string"].decode(), keep_blank_values=True)
            length = request.headers.get("content-length")
            body = await rest.read_json(request.stream(), length) if r.body else None
            params = rest.params_for(r, dict(request.path_params), query, body)
            return json_response(await rest.call(daemon, r.kind, params))

        handler.__name__ = f"api_{r.method.lower()}_{r.kind.replace('.', '_')}"
        return route(
            r.path, http_method=[cast(Any, r.method)], status_code=200, name=f"{r.method} {r.path}"
        )(handler)

    @post("/api/jobs", status_code=200)
    async def add_jobs(request: Request) -> Response[bytes]:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/"):
            form = await read_upload(request, daemon.config.downloads.dir / "uploads")
            if not form.files:
                form.discard()
                raise UploadError(400, "missing_file", "the form has no `file` part")
            paths = [str(f.path) for f in form.files]
            added: dict[str, Any] = {"results": []}
            try:
                force = flag(form.get("force"))
                added = await rest.call(daemon, "job.add", {"paths": paths, "force": force})
            finally:  # nothing queued from it (a duplicate, a refusal): its folder goes
                if not any("job" in result for result in added["results"]):
                    form.discard()
            return json_response(added)
        else:
            length = request.headers.get("content-length")
            doc = await rest.read_json(request.stream(), length) or {}
            if not isinstance(doc, dict):
                raise rest.BadRequest('the body must be {"url": ...} or {"urls": [...]}')
            urls = doc.get("urls") or ([doc["url"]] if doc.get("url") else [])
            if not isinstance(urls, list) or not urls:
                raise rest.BadRequest('give {"url": "https://..."} or {"urls": [...]}')
            paths, force = urls, doc.get("force", False)
        return json_response(await rest.call(daemon, "job.add", {"paths": paths, "force": force}))

    @get("/api/jobs/{job_id:int}/{name:str}")
    async def job_file(request: Request, job_id: int, name: str) -> Response[Any]:
        if name == "media":
            return media_response(daemon, job_id, request.headers.get("range"))
        match = re.fullmatch(r"transcript\.(\w+)", name)
        if not match or match.group(1) not in outputs.WRITERS:
            raise rest.BadRequest(
                f"no {name!r} here", "transcript.txt, .srt, .vtt, .tsv, .json, .md, or media"
            )
        fmt = match.group(1)
        job = daemon.store.get_job(job_id)
        transcript = daemon.store.get_transcript(job_id)
        if transcript is None:
            return error_response(
                404, "no_transcript", f"job {job_id} has no transcript yet", f"it is {job.state}"
            )
        text = outputs.WRITERS[fmt](transcript, outputs.transcript_meta(job))
        return Response(text.encode(), media_type=MEDIA_TYPES[fmt])

    @get("/api/models")
    async def api_models() -> Response[bytes]:
        return json_response(
            {"models": models_list(daemon, full=True), "configured": daemon.config.transcribe.model}
        )

    @get("/api/events")
    async def api_events(limit: int | None = None) -> Stream:
        # ?limit=N: the snapshot's newest N jobs (the web page asks for fewer than 500)
        return Stream(
            events.sse_events(daemon, limit),
            media_type="text/event-stream",
            headers=events.SSE_HEADERS,
        )

    @websocket("/api/ws")
    async def api_ws(socket: WebSocket) -> None:
        await events.websocket_session(daemon, socket)

    @get("/api/schema")
    async def api_schema() -> Response[bytes]:
        extra = [
            {
                "path": "/api/jobs",
                "method": "post",
                "op": {"summary": "job.add: JSON {url} or {urls}, or multipart `file` parts"},
            },
            {
                "path": "/api/jobs/{id}/transcript.{format}",
                "method": "get",
                "op": {"summary": "the transcript as txt, srt, vtt, tsv, json or md"},
            },
            {
                "path": "/api/jobs/{id}/media",
                "method": "get",
                "op": {"summary": "the job's audio or video (Range supported)"},
            },
            {
                "path": "/api/events",
                "method": "get",
                "op": {"summary": "Server-Sent Events: snapshot, then the socket's events"},
            },
            {
                "path": "/v1/audio/transcriptions",
                "method": "post",
                "op": {"summary": "OpenAI-compatible transcription"},
            },
            {
                "path": "/asr",
                "method": "post",
                "op": {"summary": "whisper-asr-webservice-compatible transcription"},
            },
        ]
        return json_response(rest.openapi(extra))

    static = create_static_files_router(path="/static", directories=[STATIC])
    return Litestar(
        route_handlers=[
            index,
            job_page,
            v1_models,
            v1_transcriptions,
            v1_translations,
            asr,
            detect_language,
            asr_status,
            add_jobs,
            job_file,
            api_models,
            api_events,
            api_ws,
            api_schema,
            static,
            *(rest_handler(r) for r in rest.ROUTES),
        ],
        exception_handlers={
            EarwigError: on_earwig_error,
            HTTPException: on_http_error,
            Exception: on_bug,
        },
        openapi_config=None,
        request_max_body_size=None,
        logging_config=None,
        debug=False,
    )


def _deltas(t: Any) -> AsyncIterator[ServerSentEventMessage]:
    import json

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        first = True
        for s in t.segments:
            if s.text.strip():  # the deltas add up to the done event's text
                delta = ("" if first else " ") + s.text.strip()
                first = False
                yield ServerSentEventMessage(
                    data=json.dumps({"type": "transcript.text.delta", "delta": delta})
                )
        done = {"type": "transcript.text.done", "text": formats.text_of(t)}
        yield ServerSentEventMessage(data=json.dumps(done))

    return stream()


def models_list(daemon: Daemon, full: bool = False) -> list[dict[str, Any]]:
    """The installed models, and `whisper-1` standing for the configured one."""
    from earwig.transcribe.models import local_models

    cfg = daemon.config.transcribe
    found = local_models(cfg.models_dir, cfg.model)
    if full:
        return found
    names = ["whisper-1", *(m["name"] for m in found)]
    return [
        {"id": n, "object": "model", "created": 0, "owned_by": "earwig"}
        for n in dict.fromkeys(names)
    ]


def media_response(daemon: Daemon, job_id: int, range_header: str | None) -> Response[Any]:
    """The job's media file, with HTTP Range (a player seeks)."""
    import mimetypes

    job = daemon.store.get_job(job_id)
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
            return Response(
                error_body("bad_range", f"the file has {size} bytes"),
                status_code=416,
                media_type="application/json",
                headers={"content-range": f"bytes */{size}"},
            )
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
