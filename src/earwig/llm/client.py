"""One chat completion against any OpenAI-compatible endpoint (Ollama, llama.cpp's
llama-server, vLLM, LM Studio, a hosted API), over plain httpx.

Plain httpx rather than the `openai` SDK: the SDK is an optional extra, and the stage needs
exactly one request shape, its own retry policy (a down endpoint waits in the queue with
back-off instead of inside a call) and a call that a cancel can interrupt at once (it is an
asyncio task; cancelling it closes the connection). The key is read from the environment by
the caller and sent only in the Authorization header; no error built here carries it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from earwig import redact
from earwig.errors import EarwigError

if TYPE_CHECKING:
    import httpx

# Reasoning models (DeepSeek-R1, Qwen3 on Ollama) put their thinking in the answer
_THINKING = re.compile(r"<think>.*?</think>", re.S | re.I)


class LlmError(EarwigError):
    """The endpoint refused the request or answered something that is not a chat completion:
    asking again would get the same answer."""

    code = "llm"


class EndpointDown(LlmError):
    """No answer (refused, reset, timed out) or a 429/5xx: it may answer later."""

    code = "llm_unavailable"
    permanent = False


@dataclass(frozen=True)
class Endpoint:
    """Where the calls go and how: [llm] with the key already read from its variable."""

    base_url: str  # the API base, ending in /v1 for most servers
    model: str
    key: str | None = None
    timeout: float = 300.0
    temperature: float = 0.2

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


class Chat:
    """Asks one endpoint; `before_call` runs before each request (the per-hour cap waits
    there). Counts its calls and the seconds they took, for progress and the bench."""

    def __init__(
        self,
        endpoint: Endpoint,
        before_call: Callable[[], Awaitable[None]] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.before_call = before_call
        self._client = client
        self.calls = 0
        self.seconds = 0.0

    async def ask(self, system: str, user: str, max_tokens: int) -> str:
        """The model's answer to one system + user message (thinking blocks removed)."""
        import httpx

        if self.before_call is not None:
            await self.before_call()
        ep = self.endpoint
        body = {
            "model": ep.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": ep.temperature,
            "max_tokens": max_tokens,
            "stream": False,
        }
        headers = {"Authorization": f"Bearer {ep.key}"} if ep.key else {}
        started = time.monotonic()
        self.calls += 1
        try:
            if self._client is not None:
                response = await self._client.post(ep.url, json=body, headers=headers)
            else:
                timeout = httpx.Timeout(ep.timeout, connect=min(ep.timeout, 10.0))
                async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
                    response = await client.post(ep.url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise EndpointDown(
                f"the language model at {ep.base_url} did not answer within {ep.timeout:.0f}s",
                "a bigger [llm] timeout, or a smaller [llm] max_input_chars",
            ) from None
        except httpx.HTTPError as exc:
            raise EndpointDown(
                f"cannot reach the language model at {ep.base_url}: {self._clean(str(exc))}",
                "is the server running? It is asked again with back-off",
            ) from None
        finally:
            self.seconds += time.monotonic() - started
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> str:
        ep, status = self.endpoint, response.status_code
        if status == 429 or status >= 500:
            raise EndpointDown(
                f"the language model at {ep.base_url} answered {status}: {self._excerpt(response)}",
                "it is asked again with back-off",
            )
        if status in (401, 403):
            raise LlmError(
                f"the language model at {ep.base_url} refused the key ({status})",
                "check the variable named by [llm] api_key_env",
            )
        if status == 404:
            raise LlmError(
                f"the language model at {ep.base_url} answered 404 for model {ep.model!r}: "
                f"{self._excerpt(response)}",
                "is [llm] base_url the API base (most end in /v1), and is the model pulled?",
            )
        if status >= 400:
            raise LlmError(
                f"the language model at {ep.base_url} answered {status}: {self._excerpt(response)}"
            )
        try:
            doc: Any = response.json()
            content = doc["choices"][0]["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise LlmError(
                f"{ep.base_url} did not answer with a chat completion ({self._excerpt(response)})",
                "is [llm] base_url an OpenAI-compatible API base (most end in /v1)?",
            ) from None
        if not isinstance(content, str):
            content = json.dumps(content)
        return _THINKING.sub("", content).strip()

    def _excerpt(self, response: httpx.Response) -> str:
        text = " ".join(response.text.split())
        return self._clean(text[:200] + ("…" if len(text) > 200 else "")) or "an empty body"

    def _clean(self, text: str) -> str:
        return redact.scrub(text, [self.endpoint.key])
