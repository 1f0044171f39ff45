"""The OpenAI-compatible door, /v1: `POST /v1/audio/transcriptions` and `/translations`
(multipart, as the openai SDK, Open WebUI and speaches' clients send them) and
`GET /v1/models`. The form is declared once (`OpenAIForm`) and converted; the work is the
API jobs' service's (daemon/apijobs.py); the answer's shape is formats.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.response import ServerSentEvent, ServerSentEventMessage
from msgspec import Meta

from earwig import protocol
from earwig.daemon.apijobs import Answer, ApiJobs, Ask, Pending
from earwig.errors import EarwigError, RefusedRequest
from earwig.web import formats
from earwig.web.answers import (
    error_response,
    json_response,
    read_upload,
    status_of,
    wait_disconnect,
    warning_headers,
)
from earwig.web.guard import error_body
from earwig.web.host import Host, HostDep
from earwig.web.params import from_text, language_code
from earwig.web.uploads import UploadError

Format = Literal["json", "text", "srt", "verbose_json", "vtt"]
Grain = Literal["segment", "word"]


class OpenAIForm(msgspec.Struct):
    """The form fields of /v1/audio/transcriptions and /translations (besides `file`)."""

    model: str | None = None
    language: str | None = None  # a code or a name; transcriptions only
    prompt: str | None = None
    response_format: Annotated[
        Format, Meta(description="one of " + ", ".join(formats.OPENAI_FORMATS))
    ] = "json"
    temperature: Annotated[float, Meta(description="a number")] | None = None
    timestamp_granularities: list[Annotated[Grain, Meta(description="segment or word")]] = (
        msgspec.field(default_factory=list, name="timestamp_granularities[]")
    )
    stream: Annotated[bool, Meta(description="true or false")] = False


CODES = {
    "response_format": "bad_response_format",
    "timestamp_granularities[]": "bad_timestamp_granularities",
}


@get("/models")
async def models(host: HostDep) -> Response[bytes]:
    """The models on this machine by every name a client may use, and `whisper-1` standing
    for the configured one."""
    return json_response({"object": "list", "data": models_list(host)})


@get("/models/{model_id:path}")
async def model(host: HostDep, model_id: str) -> Response[bytes]:
    """One model, by any of its names (404 in OpenAI's shape when it is not here)."""
    wanted = model_id.strip("/")
    for found in models_list(host):
        if found["id"] == wanted:
            return json_response(found)
    return error_response(
        404,
        "model_not_found",
        f"the model {wanted!r} is not on this machine",
        "GET /v1/models lists what is here; `earwig models pull NAME` fetches one",
        param="model",
    )


@post("/audio/transcriptions", status_code=200)
async def transcriptions(request: Request, host: HostDep) -> Response[Any]:
    """OpenAI-compatible transcription (multipart `file`, `model`, `response_format`...)."""
    return await _door(request, host, "transcribe")


@post("/audio/translations", status_code=200)
async def translations(request: Request, host: HostDep) -> Response[Any]:
    """OpenAI-compatible translation into English."""
    return await _door(request, host, "translate")


router = Router("/v1", route_handlers=[models, model, transcriptions, translations])


async def _door(request: Request, host: Host, task: str) -> Response[Any]:
    service = host.apijobs
    form = await read_upload(request, service.upload_dir, host.config.http.max_upload)
    try:
        upload = form.file("file")
        if upload is None:
            raise UploadError(
                400,
                "missing_file",
                "the request has no `file` part",
                "send the audio as the multipart field `file`",
            )
        fields = dict(form.fields)
        fields["timestamp_granularities[]"] = form.getall(
            "timestamp_granularities[]"
        ) + form.getall("timestamp_granularities")
        asked = from_text(OpenAIForm, fields, CODES)
        grains = tuple(asked.timestamp_granularities)
        if "word" in grains and asked.response_format != "verbose_json":
            raise RefusedRequest(
                400,
                "bad_timestamp_granularities",
                "word timestamps need response_format=verbose_json",
                "ask for verbose_json, or leave timestamp_granularities[] out",
                param="timestamp_granularities[]",
            )
        model, notes = service.model_for(asked.model)
        ask = Ask(
            translate=task == "translate",
            language=None if task == "translate" else language_code(asked.language),
            prompt=asked.prompt or None,
            words="word" in grains,
            model=model,
        )
        if asked.stream:
            started = await service.begin(upload, ask)
            form.discard()
            return _stream(service, started, notes)
        answer = await service.transcribe(upload, ask, lambda: wait_disconnect(request))
    finally:
        form.discard()  # the upload's folder goes, whatever happened (the client left...)
    service.after_answer(answer)
    warnings = (*notes, *answer.warnings)
    body, media_type = formats.openai_body(
        answer.transcript, asked.response_format, grains, task, warnings
    )
    return Response(body, media_type=media_type, headers=warning_headers(warnings))


def _stream(service: ApiJobs, started: Answer | Pending, notes: tuple[str, ...]) -> Response[Any]:
    """`stream=true`: each line as it is transcribed (the job's live lines), then the whole
    text; a stored answer's lines at once. A failure after the stream began is an `error`
    event (the status was sent already)."""

    def event(doc: dict[str, Any]) -> ServerSentEventMessage:
        return ServerSentEventMessage(data=protocol.dumps(doc).decode())

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        first = True

        def deltas(texts: list[str]) -> list[ServerSentEventMessage]:
            nonlocal first
            out = []
            for text in (t.strip() for t in texts):
                if text:  # the deltas add up to the lines' text
                    out.append(
                        event(
                            {
                                "type": "transcript.text.delta",
                                "delta": ("" if first else " ") + text,
                            }
                        )
                    )
                    first = False
            return out

        answer: Answer | None = started if isinstance(started, Answer) else None
        try:
            if answer is None:
                assert isinstance(started, Pending)
                async for item in service.follow(started):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        for message in deltas([s["text"] for s in item]):
                            yield message
            else:
                for message in deltas([s.text for s in answer.transcript.segments]):
                    yield message
        except EarwigError as exc:
            status = status_of(exc)
            yield event({"type": "error", **error_body(exc.code, exc.message, exc.hint, status)})
            return
        assert answer is not None
        service.after_answer(answer)
        done: dict[str, Any] = {
            "type": "transcript.text.done",
            "text": formats.text_of(answer.transcript),
        }
        warnings = (*notes, *answer.warnings)
        if warnings:
            done["warnings"] = list(warnings)
        yield event(done)

    return ServerSentEvent(events(), headers=warning_headers(notes))


def models_list(host: Host) -> list[dict[str, Any]]:
    """OpenAI's model objects: `whisper-1` (the configured model), then each model on this
    machine by each of its names: earwig's (`base`, `bundled`), faster-whisper's (`tiny.en`)
    and its Hugging Face id (`Systran/faster-whisper-base`), as speaches' clients name them."""
    from earwig.transcribe import catalog
    from earwig.transcribe.models import local_models

    cfg = host.config.transcribe
    names = ["whisper-1"]
    for found in local_models(cfg.models_dir, cfg.model):
        name = found["name"]
        entry = catalog.lookup("tiny.en" if name == "bundled" else name)
        names += [name, *((entry.name, entry.repo) if entry is not None else ())]
    return [
        {"id": n, "object": "model", "created": 0, "owned_by": "earwig"}
        for n in dict.fromkeys(names)
    ]
