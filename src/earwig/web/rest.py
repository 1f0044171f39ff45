"""/api: earwig's own REST API, derived from the socket protocol, so the two cannot drift.

Each route names a socket request (protocol.REQUESTS) and where its params come from (the
path, the query string, the JSON body); the values are converted by the kind their one
declaration gives, checked by the same `protocol.check_params`, and handed to the same
handler (daemon/handlers.HANDLERS) the socket calls. The result is that handler's result,
as JSON. tests/unit/test_http_parts.py checks that every request is reachable here (or is
one the event stream covers) and that every route's params are declared.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from earwig import protocol
from earwig.daemon.handlers import HANDLERS
from earwig.errors import EarwigError, ProtocolError

# Only over the socket or the event streams: "subscribe" is /api/events and /api/ws
NOT_ROUTED = {"subscribe"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Litestar's syntax: /api/jobs/{id:int}
    kind: str  # the socket request it calls
    query: dict[str, str] = field(default_factory=dict)  # query name -> param name
    body: bool = False  # a JSON object body gives params by their own names
    fixed: dict[str, Any] = field(default_factory=dict)  # params the route itself sets


def _steer(action: str) -> Route:
    return Route("POST", f"/api/jobs/{{id:int}}/{action}", f"job.{action}", body=action == "retry")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/status", "status"),
    Route(
        "GET",
        "/api/jobs",
        "jobs.list",
        query={"state": "states", "limit": "limit", "offset": "offset", "warnings": "warnings"},
    ),
    Route("GET", "/api/jobs/{id:int}", "job.get", query={"transcript": "transcript"}),
    Route("DELETE", "/api/jobs/{id:int}", "job.delete"),
    *(_steer(a) for a in ("pause", "resume", "cancel", "retry", "prioritize")),
    Route("POST", "/api/queue/pause", "queue.pause"),
    Route("POST", "/api/queue/resume", "queue.resume"),
    Route(
        "GET",
        "/api/search",
        "search",
        query={"q": "query", "source": "source", "since": "since", "limit": "limit"},
    ),
    Route("GET", "/api/subscriptions", "subscriptions.list"),
    Route("POST", "/api/subscriptions", "subscription.add", body=True),
    Route("DELETE", "/api/subscriptions/{name:str}", "subscription.remove"),
    Route("POST", "/api/subscriptions/{name:str}/check", "subscription.check"),
    Route("POST", "/api/subscriptions/check", "subscription.check"),
    Route("GET", "/api/speakers", "speakers.list"),
    Route("POST", "/api/jobs/{id:int}/speakers/{speaker:str}", "speaker.name", body=True),
    Route("DELETE", "/api/speakers/{name:str}", "speaker.forget"),
    Route("GET", "/api/slots", "slots.list"),
    Route("POST", "/api/slots/{name:str}/drain", "slot.drain", fixed={"drain": True}),
    Route("POST", "/api/slots/{name:str}/undrain", "slot.drain", fixed={"drain": False}),
    Route("GET", "/api/logs", "logs.tail", query={"limit": "limit"}),
    Route("POST", "/api/config/reload", "config.reload"),
)
# POST /api/jobs (job.add) is its own route in app.py: it also takes multipart uploads


class BadRequest(EarwigError):
    code = "bad_params"


class TooLarge(EarwigError):
    code = "too_large"
    status = 413


MAX_JSON = 1_000_000  # bytes of a JSON body: some 10,000 URLs; uploads are multipart


async def read_json(
    chunks: AsyncIterator[bytes], content_length: str | None, limit: int = MAX_JSON
) -> Any:
    """A JSON request body, read up to `limit` bytes: past it a 413 before any more is read
    (a 300 MB body took the daemon to 1.45 GB and five minutes of work), and a body that is
    not JSON, or nested too deep to parse, a 400. An empty body is None."""
    too_large = TooLarge(
        f"the JSON body is larger than {limit // 1000} kB",
        "send fewer items per request (a list of URLs in several requests), or upload files "
        "as multipart",
    )
    if content_length and content_length.strip().isdigit() and int(content_length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the JSON body is nested too deep") from None


def declared(kind: str) -> dict[str, protocol.Field]:
    """A request's parameters, as its one declaration (a protocol.Request Struct) gives them."""
    return protocol.fields(protocol.REQUESTS[kind])


