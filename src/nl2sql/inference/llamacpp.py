"""llama.cpp in-process: GGUF models in slots (one Llama each) behind a bounded queue, run on worker threads."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nl2sql.errors import BusyError, StartupError, ValidationFailed
from nl2sql.inference.grammar import json_grammar
from nl2sql.inference.lazy_grammar import LazyGrammar
from nl2sql.inference.model_files import model_file
from nl2sql.inference.prompt_format import FormattedPrompt, PromptFormat, prompt_format
from nl2sql.inference.protocol import (
    Chunk,
    FinishReason,
    Generation,
    GenerationParams,
    Grammar,
    InferenceTimeout,
    Message,
    Metering,
    ModelInfo,
    ModelStatus,
    collect,
)
from nl2sql.settings import InferenceSettings

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_PARAMS = GenerationParams()
_DONE = object()


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """The model's tokenizer and metadata, loaded without weights (fast) for counting and formatting."""

    llama: Llama
    context_size: int
    prompt_format: PromptFormat

    def tokens(self, text: str, has_bos: bool = False) -> list[int]:
        # special=True so chat-template markers (<|im_start|>) become their single tokens, as the model saw them.
        return self.llama.tokenize(text.encode(), add_bos=not has_bos, special=True)


@dataclass(slots=True)
class _Slot:
    index: int
    llama: Llama


@dataclass(slots=True)
class _Outcome:
    finish: FinishReason
    prompt_tokens: int
    completion_tokens: int
    first_token_at: float | None
    ended_at: float


