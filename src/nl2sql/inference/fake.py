"""FakeChatModel: scripted replies with real-looking metering, for testing the logic around a model."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

from nl2sql.inference.protocol import (
    Chunk,
    Generation,
    GenerationParams,
    Message,
    Metering,
    ModelInfo,
    ModelStatus,
)

DEFAULT_PARAMS = GenerationParams()

# A reply is a fixed text, an exception to raise, or a function of the prompt text.
Reply = str | BaseException | Callable[[str], str]


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One request the fake received, for assertions."""

    kind: str
    prompt: str
    messages: tuple[Message, ...]
    params: GenerationParams


class FakeChatModel:
    """Answers with scripted replies in order (the last repeats), counting tokens as whitespace words."""

    backend = "fake"

    def __init__(
        self,
        replies: Iterable[Reply] = ("SELECT 1",),
        *,
        model: str = "fake-model",
        context_size: int = 4096,
        supports_grammar: bool = True,
        delay: float = 0.0,
    ) -> None:
        self._replies: deque[Reply] = deque(replies)
        if not self._replies:
            raise ValueError("FakeChatModel needs at least one reply")
        self.model = model
        self.context_size = context_size
        self.supports_grammar = supports_grammar
        self.delay = delay
        self.calls: list[FakeCall] = []
        self.started = False
        self.closed = False
        self._busy = 0

    def add_replies(self, *replies: Reply) -> None:
        """Queue more replies after the ones left."""
        self._replies.extend(replies)

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def info(self) -> ModelInfo:
        return ModelInfo(
            backend=self.backend,
            model=self.model,
            context_size=self.context_size,
            prompt_format="chatml",
            supports_grammar=self.supports_grammar,
            supports_json_schema=True,
            exact_token_count=True,
        )

    def describe(self) -> ModelStatus:
        return ModelStatus(
            backend=self.backend,
            model=self.model,
            model_file=None,
            base_url=None,
            context_size=self.context_size,
            prompt_format="chatml",
            loaded=True,
            slots=1,
            busy=self._busy,
            queue_depth=0,
            queue_size=0,
            supports_grammar=self.supports_grammar,
        )

    async def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def chat(self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        prompt = "\n".join(f"{m.role}: {m.content}" for m in messages)
        return await self._generate(FakeCall("chat", prompt, tuple(messages), params))

    async def complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await self._generate(FakeCall("complete", prompt, (), params))

    async def stream_chat(
        self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS
    ) -> AsyncIterator[Chunk]:
        generation = await self.chat(messages, params)
        async for chunk in _chunks(generation):
            yield chunk

    async def stream_complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> AsyncIterator[Chunk]:
        generation = await self.complete(prompt, params)
        async for chunk in _chunks(generation):
            yield chunk

    async def _generate(self, call: FakeCall) -> Generation:
        self.calls.append(call)
        started = time.perf_counter()
        # The last reply repeats so a test need not script every retry.
        reply = self._replies.popleft() if len(self._replies) > 1 else self._replies[0]
        self._busy += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if isinstance(reply, BaseException):
                raise reply
            text = reply(call.prompt) if callable(reply) else reply
        finally:
            self._busy -= 1
        words = text.split()
        finish = "stop"
        if len(words) > call.params.max_tokens:
            text = " ".join(words[: call.params.max_tokens])
            finish = "length"
        for stop in call.params.stop:
            if stop in text:
                text = text[: text.index(stop)]
                finish = "stop"
        total = time.perf_counter() - started
        metering = Metering(
            backend=self.backend,
            model=self.model,
            prompt_tokens=len(call.prompt.split()),
            completion_tokens=len(text.split()),
            queue_seconds=0.0,
            first_token_seconds=total,
            total_seconds=total,
            finish_reason=finish,
        )
        return Generation(text, metering)


async def _chunks(generation: Generation) -> AsyncIterator[Chunk]:
    words = generation.text.split(" ")
    for i, word in enumerate(words):
        yield Chunk(word if i == 0 else " " + word)
    yield Chunk("", generation.metering)
