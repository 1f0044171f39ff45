"""/api: earwig's own REST API, derived from the socket protocol, so the two cannot drift.

Each route names a socket request (protocol.REQUESTS) and where its params come from (the
path, the query string, the JSON body); query values are converted to the type their one
declaration gives (web/params.py, msgspec), checked by the same `protocol.parse_params`, and
handed to the same dispatcher (daemon/dispatch.py) the socket uses. The result is that
handler's result, as JSON. The /api router (web/doors/api.py) serves these routes;
tests/unit/test_http_parts.py checks that every request is reachable here (or is one the
event stream covers) and that every route's params are declared.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from earwig import protocol
from earwig.errors import EarwigError, RefusedRequest
from earwig.web import params

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
    Route("POST", "/api/jobs/{id:int}/translate", "job.translate", body=True),
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
    Route("POST", "/api/media-servers/test", "media_servers.test"),
)
# POST /api/jobs (job.add) is its own route in doors/api.py: it also takes multipart uploads


class BadRequest(EarwigError):
    code = "bad_params"


MAX_JSON = 1_000_000  # bytes of a JSON body: some 10,000 URLs; uploads are multipart


async def read_body(
    chunks: AsyncIterator[bytes], content_length: str | None, limit: int = MAX_JSON
) -> bytes:
    """A JSON request's body, read up to `limit` bytes: past it a 413 before any more is
    read (a 300 MB body took the daemon to 1.45 GB and five minutes of work)."""
    too_large = RefusedRequest(
        413,
        "too_large",
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
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """A body as JSON: one that is not JSON, or nested too deep to parse, is a 400 (a
    RecursionError was a 500 with a traceback). An empty body is None."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the JSON body is nested too deep") from None


async def read_json(
    chunks: AsyncIterator[bytes], content_length: str | None, limit: int = MAX_JSON
) -> Any:
    """A JSON request body, capped (read_body) and parsed (parse_json)."""
    return parse_json(await read_body(chunks, content_length, limit))


def declared(kind: str) -> dict[str, protocol.Field]:
    """A request's parameters, as its one declaration (a protocol.Request Struct) gives them."""
    return protocol.fields(protocol.REQUESTS[kind])


def shape(annotation: Any) -> str:
    """The JSON schema type of a parameter: "array", "boolean", "integer" or "string"."""
    if params.is_list(annotation):
        return "array"
    base = params.base_type(annotation)
    return {bool: "boolean", int: "integer"}.get(base, "string")


def convert(kind: str, name: str, values: list[str]) -> Any:
    """A query string's values as the value the declaration's type wants (a list: every
    value, comma-separated ones split; an int or a bool converted; text as it is), which
    parse_params then checks like any socket request's."""
    field = declared(kind)[name]
    if params.is_list(field.type):
        return params.split(values)
    if params.base_type(field.type) not in (int, bool):
        return values[-1]
    try:
        return params.scalar(values[-1], field.type)
    except msgspec.ValidationError:
        raise BadRequest(f"{name} must be {field.expected}, not {values[-1]!r}") from None


def params_for(
    route: Route,
    path_params: dict[str, Any],
    query: dict[str, list[str]],
    body: bytes,
) -> dict[str, Any]:
    """The socket request's params for one HTTP request to `route` (`body` read capped by
    read_body)."""
    found: dict[str, Any] = {**path_params, **route.fixed}
    for qname, values in query.items():
        pname = route.query.get(qname)
        if pname is None:
            known = ", ".join(route.query) or "none"
            raise BadRequest(f"{route.path} takes no query parameter {qname!r} (it takes: {known})")
        found[pname] = convert(route.kind, pname, values)
    if body.strip():
        if not route.body:
            raise BadRequest(f"{route.method} {route.path} takes no body")
        doc = parse_json(body)
        if not isinstance(doc, dict):
            raise BadRequest("the body must be a JSON object")
        found.update(doc)
    return found


def openapi() -> dict[str, Any]:
    """The OpenAPI document of these routes, from the same declarations (the /api router
    adds every other route the app serves)."""

    def schema_of(field: protocol.Field) -> dict[str, Any]:
        how = shape(field.type)
        schema: dict[str, Any] = {"type": how, "description": field.expected}
        if how == "array":
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
    from earwig import __version__

    return {"openapi": "3.1.0", "info": {"title": "earwig", "version": __version__}, "paths": paths}


def _path_names(path: str) -> list[str]:
    import re

    return [m.split(":")[0] for m in re.findall(r"{([^}]+)}", path)]