class LlamaCppChatModel:
    """A GGUF model run by llama-cpp-python; `slots` copies generate at once, others wait in a bounded queue."""

    backend = "llamacpp"

    def __init__(self, settings: InferenceSettings) -> None:
        self.settings = settings
        self._path: Path | None = None
        self._vocabulary: _Vocabulary | None = None
        self._slots: list[_Slot] = []
        self._free: list[_Slot] = []
        self._waiters: deque[asyncio.Future[_Slot]] = deque()
        # Re-entrant: loading the slots loads the vocabulary first under the same lock.
        self._load_lock = threading.RLock()
        self._async_load_lock: asyncio.Lock | None = None
        self._executor = ThreadPoolExecutor(max_workers=settings.slots, thread_name_prefix="llama-slot")
        self._valid_grammars: set[str] = set()
        self._recent_seconds = 5.0
        self.load_seconds: float | None = None

    @property
    def threads(self) -> int:
        """CPU threads each slot uses."""
        if self.settings.threads:
            return self.settings.threads
        return max(1, len(os.sched_getaffinity(0)) // self.settings.slots)

    @property
    def model_name(self) -> str:
        return self._path.stem if self._path else (self.settings.model_path or Path(self.settings.bundled_model)).stem

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.settings.load_at_start:
            await self.load()

    async def load(self) -> None:
        """Load every slot now (in a worker thread); later calls return at once."""
        if len(self._slots) == self.settings.slots:
            return
        if self._async_load_lock is None:
            self._async_load_lock = asyncio.Lock()
        async with self._async_load_lock:
            if len(self._slots) < self.settings.slots:
                await asyncio.to_thread(self._load_slots)

    async def close(self) -> None:
        slots, self._slots, self._free = self._slots, [], []
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        for slot in slots:
            slot.llama.close()
        if self._vocabulary is not None:
            self._vocabulary.llama.close()
            self._vocabulary = None

    def _load_slots(self) -> None:
        with self._load_lock:
            if self._slots:
                return
            started = time.perf_counter()
            vocabulary = self._load_vocabulary()
            from llama_cpp import Llama

            for index in range(self.settings.slots):
                try:
                    llama = Llama(
                        model_path=str(self._path),
                        n_ctx=vocabulary.context_size,
                        n_gpu_layers=self.settings.gpu_layers,
                        n_threads=self.threads,
                        n_threads_batch=self.threads,
                        n_batch=min(self.settings.batch_size, vocabulary.context_size),
                        verbose=False,
                    )
                except ValueError as exc:
                    raise StartupError(f"llama.cpp could not load {self._path}: {exc}") from exc
                self._slots.append(_Slot(index, llama))
            self._free = list(self._slots)
            self.load_seconds = time.perf_counter() - started

    def _load_vocabulary(self) -> _Vocabulary:
        with self._load_lock:
            if self._vocabulary is not None:
                return self._vocabulary
            from llama_cpp import Llama

            self._path = model_file(self.settings)
            try:
                llama = Llama(model_path=str(self._path), vocab_only=True, verbose=False)
            except ValueError as exc:
                raise StartupError(f"llama.cpp could not read {self._path}: {exc}") from exc
            # A vocab-only load reports no trained context; the GGUF metadata has it.
            arch = llama.metadata.get("general.architecture", "")
            trained = int(llama.metadata.get(f"{arch}.context_length", 0) or 0) or self.settings.context_size or 4096
            wanted = self.settings.context_size or trained
            bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
            eos = llama._model.token_get_text(llama.token_eos()) if llama.token_eos() >= 0 else ""
            fmt = prompt_format(self.settings.chat_format, llama.metadata, bos, eos)
            self._vocabulary = _Vocabulary(llama, min(wanted, trained), fmt)
            return self._vocabulary

    async def _vocab(self) -> _Vocabulary:
        if self._vocabulary is None:
            await asyncio.to_thread(self._load_vocabulary)
        assert self._vocabulary is not None
        return self._vocabulary

    # -- model info ------------------------------------------------------------------------

    async def info(self) -> ModelInfo:
        vocabulary = await self._vocab()
        return ModelInfo(
            backend=self.backend,
            model=self.model_name,
            context_size=vocabulary.context_size,
            prompt_format=vocabulary.prompt_format.family,
            supports_grammar=True,
            supports_json_schema=True,
            exact_token_count=True,
        )

    def describe(self) -> ModelStatus:
        vocabulary = self._vocabulary
        return ModelStatus(
            backend=self.backend,
            model=self.model_name,
            model_file=str(self._path or self.settings.model_path or "") or None,
            base_url=None,
            context_size=vocabulary.context_size if vocabulary else None,
            prompt_format=vocabulary.prompt_format.family if vocabulary else None,
            loaded=bool(self._slots),
            slots=self.settings.slots,
            busy=len(self._slots) - len(self._free),
            queue_depth=sum(not w.done() for w in self._waiters),
            queue_size=self.settings.queue_size,
            supports_grammar=True,
        )

    async def count_tokens(self, text: str) -> int:
        vocabulary = await self._vocab()
        return len(vocabulary.tokens(text, has_bos=True))

    # -- generation ------------------------------------------------------------------------

    async def chat(self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await collect(self.stream_chat(messages, params))

    async def complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> Generation:
        return await collect(self.stream_complete(prompt, params))

    def stream_chat(self, messages: Sequence[Message], params: GenerationParams = DEFAULT_PARAMS) -> AsyncIterator[Chunk]:
        if not messages:
            raise ValidationFailed("a chat needs at least one message")
        return self._stream(lambda v: v.prompt_format.format(messages), params)

    def stream_complete(self, prompt: str, params: GenerationParams = DEFAULT_PARAMS) -> AsyncIterator[Chunk]:
        return self._stream(lambda v: FormattedPrompt(prompt, (), False), params)

    async def _stream(
        self, formatted: Callable[[_Vocabulary], FormattedPrompt], params: GenerationParams
    ) -> AsyncIterator[Chunk]:
        started = time.perf_counter()
        timeout = params.timeout or self.settings.request_timeout
        deadline = started + timeout
        await self.load()
        vocabulary = await self._vocab()
        prompt = formatted(vocabulary)
        grammar = params.grammar or (json_grammar(params.json_schema) if params.json_schema is not None else None)
        slot = await self._acquire(deadline, timeout)
        queue_seconds = time.perf_counter() - started
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, item)

        def release() -> None:
            loop.call_soon_threadsafe(self._release, slot)

        try:
            work = loop.run_in_executor(
                self._executor, self._generate, slot, vocabulary, prompt, params, grammar, deadline, cancel, emit, release
            )
        except BaseException:
            self._release(slot)
            raise
        finished = False
        try:
            while (item := await pieces.get()) is not _DONE:
                yield Chunk(item)
            outcome: _Outcome = await work
            finished = True
        finally:
            # A consumer that stops early (closed stream, cancelled task) frees the slot at the next token.
            if not finished:
                cancel.set()
        total = outcome.ended_at - started
        metering = Metering(
            backend=self.backend,
            model=self.model_name,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            queue_seconds=queue_seconds,
            first_token_seconds=None if outcome.first_token_at is None else outcome.first_token_at - started,
            total_seconds=total,
            finish_reason=outcome.finish,
        )
        self._recent_seconds = 0.8 * self._recent_seconds + 0.2 * (total - queue_seconds)
        if outcome.finish == "timeout":
            raise InferenceTimeout(
                f"the model did not finish within {timeout:g} s; the request was cancelled",
                extra={"timeout_seconds": timeout, "completion_tokens": outcome.completion_tokens},
            )
        yield Chunk("", metering)

    def _generate(
        self,
        slot: _Slot,
        vocabulary: _Vocabulary,
        prompt: FormattedPrompt,
        params: GenerationParams,
        grammar: Grammar | None,
        deadline: float,
        cancel: threading.Event,
        emit: Callable[[Any], None],
        release: Callable[[], None],
    ) -> _Outcome:
        """Runs on a slot's worker thread; emits text pieces, then _DONE, and always gives the slot back."""
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        llama = slot.llama
        seen = {"first_at": None, "longest": 0}

        def should_stop(input_ids: Any, _logits: Any) -> bool:
            # Called once per sampled token (and once more at the end): the cheapest place to cancel.
            if seen["first_at"] is None:
                seen["first_at"] = time.perf_counter()
            seen["longest"] = max(seen["longest"], len(input_ids))
            return cancel.is_set() or time.perf_counter() > deadline

        try:
            tokens = vocabulary.tokens(prompt.text, prompt.has_bos)
            if len(tokens) >= vocabulary.context_size:
                raise ValidationFailed(
                    f"the prompt takes {len(tokens)} tokens; the model's context holds {vocabulary.context_size}",
                    extra={"prompt_tokens": len(tokens), "context_size": vocabulary.context_size},
                )
            finish: FinishReason = "length"
            lazy = None
            if grammar is not None and self.settings.grammar_check == "lazy":
                self._llama_grammar(llama, grammar)  # refuses invalid GBNF cleanly, once per grammar
                lazy = LazyGrammar(llama._model.vocab, grammar.gbnf, prompt_tokens=len(tokens),
                                   temperature=params.temperature, seed=params.seed)
            stream = llama.create_completion(
                tokens,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(dict.fromkeys(prompt.stop + params.stop)),
                seed=params.seed,
                stream=True,
                stopping_criteria=StoppingCriteriaList([should_stop]),
                grammar=self._llama_grammar(llama, grammar) if grammar and lazy is None else None,
                logits_processor=LogitsProcessorList([lazy]) if lazy is not None else None,
            )
            for piece in stream:
                choice = piece["choices"][0]
                if choice["text"]:
                    emit(choice["text"])
                if choice["finish_reason"]:
                    finish = choice["finish_reason"]
            if cancel.is_set():
                finish = "cancelled"
            elif time.perf_counter() > deadline:
                finish = "timeout"
            first_at = seen["first_at"]
            sampled = seen["longest"] - len(tokens) + 1 if first_at is not None else 0
            return _Outcome(finish, len(tokens), max(0, sampled), first_at, time.perf_counter())
        finally:
            if "lazy" in locals() and lazy is not None:
                lazy.close()
            emit(_DONE)
            release()

    def _llama_grammar(self, llama: Llama, grammar: Grammar) -> Any:
        from llama_cpp import LlamaGrammar
        from llama_cpp import llama_cpp as capi

        if grammar.key not in self._valid_grammars:
            # llama.cpp crashes on a NULL sampler, so parse the grammar once up front and fail cleanly.
            sampler = capi.llama_sampler_init_grammar(llama._model.vocab, grammar.gbnf.encode(), b"root")
            if not sampler:
                raise ValidationFailed(f"the {grammar.kind} grammar is not valid GBNF")
            capi.llama_sampler_free(sampler)
            self._valid_grammars.add(grammar.key)
        return LlamaGrammar.from_string(grammar.gbnf, verbose=False)

    # -- slots and queue -------------------------------------------------------------------

    async def _acquire(self, deadline: float, timeout: float) -> _Slot:
        if self._free and not self._waiters:
            return self._free.pop()
        if len(self._waiters) >= self.settings.queue_size:
            retry = math.ceil(self._recent_seconds * (len(self._waiters) + 1) / self.settings.slots)
            raise BusyError(
                "the model is busy; try again shortly",
                retry_after=max(1, retry),
                extra={"queue_depth": len(self._waiters), "slots": self.settings.slots},
            )
        waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise InferenceTimeout(
                    f"no model slot came free within {timeout:g} s", extra={"timeout_seconds": timeout}
                ) from None
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _release(self, slot: _Slot) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._free.append(slot)

