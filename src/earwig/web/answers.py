"""How every door answers: JSON written by the one encoder (protocol.dumps), errors as
`{"error": {"code", "message", "hint"}}` with a 4xx for the client's mistakes, a bug as a 500
of the same shape with the traceback in the daemon's log (never in the answer), and the
upload every transcription door reads the same way (streamed to disk, size-limited).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException

from earwig import protocol
from earwig.errors import EarwigError
from earwig.web.guard import error_body
from earwig.web.uploads import Form, read_form, too_large

log = logging.getLogger("earwig.http")

STATUS_OF = {
    "not_found": 404,
    "invalid_transition": 409,
    "already_running": 409,
    "server_unavailable": 503,
    "store": 500,
    "internal": 500,
}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response[bytes]:
    return Response(
        protocol.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def error_response(
    status: int, code: str, message: str, hint: str = "", param: str | None = None
) -> Response[bytes]:
    """An error in the one shape (guard.error_body: code, message, hint, type, param)."""
    return json_response(error_body(code, message, hint, status, param), status)


def warning_headers(warnings: tuple[str, ...]) -> dict[str, str]:
    """What an answer warns of, in `X-Earwig-Warnings` (every format, srt and text too):
    the sentences joined by " | ", anything but printable ASCII percent-encoded."""
    if not warnings:
        return {}
    text = " | ".join(" ".join(w.split()) for w in warnings)[:4000]
    return {"x-earwig-warnings": quote(text, safe=_PRINTABLE)}


_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def status_of(exc: EarwigError) -> int:
    """The HTTP status of a refusal: its own (errors.RefusedRequest), else by its code."""
    return int(getattr(exc, "status", 0) or STATUS_OF.get(exc.code, 400))


def on_earwig_error(request: Request, exc: EarwigError) -> Response[bytes]:
    param = getattr(exc, "param", None)
    return error_response(status_of(exc), exc.code, exc.message, exc.hint, param)


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


EXCEPTION_HANDLERS: Mapping[Any, Any] = {
    EarwigError: on_earwig_error,
    HTTPException: on_http_error,
    Exception: on_bug,
}


async def read_upload(request: Request, folder: Path, limit: int, raw_pcm: bool = False) -> Form:
    """The request's multipart body, its files streamed into a new folder under `folder`;
    refused at once when it announces more than `limit` bytes (and a megabyte of form)."""
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


async def wait_disconnect(request: Request) -> None:
    """Returns when the client has gone (after its body was read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
