"""The whisper-asr-webservice-compatible door, as Bazarr and Subgen call it: `POST /asr`,
`POST /detect-language` (multipart `audio_file`; raw s16le 16 kHz PCM with `encode=false`)
and `GET /status`. The query string is declared once (`AsrQuery`) and converted before a
byte of the body is read; the answers are whisper-asr-webservice's shapes (formats.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote

import msgspec
from litestar import Request, Response, Router, get, post
from msgspec import Meta

from earwig import __version__
from earwig.daemon.apijobs import Ask
from earwig.llm import translate
from earwig.media import MAX_STEM_BYTES, fit_bytes
from earwig.model import Transcript
from earwig.web import formats
from earwig.web.answers import json_response, read_upload, wait_disconnect, warning_headers
from earwig.web.host import Host, HostDep
from earwig.web.params import from_text, language_code
from earwig.web.uploads import Form, SavedFile, UploadError

Flag = Annotated[bool, Meta(description="true or false")]
Output = Literal["txt", "vtt", "srt", "tsv", "json"]


class DetectQuery(msgspec.Struct):
    """/detect-language's query string."""

    encode: Flag = True  # false: the body is raw s16le 16 kHz mono PCM (Bazarr)


class AsrQuery(DetectQuery):
    """/asr's query string."""

    task: Annotated[
        Literal["transcribe", "translate"], Meta(description="transcribe or translate")
    ] = "transcribe"
    language: str | None = None  # a code or a name
    initial_prompt: str | None = None
    output: Annotated[Output, Meta(description="one of " + ", ".join(formats.ASR_OUTPUTS))] = "txt"
    vad_filter: Flag | None = None  # None: the configured behaviour
    word_timestamps: Flag = False
    # Bazarr's "pass video name": the video the audio is from (mediaservers/bazarr.py)
    video_file: str | None = None
    diarize: Flag = False  # speaker labels, as its whisperX engine writes them
    min_speakers: Annotated[int, Meta(ge=1, le=20, description="1 to 20")] | None = None
    max_speakers: Annotated[int, Meta(ge=1, le=20, description="1 to 20")] | None = None
    # earwig's own: the subtitles in this language, by the [llm] model (docs/llm.md);
    # `language` stays the language spoken, as whisper-asr-webservice and Bazarr mean it
    translate_to: str | None = None


def query_of(request: Request) -> dict[str, list[str]]:
    return parse_qs(request.scope["query_string"].decode())


@post("/asr", status_code=200)
async def asr(request: Request, host: HostDep) -> Response[bytes]:
    """whisper-asr-webservice-compatible transcription (Bazarr's Whisper provider)."""
    query = from_text(AsrQuery, query_of(request), {})
    target = language_code(query.translate_to)
    if target == "en" and query.task == "translate":
        target = None  # Whisper's own translation does that
    if target is not None and not host.config.llm.enabled:
        raise UploadError(
            400,
            "no_llm",
            f"translate_to={query.translate_to} needs a language model, and [llm] is not set",
            "add [llm] with base_url and model to the daemon's config (docs/llm.md)",
        )
    ask = Ask(
        translate=query.task == "translate",
        language=language_code(query.language),
        prompt=query.initial_prompt or None,
        words=query.word_timestamps,
        vad=query.vad_filter,
        speakers=(query.min_speakers, query.max_speakers) if query.diarize else None,
        video=query.video_file,
    )
    form, upload = await _audio(request, host, query.encode)
    service = host.apijobs
    try:
        answer = await service.transcribe(upload, ask, lambda: wait_disconnect(request))
    finally:
        form.discard()  # the upload's folder goes, whatever happened (the client left...)
    name = quote(fit_bytes(upload.filename, MAX_STEM_BYTES))  # a header, not 12 kB
    if target is not None:  # the transcript's cues in that language, by the [llm] model
        try:
            cues = await host.followups.translation(
                answer.job["id"], target, lambda: wait_disconnect(request)
            )
        finally:
            service.after_answer(answer)
        width = host.config.output.cue_rules().line_width
        body = translate.render(cues, query.output, target, width)
    else:
        service.after_answer(answer)
        transcript = await _as_asked(host, answer.transcript, query)
        body = formats.asr_body(transcript, query.output, answer.warnings, labels=query.diarize)
    return Response(
        body.encode(),
        media_type="text/plain",
        headers={
            "content-disposition": f'attachment; filename="{name}.{query.output}"',
            **warning_headers(answer.warnings),
        },
    )


@post("/detect-language", status_code=200)
async def detect_language(request: Request, host: HostDep) -> Response[bytes]:
    """The language of the first 30 s, as whisper-asr-webservice answers it; never a
    language the model cannot hear (daemon/apijobs.py: `detect`)."""
    query = from_text(DetectQuery, query_of(request), {})
    form, upload = await _audio(request, host, query.encode)
    service = host.apijobs
    try:
        answer = await service.detect(upload, lambda: wait_disconnect(request))
    finally:
        form.discard()
    service.after_answer(answer)
    t = answer.transcript
    doc: dict[str, Any] = {
        "detected_language": formats.language_name(t.language),
        "language_code": t.language,
        "confidence": t.language_probability,
    }
    if answer.warnings:
        doc["warnings"] = list(answer.warnings)
    return json_response(doc, headers=warning_headers(answer.warnings))


@get("/status")
async def status(request: Request, host: HostDep) -> Response[bytes]:
    """whisper-asr-webservice's status: Bazarr's "Test connection", which sends no token
    (the guard lets it through): then the version alone; with the token, the model too."""
    if request.scope.get("earwig.auth") is None:
        return json_response({"version": __version__})
    model = host.config.transcribe.model
    return json_response({"version": __version__, "engine": "earwig", "model": model})


router = Router("/", route_handlers=[asr, detect_language, status])


async def _as_asked(host: Host, transcript: Transcript, query: AsrQuery) -> Transcript:
    """On the video's clock when Bazarr named the video; speakers as whisperX labels them."""
    from earwig.mediaservers import bazarr

    if query.video_file:
        offset = await host.mediaservers.video_offset(query.video_file)
        transcript = bazarr.on_video_clock(transcript, offset)
    if query.diarize:
        transcript = bazarr.whisperx_speakers(transcript)
    return transcript


async def _audio(request: Request, host: Host, encode: bool) -> tuple[Form, SavedFile]:
    form = await read_upload(
        request, host.apijobs.upload_dir, host.config.http.max_upload, raw_pcm=not encode
    )
    upload = form.file("audio_file")
    if upload is None:
        form.discard()
        raise UploadError(400, "missing_file", "the request has no `audio_file` part")
    return form, upload
