"""A model behind an OpenAI-compatible HTTP API (vLLM, llama-server, Ollama, OpenAI), through httpx."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from nl2sql.errors import BusyError, UnavailableError
from nl2sql.inference.protocol import (
    Chunk,
    FinishReason,
    Generation,
    GenerationParams,
    InferenceTimeout,
    Message,
    Metering,
    ModelInfo,
    ModelStatus,
    UnsupportedFeature,
)
from nl2sql.settings import InferenceSettings

log = logging.getLogger(__name__)

DEFAULT_PARAMS = GenerationParams()
_FINISH = {"stop": "stop", "length": "length", "eos": "stop", "tool_calls": "stop", "content_filter": "stop"}


class _Retryable(Exception):
    """An attempt failed in a way a retry may fix (connection error, 5xx)."""


class OpenAICompatibleChatModel:
    """Chat and completions over HTTP with retries and backoff; grammars where the server has guided decoding."""

    backend = "openai"

    def __init__(
        self,
        settings: InferenceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_seconds: float = 0.25,
    ) -> None:
        if not settings.base_url:
            raise ValueError("the OpenAI-compatible backend needs a base URL")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.backoff_seconds = backoff_seconds
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, transport=transport)
        self._model = settings.model
        self._context_size: int | None = None
        self._in_flight = 0

    def __repr__(self) -> str:
        # The API key lives only in the client's headers; never show it.
        return f"OpenAICompatibleChatModel(base_url={self.base_url!r}, model={self._model!r})"

    @property
    def supports_grammar(self) -> bool:
        return self.settings.guided_decoding == "vllm"

    async def start(self) -> None:
        await self._model_name()

    async def close(self) -> None:
        await self._client.aclose()

    async def info(self) -> ModelInfo:
        model = await self._model_name()
        return ModelInfo(
            backend=self.backend,
            model=model,
            context_size=self._context_size or self.settings.context_size or 4096,
            prompt_format="server",
            supports_grammar=self.supports_grammar,
            supports_json_schema=True,
            exact_token_count=False,
        )

    def describe(self) -> ModelStatus:
        return ModelStatus(
            backend=self.backend,
            model=self._model or "(first model the server lists)",
            model_file=None,
            base_url=self.base_url,
            context_size=self._context_size,
            prompt_format="server",
            loaded=self._model is not None,
            slots=0,
            busy=self._in_flight,
            queue_depth=0,
            queue_size=0,
            supports_grammar=self.supports_grammar,
        )

    async def count_tokens(self, text: str) -> int:
        # The protocol has no tokenizer endpoint; about four characters a token is the usual estimate.
        return max(1, math.ceil(len(text) / 4)) if text else 0

    async def chat(self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        return await self._generate("/chat/completions", body, params)

    async def complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await self._generate("/completions", {"prompt": prompt}, params)

    def stream_chat(self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS) -> AsyncIterator[Chunk]:
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        return self._stream("/chat/completions", body, params)

    def stream_complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> AsyncIterator[Chunk]:
        return self._stream("/completions", {"prompt": prompt}, params)

    # -- requests --------------------------------------------------------------------------

    async def _model_name(self) -> str:
        if self._model is not None and self._context_size is not None:
            return self._model
        deadline = time.perf_counter() + self.settings.request_timeout
        try:
            reply = await self._with_retries(lambda: self._get_json("/models", deadline), deadline)
        except UnavailableError:
            # Some servers have no model list; a configured name is enough to work.
            if self._model is None:
                raise
            reply = None
        entries = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
            if self._model is not None:
                self._context_size = 0
                return self._model
            raise UnavailableError(f"the model server at {self.base_url} lists no models (set NL2SQL_LLM_MODEL)")
        chosen = next((e for e in entries if e.get("id") == self._model), entries[0])
        self._model = self._model or str(chosen.get("id"))
        meta = chosen.get("meta") if isinstance(chosen.get("meta"), dict) else {}
        # vLLM says max_model_len, llama-server meta.n_ctx_train; 0 means unknown.
        self._context_size = int(chosen.get("max_model_len") or meta.get("n_ctx_train") or 0)
        return self._model

    def _body(self, base: dict[str, Any], params: GenerationParams, model: str, stream: bool) -> dict[str, Any]:
        body = {
            **base,
            "model": model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": stream,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if stream:
            body["stream_options"] = {"include_usage": True}
        if params.grammar is not None:
            if not self.supports_grammar:
                raise UnsupportedFeature(
                    f"the model server at {self.base_url} is not configured for guided decoding "
                    "(NL2SQL_LLM_GUIDED_DECODING=vllm), so it cannot follow a grammar"
                )
            body["guided_grammar"] = params.grammar.gbnf
        if params.json_schema is not None:
            if self.supports_grammar:
                body["guided_json"] = dict(params.json_schema)
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": dict(params.json_schema), "strict": True},
                }
        return body

    async def _generate(self, path: str, base: dict[str, Any], params: GenerationParams) -> Generation:
        started = time.perf_counter()
        timeout = params.timeout or self.settings.request_timeout
        deadline = started + timeout
        model = self._model or await self._model_name()
        body = self._body(base, params, model, stream=False)
        self._in_flight += 1
        try:
            reply = await self._with_retries(lambda: self._post_json(path, body, deadline), deadline, timeout)
        finally:
            self._in_flight -= 1
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] if "message" in choice else choice["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
            usage = reply.get("usage") or {}
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._nonsense(path) from None
        total = time.perf_counter() - started
        return Generation(text, self._metering(model, base, text, usage, choice.get("finish_reason"), None, total))

    async def _stream(self, path: str, base: dict[str, Any], params: GenerationParams) -> AsyncIterator[Chunk]:
        started = time.perf_counter()
        timeout = params.timeout or self.settings.request_timeout
        deadline = started + timeout
        model = self._model or await self._model_name()
        body = self._body(base, params, model, stream=True)
        attempt = 0
        parts: list[str] = []
        usage: dict[str, Any] = {}
        finish = None
        first_at: float | None = None
        self._in_flight += 1
        try:
            while True:
                try:
                    async with self._client.stream(
                        "POST", path, json=body, timeout=self._timeout(deadline, timeout)
                    ) as response:
                        await self._check_status(response, path)
                        events = 0
                        async for event in _server_sent_events(response):
                            events += 1
                            if event == "[DONE]":
                                break
                            data = self._event(event, path)
                            if isinstance(data.get("usage"), dict):
                                usage = data["usage"]
                            choices = data.get("choices") or []
                            if not choices:
                                continue
                            choice = choices[0]
                            delta = choice.get("delta", {}).get("content") if "delta" in choice else choice.get("text")
                            if delta:
                                if first_at is None:
                                    first_at = time.perf_counter()
                                parts.append(delta)
                                yield Chunk(delta)
                            finish = choice.get("finish_reason") or finish
                        if events == 0:
                            raise self._nonsense(path)
                    break
                except (_Retryable, httpx.TransportError) as exc:
                    # Only retry while nothing was streamed: a restart would repeat text already yielded.
                    if parts or attempt >= self.settings.retries:
                        raise self._unreachable(exc, timeout) from exc
                    await self._backoff(attempt, deadline, timeout)
                    attempt += 1
        finally:
            self._in_flight -= 1
        total = time.perf_counter() - started
        ttft = None if first_at is None else first_at - started
        yield Chunk("", self._metering(model, base, "".join(parts), usage, finish, ttft, total))

    async def _with_retries(self, attempt_once, deadline: float, timeout: float | None = None) -> Any:
        timeout = timeout or self.settings.request_timeout
        attempt = 0
        while True:
            try:
                return await attempt_once()
            except (_Retryable, httpx.TransportError) as exc:
                if attempt >= self.settings.retries:
                    raise self._unreachable(exc, timeout) from exc
                await self._backoff(attempt, deadline, timeout)
                attempt += 1

    async def _backoff(self, attempt: int, deadline: float, timeout: float) -> None:
        delay = min(self.backoff_seconds * 2**attempt, 8.0)
        if time.perf_counter() + delay >= deadline:
            raise InferenceTimeout(f"the model server did not answer within {timeout:g} s")
        log.warning("model server %s failed, retry %d in %.2f s", self.base_url, attempt + 1, delay)
        await asyncio.sleep(delay)

    def _timeout(self, deadline: float, timeout: float) -> httpx.Timeout:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise InferenceTimeout(f"the model server did not answer within {timeout:g} s")
        return httpx.Timeout(remaining, connect=min(remaining, 10.0))

    async def _post_json(self, path: str, body: dict[str, Any], deadline: float) -> Any:
        timeout = self.settings.request_timeout
        response = await self._client.post(path, json=body, timeout=self._timeout(deadline, timeout))
        await self._check_status(response, path)
        return self._decode(response.content, path)

    async def _get_json(self, path: str, deadline: float) -> Any:
        response = await self._client.get(path, timeout=self._timeout(deadline, self.settings.request_timeout))
        await self._check_status(response, path)
        return self._decode(response.content, path)

    async def _check_status(self, response: httpx.Response, path: str) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "5")
            raise BusyError(
                "the model server is rate limiting; try again shortly",
                retry_after=int(retry_after) if retry_after.isdigit() else 5,
            )
        if response.status_code in (401, 403):
            raise UnavailableError(f"the model server at {self.base_url} refused the API key (HTTP {response.status_code})")
        detail = response.text[:200]
        raise UnavailableError(
            f"the model server at {self.base_url} rejected {path} (HTTP {response.status_code}): {detail}",
            extra={"status": response.status_code},
        )

    def _decode(self, content: bytes, path: str) -> Any:
        try:
            return json.loads(content)
        except ValueError:
            raise self._nonsense(path) from None

    def _event(self, event: str, path: str) -> dict[str, Any]:
        data = self._decode(event.encode(), path)
        if not isinstance(data, dict):
            raise self._nonsense(path)
        return data

    def _nonsense(self, path: str) -> UnavailableError:
        return UnavailableError(
            f"the model server at {self.base_url} answered {path} with something that is not an OpenAI-style reply"
        )

    def _unreachable(self, exc: Exception, timeout: float) -> Exception:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return InferenceTimeout(f"the model server did not answer within {timeout:g} s")
        reason = str(exc) or type(exc).__name__
        return UnavailableError(
            f"the model server at {self.base_url} is unreachable or failing ({reason}) after "
            f"{self.settings.retries + 1} attempts"
        )

    def _metering(
        self,
        model: str,
        base: dict[str, Any],
        text: str,
        usage: dict[str, Any],
        finish: str | None,
        first_token_seconds: float | None,
        total: float,
    ) -> Metering:
        prompt_text = base.get("prompt") or "".join(m["content"] for m in base.get("messages", []))
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        finish_reason: FinishReason = _FINISH.get(finish or "", "stop")  # type: ignore[assignment]
        return Metering(
            backend=self.backend,
            model=model,
            prompt_tokens=int(prompt_tokens) if isinstance(prompt_tokens, int) else math.ceil(len(prompt_text) / 4),
            completion_tokens=int(completion_tokens) if isinstance(completion_tokens, int) else math.ceil(len(text) / 4),
            queue_seconds=0.0,
            first_token_seconds=first_token_seconds,
            total_seconds=total,
            finish_reason=finish_reason,
        )


async def _server_sent_events(response: httpx.Response) -> AsyncIterator[str]:
    """The data payloads of an SSE stream (multi-line data joined)."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield "\n".join(data)
