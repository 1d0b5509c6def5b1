"""LoggedChatModel: the configured ChatModel wrapped so every call is quota-checked, metered and recorded."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from nl2sql.errors import RateLimitedError
from nl2sql.gateway.context import current_call, current_request
from nl2sql.gateway.recorder import ModelCallRecord
from nl2sql.inference import (
    ChatModel,
    Chunk,
    Generation,
    GenerationParams,
    InferenceTimeout,
    Message,
    Metering,
    ModelInfo,
    ModelStatus,
)

log = logging.getLogger("nl2sql.gateway")

DEFAULT_PARAMS = GenerationParams()
REDACTION_FAILED = "[not stored: redaction failed]"


def _prompt_text(messages: Sequence[Message]) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in messages)


class CallLedger(Protocol):
    """What a logged model needs from the gateway: the token quota, and where its call records go."""

    @property
    def store_bodies(self) -> bool: ...

    async def check_tokens(self, user_id: int | None, key_id: int | None) -> None: ...

    async def add_tokens(self, user_id: int | None, key_id: int | None, tokens: int) -> None: ...

    def record_model_call(self, record: ModelCallRecord) -> None: ...


class LoggedChatModel:
    """A ChatModel that checks token quotas before each call and records each call (tokens, timings, status).

    Built by `Gateway.wrap` (the one way in: the gateway then reports this model's queue and slots)."""

    def __init__(self, inner: ChatModel, ledger: CallLedger) -> None:
        self.inner = inner
        self._ledger = ledger

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def info(self) -> ModelInfo:
        return await self.inner.info()

    def describe(self) -> ModelStatus:
        return self.inner.describe()

    async def count_tokens(self, text: str) -> int:
        return await self.inner.count_tokens(text)

    async def chat(self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await self._call(lambda: self.inner.chat(messages, params), _prompt_text(messages))

    async def complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await self._call(lambda: self.inner.complete(prompt, params), prompt)

    async def stream_chat(
        self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS
    ) -> AsyncIterator[Chunk]:
        async for chunk in self._stream(lambda: self.inner.stream_chat(messages, params), _prompt_text(messages)):
            yield chunk

    async def stream_complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> AsyncIterator[Chunk]:
        async for chunk in self._stream(lambda: self.inner.stream_complete(prompt, params), prompt):
            yield chunk

    async def _call(self, run: Callable[[], Awaitable[Generation]], prompt: str) -> Generation:
        user_id, key_id = self._who()
        at, started = datetime.now(UTC), time.perf_counter()
        await self._check_quota(user_id, key_id, at, started, prompt)
        try:
            generation = await run()
        except BaseException as exc:
            self._record(at, started, prompt, None, None, exc)
            raise
        self._record(at, started, prompt, generation.text, generation.metering, None)
        await self._count(user_id, key_id, generation.metering)
        return generation

    async def _stream(self, open_stream: Callable[[], AsyncIterator[Chunk]], prompt: str) -> AsyncIterator[Chunk]:
        user_id, key_id = self._who()
        at, started = datetime.now(UTC), time.perf_counter()
        await self._check_quota(user_id, key_id, at, started, prompt)
        parts: list[str] = []
        metering: Metering | None = None
        try:
            async for chunk in open_stream():
                parts.append(chunk.text)
                if chunk.metering is not None:
                    metering = chunk.metering
                yield chunk
        except BaseException as exc:  # GeneratorExit too: the consumer stopped reading, recorded as cancelled
            self._record(at, started, prompt, "".join(parts), metering, exc)
            raise
        self._record(at, started, prompt, "".join(parts), metering, None)
        await self._count(user_id, key_id, metering)

    @staticmethod
    def _who() -> tuple[int | None, int | None]:
        request = current_request()
        return (request.user_id, request.api_key_id) if request is not None else (None, None)

    async def _check_quota(self, user_id, key_id, at: datetime, started: float, prompt: str) -> None:
        try:
            await self._ledger.check_tokens(user_id, key_id)
        except RateLimitedError as exc:
            self._record(at, started, prompt, None, None, exc)
            raise
        except Exception as exc:  # quota store unreachable: serve rather than fail (logged, and the call is recorded)
            log.warning("token quota check skipped, app database unavailable: %s", type(exc).__name__)

    async def _count(self, user_id, key_id, metering: Metering | None) -> None:
        if metering is None:
            return
        try:
            await self._ledger.add_tokens(user_id, key_id, metering.prompt_tokens + metering.completion_tokens)
        except Exception as exc:  # the call succeeded; losing its quota count beats failing the request
            log.warning("could not count %s tokens against the quota: %s", metering.model, type(exc).__name__)

    def _record(
        self,
        at: datetime,
        started: float,
        prompt: str,
        completion: str | None,
        metering: Metering | None,
        error: BaseException | None,
    ) -> None:
        request, call = current_request(), current_call()
        if error is None:
            status, message = "ok", None
        elif isinstance(error, RateLimitedError):
            status, message = "quota", error.detail
        elif isinstance(error, InferenceTimeout):
            status, message = "timeout", error.detail
        elif isinstance(error, (asyncio.CancelledError, GeneratorExit)):
            status, message = "cancelled", None
        else:
            status, message = "error", f"{type(error).__name__}: {getattr(error, 'detail', None) or error}"[:2000]
        if metering is not None:
            backend, model = metering.backend, metering.model
        else:
            described = self.inner.describe()
            backend, model = described.backend, described.model
        stored_prompt = stored_completion = None
        if self._ledger.store_bodies:
            stored_prompt = self._redacted(call.redact, prompt)
            stored_completion = self._redacted(call.redact, completion) if completion is not None else None
        duration = time.perf_counter() - started
        record = ModelCallRecord(
            id=uuid.uuid4(),
            trace_id=request.trace_id if request is not None else None,
            at=at,
            user_id=request.user_id if request is not None else None,
            api_key_id=request.api_key_id if request is not None else None,
            connection=call.connection,
            purpose=call.purpose,
            backend=backend,
            model=model,
            prompt_tokens=metering.prompt_tokens if metering else 0,
            completion_tokens=metering.completion_tokens if metering else 0,
            queue_ms=metering.queue_seconds * 1000.0 if metering else None,
            ttft_ms=metering.first_token_seconds * 1000.0 if metering and metering.first_token_seconds is not None else None,
            duration_ms=(metering.total_seconds if metering else duration) * 1000.0,
            tokens_per_s=metering.tokens_per_second if metering else 0.0,
            finish_reason=metering.finish_reason if metering else None,
            status=status,
            error=message,
            prompt=stored_prompt,
            completion=stored_completion,
        )
        self._ledger.record_model_call(record)

    @staticmethod
    def _redacted(redact, text: str) -> str:
        if redact is None:
            return text
        try:
            return redact(text)
        except Exception:  # never store a body unredacted because the redactor broke
            log.exception("redaction of a model-call body failed")
            return REDACTION_FAILED
