"""One way a request becomes a result or a refusal, whatever carried it: the Unix socket
(daemon/server.py), /api and /api/ws (web/). So there is one error policy: the params are
checked against the request's one declaration (protocol.REQUESTS) before its handler runs;
an EarwigError is the refusal the handler meant; anything else is a bug in earwig, logged
once with its traceback and answered as `internal`, and the connection or session goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Set as AbstractSet
from typing import Any

from earwig import protocol
from earwig.daemon.bus import Outbox
from earwig.daemon.handlers import HANDLERS, Api
from earwig.errors import EarwigError, InternalError

log = logging.getLogger("earwig.requests")


class UnknownRequest(EarwigError):
    code = "unknown_request"


class BadParams(EarwigError):
    code = "bad_params"


async def call(api: Api, kind: str, params: Any, box: Outbox | None = None) -> Any:
    """The result of the `kind` request with `params`, or the EarwigError refusing it. `box`:
    the connection's outbox, for requests that stream events on it (subscribe)."""
    handler = HANDLERS.get(kind)
    if handler is None:
        raise UnknownRequest(
            f"unknown request type {kind!r}", "known: " + ", ".join(sorted(HANDLERS))
        )
    checked = protocol.parse_params(kind, params)
    try:
        return await handler(api, checked, box)
    except EarwigError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # a value of a shape not checked
        log.warning("request %s: bad params: %s", kind, exc)
        raise BadParams(f"bad params for {kind}: {exc}") from None
    except Exception as exc:
        log.exception("request %s failed", kind)
        raise InternalError(
            f"{type(exc).__name__}: {exc}", "a bug in earwig: see `earwig logs`"
        ) from None


async def answer(
    api: Api,
    message: protocol.Message,
    box: Outbox | None,
    refused: AbstractSet[str] = frozenset(),
) -> protocol.Message:
    """The reply to one decoded request message (`{"id", "type", "params"}`): ok with its
    result, or an error with code, message and hint. `refused`: kinds this transport does
    not carry (they read as unknown)."""
    msg_id, kind = message.get("id"), message.get("type")
    try:
        if not isinstance(kind, str) or kind in refused:
            raise UnknownRequest(f"unknown request type {kind!r}")
        return protocol.ok(msg_id, await call(api, kind, message.get("params"), box))
    except EarwigError as exc:
        return protocol.error(msg_id, exc.code, exc.message, exc.hint)
