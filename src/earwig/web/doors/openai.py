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
from earwig.daemon.apijobs import Ask
from earwig.model import Transcript
from earwig.web import formats
from earwig.web.answers import json_response, read_upload, wait_disconnect
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
    """The installed models, and `whisper-1` standing for the configured one."""
    return json_response({"object": "list", "data": models_list(host)})


@post("/audio/transcriptions", status_code=200)
async def transcriptions(request: Request, host: HostDep) -> Response[Any]:
    """OpenAI-compatible transcription (multipart `file`, `model`, `response_format`...)."""
    return await _door(request, host, "transcribe")


@post("/audio/translations", status_code=200)
async def translations(request: Request, host: HostDep) -> Response[Any]:
    """OpenAI-compatible translation into English."""
    return await _door(request, host, "translate")


router = Router("/v1", route_handlers=[models, transcriptions, translations])


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
            raise UploadError(
                400,
                "bad_timestamp_granularities",
                "word timestamps need response_format=verbose_json",
                "ask for verbose_json, or leave timestamp_granularities[] out",
            )
        ask = Ask(
            translate=task == "translate",
            language=None if task == "translate" else language_code(asked.language),
            prompt=asked.prompt or None,
            words="word" in grains,
            model=service.model_for(asked.model),
        )
    except BaseException:
        form.discard()
        raise
    answer = await service.transcribe(upload, ask, lambda: wait_disconnect(request))
    form.discard()
    service.after_answer(answer)
    if asked.stream:
        return ServerSentEvent(_deltas(answer.transcript))
    body, media_type = formats.openai_body(answer.transcript, asked.response_format, grains, task)
    return Response(body, media_type=media_type)


def _deltas(t: Transcript) -> AsyncIterator[ServerSentEventMessage]:
    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        first = True
        for s in t.segments:
            if s.text.strip():  # the deltas add up to the done event's text
                delta = ("" if first else " ") + s.text.strip()
                first = False
                event = {"type": "transcript.text.delta", "delta": delta}
                yield ServerSentEventMessage(data=protocol.dumps(event).decode())
        done = {"type": "transcript.text.done", "text": formats.text_of(t)}
        yield ServerSentEventMessage(data=protocol.dumps(done).decode())

    return stream()


def models_list(host: Host) -> list[dict[str, Any]]:
    """OpenAI's model objects: `whisper-1` (the configured model), then what is installed."""
    from earwig.transcribe.models import local_models

    cfg = host.config.transcribe
    names = ["whisper-1", *(m["name"] for m in local_models(cfg.models_dir, cfg.model))]
    return [
        {"id": n, "object": "model", "created": 0, "owned_by": "earwig"}
        for n in dict.fromkeys(names)
    ]
