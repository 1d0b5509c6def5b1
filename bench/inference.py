"""Inference figures for the default model: load time, prompt and generation speed, backend overhead versus
llama-cpp-python called directly, SQL grammar overhead, and throughput with 1, 2 and 4 concurrent requests.

Run: .venv/bin/python bench/inference.py [--runs N]   (settings from NL2SQL_LLM_* like the server, e.g.
NL2SQL_LLM_GPU_LAYERS; --runs: measured runs per figure, default 5)
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from llama_cpp import Llama, StoppingCriteriaList  # noqa: E402

from nl2sql.inference import GenerationParams, LlamaCppChatModel, Message, model_file, sql_grammar  # noqa: E402
from nl2sql.settings import Settings  # noqa: E402

RUNS = 5
MAX_TOKENS = 64
PROMPT = (
    "-- SQLite schema\nCREATE TABLE customers (id INTEGER, name TEXT, country TEXT);\n"
    "CREATE TABLE orders (id INTEGER, customer_id INTEGER, total REAL, ordered_at DATE);\n"
    "-- A long list of example queries over these tables, one per line:\n"
)
SCHEMA = {"customers": ["id", "name", "country"], "orders": ["id", "customer_id", "total", "ordered_at"]}
QUESTION = "Total order value per country, highest first."


def median(values: list[float]) -> float:
    return statistics.median(values)


def direct_llama(settings, path: Path, threads: int, context_size: int) -> Llama:
    """llama-cpp-python itself with the backend's load settings."""
    return Llama(
        model_path=str(path),
        n_ctx=context_size,
        n_gpu_layers=settings.gpu_layers,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=min(settings.batch_size, context_size),
        verbose=False,
    )


def direct_run(llama: Llama) -> tuple[float, float]:
    """Generation and prompt tokens/s of one direct call, measured like the backend's metering."""
    llama.reset()  # no prompt cache, like the backend run
    first: list[float] = []
    started = time.perf_counter()

    def note(_ids, _logits) -> bool:
        if not first:
            first.append(time.perf_counter())
        return False

    out = llama.create_completion(PROMPT, max_tokens=MAX_TOKENS, temperature=0.0, stopping_criteria=StoppingCriteriaList([note]))
    ended = time.perf_counter()
    tokens = out["usage"]["completion_tokens"]
    return (tokens - 1) / (ended - first[0]), out["usage"]["prompt_tokens"] / (first[0] - started)


async def backend_speed(model: LlamaCppChatModel, params: GenerationParams, chat: bool = False) -> tuple[float, float, int]:
    gen, pre, tokens = [], [], []
    for i in range(RUNS + 1):
        # A different leading character each run defeats the slot's prompt cache, like the direct run's reset().
        if chat:
            generation = await model.chat([Message("user", f"{i}. {PROMPT}{QUESTION}")], params)
        else:
            await _reset(model)
            generation = await model.complete(PROMPT, params)
        gen.append(generation.metering.tokens_per_second)
        pre.append(generation.metering.prompt_tokens_per_second)
        tokens.append(generation.metering.completion_tokens)
    return median(gen[1:]), median(pre[1:]), int(median(tokens[1:]))


async def _reset(model: LlamaCppChatModel) -> None:
    for slot in model._slots:
        slot.llama.reset()


async def throughput(model: LlamaCppChatModel, concurrency: int) -> float:
    """Completion tokens per second across `concurrency` simultaneous requests."""
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        results = await asyncio.gather(
            *(model.complete(f"{i} {PROMPT}", GenerationParams(max_tokens=MAX_TOKENS)) for i in range(concurrency))
        )
        elapsed = time.perf_counter() - started
        rates.append(sum(r.metering.completion_tokens for r in results) / elapsed)
    return median(rates)


async def main() -> None:
    settings = Settings.from_env().inference
    path = model_file(settings)
    print(f"model: {path.name}  gpu_layers={settings.gpu_layers}  runs={RUNS} (medians)")

    loads = []
    for _ in range(3):
        model = LlamaCppChatModel(settings)
        started = time.perf_counter()
        await model.load()
        loads.append(time.perf_counter() - started)
        await model.close()
    print(f"load seconds (slots={settings.slots}): {median(loads):.2f}")

    model = LlamaCppChatModel(settings)
    await model.load()
    info = await model.info()
    plain = GenerationParams(max_tokens=MAX_TOKENS)
    direct = direct_llama(settings, path, model.threads, info.context_size)
    # Interleaved so that load from other processes hits both sides alike.
    backend_gen, backend_pre, direct_gen, direct_pre = [], [], [], []
    for run in range(RUNS + 1):
        await _reset(model)
        generation = await model.complete(PROMPT, plain)
        d_gen, d_pre = direct_run(direct)
        if run:  # the first run warms caches
            backend_gen.append(generation.metering.tokens_per_second)
            backend_pre.append(generation.metering.prompt_tokens_per_second)
            direct_gen.append(d_gen)
            direct_pre.append(d_pre)
    direct.close()
    gen, pre = median(backend_gen), median(backend_pre)
    print(f"prompt tokens/s: backend {pre:.0f}, direct {median(direct_pre):.0f}")
    ratios = [b / d for b, d in zip(backend_gen, direct_gen)]
    print(
        f"generation tokens/s: backend {gen:.1f}, direct {median(direct_gen):.1f}, "
        f"ratio {median(ratios):.3f} (median of per-run ratios; target >= 0.95)"
    )

    grammar = sql_grammar(SCHEMA, "sqlite")
    with_grammar = GenerationParams(max_tokens=MAX_TOKENS, grammar=grammar)
    chat_plain, _, n_plain = await backend_speed(model, GenerationParams(max_tokens=MAX_TOKENS), chat=True)
    # NL2SQL_LLM_GRAMMAR_CHECK: lazy (the model's pick tested first) vs full (every token of the vocabulary)
    chat_lazy, _, n_lazy = await backend_speed(model, with_grammar, chat=True)
    full = LlamaCppChatModel(dataclasses.replace(settings, grammar_check="full"))
    await full.load()
    chat_full, _, n_full = await backend_speed(full, with_grammar, chat=True)
    question = [Message("user", f"{PROMPT}{QUESTION}")]
    same = (await model.chat(question, with_grammar)).text == (await full.chat(question, with_grammar)).text
    await full.close()
    print(
        f"SQL grammar: lazy check {chat_lazy:.1f} tokens/s, full check {chat_full:.1f}, no grammar {chat_plain:.1f}; "
        f"ratio with/without: lazy {chat_lazy / chat_plain:.2f}, full {chat_full / chat_plain:.2f} (target >= 0.8); "
        f"median tokens {n_lazy} / {n_full} / {n_plain}; greedy output lazy == full: {same}"
    )
    await model.close()

    for slots in sorted({1, 2, settings.slots}):
        pool = LlamaCppChatModel(dataclasses.replace(settings, slots=slots, queue_size=8))
        await pool.load()
        for concurrency in (1, 2, 4):
            rate = await throughput(pool, concurrency)
            print(f"throughput slots={slots} (threads {pool.threads} each) concurrent={concurrency}: {rate:.1f} tokens/s")
        await pool.close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="measured runs per figure (medians)")
    RUNS = max(1, parser.parse_args().runs)
    asyncio.run(main())
