"""The redactor against every form a careless server may echo a key in (issue 41, item 7):
a key with `/`, `+` and `=` URL-encoded in upper and lower case, JSON- and HTML-escaped,
base64 of it and of `user:key` for any user, and any 8 characters of each of those."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from earwig.redact import RUN, scrub

KEYS = [
    "sk-Fa/Ke+Ky9Qz=Lm/42Pq+Rs7Tu==",  # a key of base64's alphabet
    "sk-proj-Z8f3kQ29vLmN4pRt7WxY1cB6",  # OpenAI's own shape
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # an AWS secret key
]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def echoes(key: str) -> dict[str, str]:
    """Every form a server may send the key back in."""
    specials = [c for c in key if not c.isalnum() and c not in "-_.~"]

    def each(fmt: str) -> str:
        return "".join(fmt.format(ord(c)) if c in specials else c for c in key)

    out = {
        "plain": key,
        "upper": key.upper(),
        "lower": key.lower(),
        "url-encoded": quote(key, safe=""),
        "url-encoded, lower hex": each("%{:02x}"),
        "form-encoded": quote_plus(key),
        "JSON": json.dumps(key)[1:-1],
        "JSON, slashes escaped": key.replace("/", "\\/"),
        "JSON, \\u escapes": each("\\u{:04x}"),
        "JSON, \\U escapes": each("\\u{:04X}"),
        "HTML entities": each("&#{};"),
        "HTML hex entities": each("&#x{:x};"),
        "base64": b64(key),
        "base64 unpadded": b64(key).rstrip("="),
        "URL-safe base64": base64.urlsafe_b64encode(key.encode()).decode(),
        "base64 of Bearer": b64(f"Bearer {key}"),
    }
    for user in ("a", "al", "ali", "alice", "bob-the-admin"):  # every alignment of user:key
        out[f"base64 of {user}:key"] = b64(f"{user}:{key}")
        out[f"URL-safe base64 of {user}:key"] = base64.urlsafe_b64encode(
            f"{user}:{key}".encode()
        ).decode()
    return out


def runs(text: str) -> list[str]:
    return [text[i : i + RUN] for i in range(len(text) - RUN + 1)]


@pytest.mark.parametrize("key", KEYS)
def test_every_echoed_form_of_a_key_is_masked(key: str) -> None:
    for what, form in echoes(key).items():
        said = scrub(f'{{"error": "Incorrect API key provided: {form}."}}', [key])
        assert form not in said, (what, said)
        assert "Incorrect API key provided: " in said  # the rest of the sentence stays


@pytest.mark.parametrize("key", KEYS)
def test_any_8_characters_of_any_form_are_masked(key: str) -> None:
    """A server that quotes a key cut short, or its middle, next to masked forms."""
    for what, form in echoes(key).items():
        core = form
        if what.endswith(":key"):  # the characters that also encode the user's name, and
            user = what.split()[-1].removesuffix(":key")  # the padding, are not the key's
            core = form[-(-(len(user) + 1) // 3) * 4 : -4]
        for run in runs(core):
            said = scrub(f"the key ends in ...{run}... (truncated)", [key])
            assert run not in said, (what, run, said)


def test_a_key_with_slashes_is_a_key_and_a_path_is_a_path() -> None:
    key = "sk-Fa/Ke+Ky9Qz=Lm/42Pq+Rs7Tu=="
    assert scrub(f"sk-Fa/Ke+Ky9 next to {quote(key, safe='')}", [key]).count("***") >= 2
    # a secret that is a path or a phrase is masked whole, never its common parts
    path = "/run/user/1000/keyring/ssh"
    said = scrub(
        "sockets live in /run/user/1000/bus; the agent in /run/user/1000/keyring/ssh", [path]
    )
    assert "/run/user/1000/bus" in said and path not in said
    phrase = "correct horse battery staple"
    assert scrub("a correct horse is here; correct horse battery staple", [phrase]) == (
        "a correct horse is here; ***"
    )


def test_ordinary_text_is_left_alone() -> None:
    key = KEYS[0]
    text = "downloaded episode-12.mp3 (31.4 MB) from https://cdn.example.org/feeds/pod.xml"
    assert scrub(text, [key]) == text