def shape(annotation: Any) -> str:
    """What a parameter's annotation takes, as a query string must be read: "int", "bool",
    "strs" (a list) or "str" (a string, a Literal's choice, an enum's value)."""
    base = annotation
    while True:
        origin = typing.get_origin(base)
        if origin is typing.Annotated:
            base = typing.get_args(base)[0]
        elif origin in (typing.Union, types.UnionType):
            base = next(a for a in typing.get_args(base) if a is not type(None))
        else:
            break
    if typing.get_origin(base) is list:
        return "strs"
    if base is bool:
        return "bool"
    if base is int:
        return "int"
    return "str"


def convert(kind: str, name: str, values: list[str]) -> Any:
    """A query string's text as the value the declaration's type wants; parse_params then
    checks it like any socket request's."""
    field = declared(kind)[name]
    how = shape(field.type)
    if how == "strs":
        return [v for value in values for v in value.split(",") if v]
    text = values[-1]
    if how == "int":
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"{name} must be {field.expected}, not {text!r}") from None
    if how == "bool":
        lowered = text.lower()
        if lowered in ("true", "1", "yes", ""):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise BadRequest(f"{name} must be true or false, not {text!r}")
    return text


def params_for(
    route: Route,
    path_params: dict[str, Any],
    query: dict[str, list[str]],
    body: Any,
) -> dict[str, Any]:
    """The socket request's params for one HTTP request to `route`."""
    params: dict[str, Any] = {**path_params, **route.fixed}
    for qname, values in query.items():
        pname = route.query.get(qname)
        if pname is None:
            known = ", ".join(route.query) or "none"
            raise BadRequest(f"{route.path} takes no query parameter {qname!r} (it takes: {known})")
        params[pname] = convert(route.kind, pname, values)
    if body is not None and body != b"":  # parsed by read_json
        if not route.body:
            raise BadRequest(f"{route.method} {route.path} takes no body")
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        params.update(body)
    return params


async def call(daemon: Any, kind: str, params: dict[str, Any]) -> Any:
    """The socket's own path: check the params against the declaration, run the handler."""
    checked = protocol.parse_params(kind, params)
    try:
        return await HANDLERS[kind](daemon, checked, None)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"bad params for {kind}: {exc}") from None


STATUS_OF = {
    "not_found": 404,
    "invalid_transition": 409,
    "already_running": 409,
    "server_unavailable": 503,
    "store": 500,
    "internal": 500,
}


def status_of(exc: EarwigError) -> int:
    return int(getattr(exc, "status", 0) or STATUS_OF.get(exc.code, 400))


def openapi(extra: list[dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI document of /api, from the same routes and declarations."""
    json_types = {"int": "integer", "str": "string", "bool": "boolean", "strs": "array"}

    def schema_of(field: protocol.Field) -> dict[str, Any]:
        how = shape(field.type)
        schema: dict[str, Any] = {"type": json_types[how], "description": field.expected}
        if how == "strs":
            schema["items"] = {"type": "string"}
        if field.default is not None and not field.required:
            schema["default"] = field.default
        return schema

    paths: dict[str, Any] = {}
    for route in ROUTES:
        path = route.path.replace(":int}", "}").replace(":str}", "}")
        fields = declared(route.kind)
        in_path = _path_names(route.path)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": schema_of(fields[name])}
            for name in in_path
        ]
        parameters += [
            {"name": qname, "in": "query", "schema": schema_of(fields[pname])}
            for qname, pname in route.query.items()
        ]
        doc = (protocol.REQUESTS[route.kind].__doc__ or "").strip()
        op: dict[str, Any] = {
            "operationId": f"{route.method.lower()}_{route.kind.replace('.', '_')}",
            "summary": f"{route.kind}: {doc}" if doc else route.kind,
            "parameters": parameters,
            "responses": {
                "200": {"description": f"the socket request {route.kind}'s result"},
                "4XX": {"description": '{"error": {"code", "message", "hint"}}'},
            },
        }
        if route.body:
            props = {n: schema_of(f) for n, f in fields.items() if n not in in_path}
            op["requestBody"] = {
                "content": {"application/json": {"schema": {"type": "object", "properties": props}}}
            }
        paths.setdefault(path, {})[route.method.lower()] = op
    for item in extra:
        paths.setdefault(item["path"], {})[item["method"]] = item["op"]
    from earwig import __version__

    return {"openapi": "3.1.0", "info": {"title": "earwig", "version": __version__}, "paths": paths}


def _path_names(path: str) -> list[str]:
    import re

    return [m.split(":")[0] for m in re.findall(r"{([^}]+)}", path)]
