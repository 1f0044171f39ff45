"""The doors' pure parts: query strings and forms converted as declared, /api derived from the
protocol (comma lists included, as the page sends them), the OpenAPI document listing every
route the app serves, and the page's JavaScript copies of the daemon's job states, actions and
event names equal to their Python declarations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import pytest

from earwig import formatting, jobs, model, protocol
from earwig.errors import RefusedRequest
from earwig.web import rest
from earwig.web.doors.asr import AsrQuery
from earwig.web.doors.openai import CODES, OpenAIForm
from earwig.web.params import from_text

JS = Path(__file__).parents[2] / "src" / "earwig" / "web" / "static" / "js"


def test_list_queries_are_split_at_commas_as_the_page_sends_them() -> None:
    listed = next(r for r in rest.ROUTES if r.kind == "jobs.list")
    params = rest.params_for(listed, {}, {"state": ["queued,paused", "done"]}, b"")
    assert params == {"states": ["queued", "paused", "done"]}
    assert protocol.parse_params("jobs.list", params).states == ["queued", "paused", "done"]  # type: ignore[attr-defined]


def test_query_flags_and_numbers_convert_as_declared() -> None:
    listed = next(r for r in rest.ROUTES if r.kind == "jobs.list")
    assert rest.params_for(listed, {}, {"warnings": [""], "limit": ["7"]}, b"") == {
        "warnings": True,
        "limit": 7,
    }
    for word, value in (("yes", True), ("off", False), ("0", False), ("TRUE", True)):
        assert rest.params_for(listed, {}, {"warnings": [word]}, b"")["warnings"] is value
    with pytest.raises(rest.BadRequest, match="limit must be"):
        rest.params_for(listed, {}, {"limit": ["7.5"]}, b"")


def route(method: str, path: str) -> rest.Route:
    return next(r for r in rest.ROUTES if (r.method, r.path) == (method, path))


def test_each_route_takes_its_params_from_the_path_the_route_and_the_body() -> None:
    retry = route("POST", "/api/jobs/{id:int}/retry")
    assert rest.params_for(retry, {"id": 4}, {}, b'{"model": "base"}') == {"id": 4, "model": "base"}
    undrain = route("POST", "/api/slots/{name:str}/undrain")
    assert rest.params_for(undrain, {"name": "local"}, {}, b"") == {"name": "local", "drain": False}
    drain = route("POST", "/api/slots/{name:str}/drain")
    assert rest.params_for(drain, {"name": "local"}, {}, b"")["drain"] is True
    listed = route("GET", "/api/jobs")
    assert rest.params_for(listed, {}, {"limit": ["5", "9"]}, b"") == {"limit": 9}  # the last
    assert rest.params_for(route("GET", "/api/search"), {}, {"q": ["a", "b"]}, b"") == {
        "query": "b"
    }
    pause = route("POST", "/api/jobs/{id:int}/pause")
    with pytest.raises(rest.BadRequest, match="takes no body"):
        rest.params_for(pause, {"id": 4}, {}, b'{"id": 5}')
    with pytest.raises(rest.BadRequest, match="must be a JSON object"):
        rest.params_for(retry, {"id": 4}, {}, b"[1]")
    with pytest.raises(rest.BadRequest, match="not JSON"):
        rest.params_for(retry, {"id": 4}, {}, b"{nope")


def test_the_openai_form_converts_and_names_what_is_wrong() -> None:
    form = from_text(
        OpenAIForm,
        {
            "response_format": ["verbose_json"],
            "temperature": ["0.2"],
            "timestamp_granularities[]": ["word", "segment"],
            "stream": ["true"],
            "unknown": ["ignored"],
        },
        CODES,
    )
    assert (form.response_format, form.temperature, form.stream) == ("verbose_json", 0.2, True)
    assert form.timestamp_granularities == ["word", "segment"]
    assert from_text(OpenAIForm, {"response_format": [""]}, CODES).response_format == "json"
    for fields, code, words in (
        ({"response_format": ["yaml"]}, "bad_response_format", "response_format must be one of"),
        (
            {"timestamp_granularities[]": ["segment", "minute"]},
            "bad_timestamp_granularities",
            "'minute'",
        ),
        ({"temperature": ["warm"]}, "bad_params", "temperature must be a number, not 'warm'"),
        ({"stream": ["maybe"]}, "bad_params", "stream must be true or false"),
    ):
        with pytest.raises(RefusedRequest) as err:
            from_text(OpenAIForm, fields, CODES)
        assert err.value.status == 400 and err.value.code == code, fields
        assert words in err.value.message, err.value.message


def test_the_asr_query_converts_as_whisper_asr_reads_it() -> None:
    query = from_text(
        AsrQuery,
        {"encode": ["false"], "task": ["translate"], "vad_filter": ["on"], "output": ["srt"]},
        {},
    )
    assert (query.encode, query.task, query.vad_filter, query.output) == (
        False,
        "translate",
        True,
        "srt",
    )
    assert from_text(AsrQuery, {}, {}).vad_filter is None  # not given: the configured one
    with pytest.raises(RefusedRequest, match="output must be one of txt"):
        from_text(AsrQuery, {"output": ["pdf"]}, {})


def test_the_openapi_document_lists_every_route_the_app_serves() -> None:
    from litestar.routes import HTTPRoute, WebSocketRoute

    from earwig.web.app import build
    from earwig.web.doors.api import openapi
    from earwig.web.host import Host

    app = build(cast(Host, object()))  # the routes only: no request reaches the host
    doc = openapi(app)
    served: set[tuple[str, str]] = set()
    for r in app.routes:
        path = re.sub(r"{(\w+):\w+}", r"{\1}", r.path)
        if isinstance(r, WebSocketRoute):
            served.add((path, "get"))
        elif isinstance(r, HTTPRoute):
            for h in r.route_handlers:
                if h.include_in_schema:
                    served |= {(path, m.lower()) for m in h.http_methods} - {
                        (path, "options"),
                        (path, "head"),
                    }
    listed = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served <= listed, served - listed
    assert {("/v1/audio/transcriptions", "post"), ("/asr", "post"), ("/api/ws", "get")} <= listed
    assert all(op.get("summary") for ops in doc["paths"].values() for op in ops.values())


# ---------------------------------------------------------------- the page's copies


def js(name: str) -> str:
    return (JS / name).read_text(encoding="utf-8")


def strings(text: str) -> list[str]:
    return re.findall(r'"([\w.]+)"', text)


def test_the_page_knows_the_states_as_the_daemon_declares_them() -> None:
    source = js("format.js")
    for name, declared in (
        ("RUNNING", model.RUNNING),
        ("WAITING", (model.JobState.QUEUED, model.JobState.PAUSED)),
        ("FINISHED", model.FINISHED),
    ):
        found = re.search(rf"export const {name} = \[(.*?)\];", source)
        assert found, name
        assert set(strings(found.group(1))) == {str(s) for s in declared}, name
    order = re.search(r"const STATE_ORDER = \{(.*?)\};", source, re.S)
    assert order
    pairs = dict(re.findall(r"(\w+): (\d+)", order.group(1)))
    assert {k: int(v) for k, v in pairs.items()} == formatting.STATE_ORDER
    assert set(pairs) == {str(s) for s in model.JobState}


def actions_by_state() -> dict[str, set[str]]:
    """What the daemon lets a person do to a job in each state: the steering transitions of
    jobs.py, to the top while waiting (prioritize), delete once finished."""
    steer = {"pause": jobs.Action.PAUSE, "resume": jobs.Action.RESUME}
    steer |= {"cancel": jobs.Action.CANCEL, "retry": jobs.Action.RETRY}
    found: dict[str, set[str]] = {}
    for state in model.JobState:
        allowed = {name for name, a in steer.items() if (state, a) in jobs.TRANSITIONS}
        if state in (model.JobState.QUEUED, model.JobState.PAUSED):
            allowed.add("prioritize")
        if state in model.FINISHED:
            allowed.add("delete")
        found[str(state)] = allowed
    return found


def test_the_pages_buttons_are_the_actions_the_daemon_allows() -> None:
    source = js("ui.js")
    body = re.search(r"export function actionsFor\(job\) \{(.*?)\n\}", source, re.S)
    assert body
    offered: dict[str, set[str]] = {}
    for line in body.group(1).splitlines():
        states = re.findall(r'case "(\w+)"', line)
        returned = re.search(r"return \[(.*?)\]", line)
        for state in states:
            offered[state] = set(strings(returned.group(1))) if returned else set()
    assert offered == actions_by_state()
    labels = re.search(r"export const ACTION_LABELS = \{(.*?)\};", source, re.S)
    assert labels
    steering: dict[str, Any] = {k: v for k, v in protocol.REQUESTS.items() if k.startswith("job.")}
    # translate takes a language: a form on the job's page, not a button in the list
    kinds = {k.removeprefix("job.") for k in steering} - {"get", "add", "translate"}
    assert set(re.findall(r"(\w+):", labels.group(1))) == kinds
    assert "/api/jobs/${page.id}/translate" in js("job.js")


def test_the_page_listens_to_every_event_the_daemon_sends() -> None:
    declared = set(protocol.EVENTS)
    live = js("live.js")
    events = re.search(r"const EVENTS = \[(.*?)\];", live, re.S)
    segments = re.search(r"const SEGMENT_EVENTS = \[(.*?)\];", live, re.S)
    assert events and segments
    assert set(strings(events.group(1))) | set(strings(segments.group(1))) == declared
    early = re.search(r"const names = \[(.*?)\];", js("early.js"), re.S)
    assert early
    assert set(strings(early.group(1))) == declared | {"snapshot", "error"}


def test_whisper_asr_answers_end_as_theirs_and_carry_what_is_known() -> None:
    from earwig.model import Segment, Transcript
    from earwig.web import formats

    t = Transcript(
        (
            Segment(0.0, 1.5, " Hello there.", avg_logprob=-0.21, compression_ratio=1.1),
            Segment(1.5, 3.0, " General --> Kenobi."),
        ),
        "en",
        3.0,
        "faster-whisper",
        "tiny.en",
    )
    srt = formats.asr_body(t, "srt")
    assert srt.endswith("General -> Kenobi.\n\n") and not srt.endswith("\n\n\n")
    assert formats.asr_body(t, "vtt").endswith("Kenobi.\n\n")
    doc = json.loads(formats.asr_body(t, "json", ("a warning",)))
    assert doc["segments"][0]["avg_logprob"] == -0.21 and "avg_logprob" not in doc["segments"][1]
    assert doc["warnings"] == ["a warning"]
    assert "warnings" not in json.loads(formats.asr_body(t, "json"))
    body, _ = formats.openai_body(t, "verbose_json", (), "transcribe", ("a warning",))
    verbose = json.loads(body)
    assert verbose["warnings"] == ["a warning"]
    first, second = verbose["segments"]
    for made_up in ("tokens", "seek", "temperature", "no_speech_prob"):
        assert made_up not in first, made_up  # never a placeholder: 0.0 reads as certain
    assert first["avg_logprob"] == -0.21 and "avg_logprob" not in second


def test_one_dispatcher_one_error_policy(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    """The socket, /api and /api/ws all answer through daemon/dispatch.py: a handler's bug is
    logged once with its traceback and answered as `internal`, never ending the session; a
    refusal keeps its code; bad params name the field."""
    import asyncio
    import logging

    from earwig.daemon import dispatch
    from earwig.daemon.handlers import HANDLERS
    from earwig.errors import NotFound

    async def bug(api: Any, params: Any, box: Any) -> Any:
        raise RuntimeError("a bug")

    async def refuse(api: Any, params: Any, box: Any) -> Any:
        raise NotFound("no job 7")

    monkeypatch.setitem(HANDLERS, "status", bug)
    monkeypatch.setitem(HANDLERS, "logs.tail", refuse)
    api = cast(Any, object())
    with caplog.at_level(logging.ERROR, logger="earwig.requests"):
        reply = asyncio.run(dispatch.answer(api, {"id": 1, "type": "status"}, None))
    assert (
        reply["error"]["code"] == "internal" and "RuntimeError: a bug" in reply["error"]["message"]
    )
    assert [r.exc_info is not None for r in caplog.records] == [True]  # logged once, traceback
    reply = asyncio.run(dispatch.answer(api, {"id": 2, "type": "logs.tail"}, None))
    assert (reply["id"], reply["error"]["code"]) == (2, "not_found")
    reply = asyncio.run(
        dispatch.answer(api, {"id": 3, "type": "job.get", "params": {"id": 0}}, None)
    )
    assert "params.id" in reply["error"]["message"]
    refused = asyncio.run(dispatch.answer(api, {"id": 4, "type": "status"}, None, {"status"}))
    assert refused["error"]["code"] == "unknown_request"
    with pytest.raises(Exception) as err:
        asyncio.run(dispatch.call(api, "status", {}))
    assert getattr(err.value, "code", None) == "internal"
