"""Text a client sent (a query string, form fields) as typed values, converted the way the
socket's requests are: declared once as a msgspec Struct (or a protocol request's field),
converted by msgspec with `strict=False` ("5" is 5, "true" is True), and refused with a 400
that names the field and what it takes.

HTML forms and query strings spell booleans more ways than JSON: yes/no and on/off count
too, and `?flag` with no value is true. A list takes every value given, each also split at
commas (`?state=queued,paused` as the page sends it). A name not declared is ignored, as
whisper-asr-webservice and OpenAI ignore fields they do not know.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from earwig.errors import RefusedRequest
from earwig.languages import LANGUAGES

S = TypeVar("S", bound=msgspec.Struct)
UNDESCRIBED = "a valid value"
BOOL_WORDS = {"": "true", "yes": "true", "on": "true", "no": "false", "off": "false"}


def base_type(annotation: Any) -> Any:
    """The type under Annotated[...] and Optional[...]."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def is_list(annotation: Any) -> bool:
    return typing.get_origin(base_type(annotation)) is list


def split(values: Sequence[str]) -> list[str]:
    """Every value of a repeated field, comma-separated ones split."""
    return [v for value in values for v in value.split(",") if v]


def scalar(text: str, annotation: Any) -> Any:
    """One text value as `annotation` wants it (msgspec, strict=False); a value it cannot
    take raises msgspec.ValidationError."""
    if base_type(annotation) is bool:
        text = BOOL_WORDS.get(text.strip().lower(), text)
    return msgspec.convert(text, annotation, strict=False)


def description(annotation: Any) -> str:
    """What a field takes, from its Meta(description=...) (inside an Optional too)."""
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, msgspec.Meta) and meta.description:
            return str(meta.description)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = (description(a) for a in typing.get_args(annotation) if a is not type(None))
        return next((d for d in found if d != UNDESCRIBED), UNDESCRIBED)
    return UNDESCRIBED


def from_text(cls: type[S], values: Mapping[str, Sequence[str]], codes: Mapping[str, str]) -> S:
    """The Struct `cls` from text fields (name -> the values given, in order). A field given
    blank is left at its default. `codes`: the error code a bad value of a field answers
    with (default "bad_params")."""
    doc: dict[str, Any] = {}
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    for name, f in fields.items():
        given = [v for v in values.get(name, ()) if v.strip()]
        if not given:
            continue
        if is_list(f.type):
            doc[name] = split(given)
            continue
        try:
            doc[name] = scalar(given[-1], f.type)
        except msgspec.ValidationError:
            raise refusal(name, given[-1], f.type, codes) from None
    try:
        return msgspec.convert(doc, cls, strict=False)
    except msgspec.ValidationError as exc:
        match = re.search(r"at `\$\.([^`]+?)(?:\[(\d+)\])?`", str(exc))
        name = match.group(1) if match else ""
        bad = fields.get(name)
        if bad is None or match is None:
            raise RefusedRequest(400, "bad_params", str(exc)) from None
        value = doc[name][int(match.group(2))] if match.group(2) else doc[name]
        raise refusal(name, value, bad.type, codes) from None


def refusal(name: str, value: Any, annotation: Any, codes: Mapping[str, str]) -> RefusedRequest:
    return RefusedRequest(
        400,
        codes.get(name, "bad_params"),
        f"{name} must be {description(annotation)}, not {value!r}",
        param=name,
    )


def language_code(value: str | None) -> str | None:
    """A language from a request: a code ("en") or a name ("english"); None: detect."""
    if value is None or not value.strip() or value.strip().lower() == "auto":
        return None
    text = value.strip().lower()
    if text in LANGUAGES:
        return text
    code = next((c for c, n in LANGUAGES.items() if n == text), None)
    if code is None:
        raise RefusedRequest(
            400,
            "bad_language",
            f"unknown language {value!r}",
            'give a language code such as "en", "de", "fr" (or leave it out to detect)',
            param="language",
        )
    return code
