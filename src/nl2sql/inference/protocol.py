"""The ChatModel protocol every backend implements, and the DTOs that cross it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from nl2sql.errors import AppError

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "timeout", "cancelled"]


class InferenceTimeout(AppError):
    """A generation ran past its timeout; it was cancelled and its slot freed."""

    status_code = 504
    title = "Model timed out"


class UnsupportedFeature(AppError):
    """The backend cannot honour a requested option (e.g. a grammar on a server without guided decoding)."""

    status_code = 501
    title = "Not supported by the model backend"


@dataclass(frozen=True, slots=True)
class Grammar:
    """A GBNF grammar the output must match; `key` identifies it for caches."""

    gbnf: str
    kind: Literal["sql", "json"]
    key: str


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Options of one generation; `timeout` None means the backend's configured timeout."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None
    timeout: float | None = None
    grammar: Grammar | None = None
    json_schema: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must not be negative")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.grammar is not None and self.json_schema is not None:
            raise ValueError("give a grammar or a json_schema, not both")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))


@dataclass(frozen=True, slots=True)
class Metering:
    """What one generation cost: tokens and seconds (all measured from the call, queue included)."""

    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    queue_seconds: float
    first_token_seconds: float | None
    total_seconds: float
    finish_reason: FinishReason

    @property
    def tokens_per_second(self) -> float:
        """Generation speed: tokens after the first over the time after the first (whole call when not streamed)."""
        busy = self.total_seconds - self.queue_seconds
        if self.completion_tokens == 0:
            return 0.0
        if self.first_token_seconds is None:
            return self.completion_tokens / busy if busy > 0 else 0.0
        decode = self.total_seconds - self.first_token_seconds
        if self.completion_tokens > 1 and decode > 0:
            return (self.completion_tokens - 1) / decode
        return self.completion_tokens / busy if busy > 0 else 0.0

    @property
    def prompt_tokens_per_second(self) -> float:
        """Prompt processing speed: prompt tokens over the time from leaving the queue to the first token."""
        if self.first_token_seconds is None:
            return 0.0
        prefill = self.first_token_seconds - self.queue_seconds
        return self.prompt_tokens / prefill if prefill > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Generation:
    """A finished generation: the text and its metering."""

    text: str
    metering: Metering

    @property
    def finish_reason(self) -> FinishReason:
        return self.metering.finish_reason


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a streamed generation; the last chunk carries the metering."""

    text: str
    metering: Metering | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What prompt builders need to know: context size, prompt format family and capabilities."""

    backend: str
    model: str
    context_size: int
    prompt_format: str
    supports_grammar: bool
    supports_json_schema: bool
    exact_token_count: bool


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """The configured model and its load, for the admin page and GET /api/v1/models."""

    backend: str
    model: str
    model_file: str | None
    base_url: str | None
    context_size: int | None
    prompt_format: str | None
    loaded: bool
    slots: int
    busy: int
    queue_depth: int
    queue_size: int
    supports_grammar: bool


@runtime_checkable
class ChatModel(Protocol):
    """One model behind one interface: chat and raw completion, whole or streamed."""

    async def start(self) -> None:
        """Load or connect now instead of on the first request."""
        ...

    async def close(self) -> None:
        """Free the model and any connections."""
        ...

    async def info(self) -> ModelInfo:
        """Context size, prompt format and capabilities (loads what it needs)."""
        ...

    def describe(self) -> ModelStatus:
        """Configured backend and current load; never loads anything."""
        ...

    async def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in a prompt (an estimate where `info().exact_token_count` is false)."""
        ...

    async def chat(self, messages: Sequence[Message], params: GenerationParams = ...) -> Generation:
        """Answer a conversation."""
        ...

    async def complete(self, prompt: str, params: GenerationParams = ...) -> Generation:
        """Continue a raw prompt."""
        ...

    def stream_chat(self, messages: Sequence[Message], params: GenerationParams = ...) -> AsyncIterator[Chunk]:
        """Answer a conversation piece by piece."""
        ...

    def stream_complete(self, prompt: str, params: GenerationParams = ...) -> AsyncIterator[Chunk]:
        """Continue a raw prompt piece by piece."""
        ...


async def collect(chunks: AsyncIterator[Chunk]) -> Generation:
    """Join a stream into one Generation."""
    parts: list[str] = []
    metering: Metering | None = None
    async for chunk in chunks:
        parts.append(chunk.text)
        if chunk.metering is not None:
            metering = chunk.metering
    if metering is None:
        raise RuntimeError("stream ended without metering")
    return Generation("".join(parts), metering)
