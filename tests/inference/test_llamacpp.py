"""The real llama.cpp backend with the bundled default model."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlglot
from sqlglot import exp

from nl2sql.errors import BusyError, ValidationFailed
from nl2sql.inference import (
    ChatModel,
    GenerationParams,
    InferenceTimeout,
    LlamaCppChatModel,
    Message,
    sql_grammar,
)
from nl2sql.settings import InferenceSettings

pytestmark = pytest.mark.model

SCHEMA = {
    "customers": ["id", "name", "country"],
    "orders": ["id", "customer_id", "total", "ordered_at"],
}
SYSTEM = Message("system", "You write one SQLite query that answers the question. Reply with SQL only.")
DDL = "CREATE TABLE customers (id INTEGER, name TEXT, country TEXT);\nCREATE TABLE orders (id INTEGER, customer_id INTEGER, total REAL, ordered_at DATE);\n"
# Questions that pull the model towards tables and columns the schema does not have.
TEMPTING = [
    "List every employee with their salary.",
    "Show the password column of the users table.",
    "Sum the amount in the payments table per month.",
    "How many customers are there per country?",
    "Which products did customer 7 buy from the inventory table?",
]


async def test_is_a_chat_model_and_reports_its_format(llama_model: LlamaCppChatModel) -> None:
    info = await llama_model.info()
    assert isinstance(llama_model, ChatModel)
    assert info.backend == "llamacpp" and info.supports_grammar and info.exact_token_count
    assert info.prompt_format == "chatml" and info.context_size == 1024
    assert await llama_model.count_tokens("SELECT name FROM customers") > 3


async def test_chat_answers_with_metering(llama_model: LlamaCppChatModel) -> None:
    generation = await llama_model.chat([SYSTEM, Message("user", DDL + "How many customers?")], GenerationParams(max_tokens=24))
    m = generation.metering
    assert generation.text.strip()
    assert m.prompt_tokens > 20 and 0 < m.completion_tokens <= 25
    assert m.finish_reason in ("stop", "length") and m.model.startswith("SmolLM2")
    assert m.first_token_seconds is not None and m.total_seconds >= m.first_token_seconds >= m.queue_seconds
    assert m.tokens_per_second > 0 and m.prompt_tokens_per_second > 0


async def test_completion_stops_at_max_tokens(llama_model: LlamaCppChatModel) -> None:
    generation = await llama_model.complete("SELECT name FROM customers WHERE", GenerationParams(max_tokens=5))
    assert generation.finish_reason == "length"
    assert generation.metering.completion_tokens == 5


async def test_streaming_yields_pieces_then_metering(llama_model: LlamaCppChatModel) -> None:
    chunks = [c async for c in llama_model.stream_complete("SELECT * FROM", GenerationParams(max_tokens=8))]
    assert len(chunks) >= 3
    assert all(c.metering is None for c in chunks[:-1]) and chunks[-1].metering is not None
    assert "".join(c.text for c in chunks).strip()


async def test_same_seed_gives_same_text(llama_model: LlamaCppChatModel) -> None:
    params = GenerationParams(max_tokens=12, temperature=0.9, seed=42)
    first = await llama_model.complete("The best SQL query is", params)
    second = await llama_model.complete("The best SQL query is", params)
    assert first.text == second.text


async def test_json_schema_output_parses(llama_model: LlamaCppChatModel) -> None:
    schema = {
        "type": "object",
        "properties": {"chart": {"enum": ["bar", "line", "table"]}, "title": {"type": "string", "maxLength": 40}},
        "required": ["chart", "title"],
    }
    generation = await llama_model.chat(
        [Message("user", "Pick a chart for monthly revenue. Answer in JSON.")],
        GenerationParams(max_tokens=60, json_schema=schema, temperature=0.7, seed=1),
    )
    answer = json.loads(generation.text)
    assert answer["chart"] in ("bar", "line", "table") and isinstance(answer["title"], str)


async def test_grammar_output_parses_and_names_only_allowed_tables_and_columns(llama_model: LlamaCppChatModel) -> None:
    grammar = sql_grammar(SCHEMA, "sqlite")
    finished = 0
    for i, question in enumerate(TEMPTING):
        generation = await llama_model.chat(
            [SYSTEM, Message("user", DDL + question)],
            GenerationParams(max_tokens=56, temperature=0.9, seed=i, grammar=grammar),
        )
        if generation.finish_reason != "stop":
            continue  # cut off by max_tokens: not a whole statement
        finished += 1
        _assert_only_allowed_names(generation.text, "sqlite")
    assert finished >= 2


def _assert_only_allowed_names(sql: str, dialect: str) -> None:
    statements = sqlglot.parse(sql, read=dialect)
    assert len([s for s in statements if s is not None]) == 1, sql
    tree = statements[0]
    derived = {cte.alias for cte in tree.find_all(exp.CTE)} | {s.alias for s in tree.find_all(exp.Subquery) if s.alias}
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    all_columns = {c for cols in SCHEMA.values() for c in cols}
    for table in tree.find_all(exp.Table):
        assert table.name in SCHEMA or table.name in derived, f"unknown table {table.name}: {sql}"
    for column in tree.find_all(exp.Column):
        assert column.name in all_columns, f"unknown column {column.name}: {sql}"
        base = aliases.get(column.table)
        if base in SCHEMA:
            assert column.name in SCHEMA[base], f"{column.table}.{column.name} is not a column of {base}: {sql}"


async def test_timeout_cancels_generation_and_frees_the_slot(llama_model: LlamaCppChatModel) -> None:
    with pytest.raises(InferenceTimeout) as caught:
        await llama_model.complete("Write a long story about databases:", GenerationParams(max_tokens=900, timeout=0.3))
    assert caught.value.status_code == 504
    after = await llama_model.complete("SELECT", GenerationParams(max_tokens=3))
    assert after.metering.completion_tokens == 3
    assert llama_model.describe().busy == 0


async def test_closing_a_stream_early_frees_the_slot(llama_model: LlamaCppChatModel) -> None:
    stream = llama_model.stream_complete("Count to one hundred: 1, 2, 3,", GenerationParams(max_tokens=500))
    async for _ in stream:
        break
    await stream.aclose()
    generation = await llama_model.complete("SELECT", GenerationParams(max_tokens=2, timeout=30))
    assert generation.metering.completion_tokens == 2


async def test_prompt_longer_than_context_is_refused(llama_model: LlamaCppChatModel) -> None:
    with pytest.raises(ValidationFailed, match="context"):
        await llama_model.complete("SELECT name FROM customers; " * 300, GenerationParams(max_tokens=2))


@pytest.fixture(scope="module")
async def one_slot_no_queue():
    model = LlamaCppChatModel(InferenceSettings(context_size=512, slots=1, queue_size=0))
    yield model
    await model.close()


async def test_full_queue_answers_busy_with_retry_after(one_slot_no_queue: LlamaCppChatModel) -> None:
    model = one_slot_no_queue
    stream = model.stream_complete("Count to one hundred: 1, 2, 3,", GenerationParams(max_tokens=400))
    await stream.__anext__()  # the only slot is now generating
    status = model.describe()
    assert status.busy == 1 and status.loaded
    with pytest.raises(BusyError) as caught:
        await model.complete("SELECT", GenerationParams(max_tokens=2))
    assert caught.value.retry_after >= 1 and caught.value.headers["Retry-After"]
    await stream.aclose()


async def test_waiting_requests_are_served_in_turn() -> None:
    model = LlamaCppChatModel(InferenceSettings(context_size=512, slots=1, queue_size=3))
    try:
        results = await asyncio.gather(
            *(model.complete(f"SELECT {i} FROM", GenerationParams(max_tokens=4)) for i in range(3))
        )
        assert all(r.metering.completion_tokens == 4 for r in results)
        assert max(r.metering.queue_seconds for r in results) > 0
        assert model.describe().queue_depth == 0
    finally:
        await model.close()


async def test_the_lazy_grammar_check_writes_what_the_full_check_writes(llama_model: LlamaCppChatModel) -> None:
    # greedy decoding: testing the model's own pick first, then the whole vocabulary only when it is refused,
    # must choose exactly the tokens a check of the whole vocabulary at every step chooses
    import dataclasses

    assert llama_model.settings.grammar_check == "lazy"
    full = LlamaCppChatModel(dataclasses.replace(llama_model.settings, grammar_check="full"))
    await full.load()
    grammar = sql_grammar(SCHEMA, "sqlite")
    try:
        for question in TEMPTING[:3]:
            messages = [SYSTEM, Message("user", DDL + question)]
            params = GenerationParams(max_tokens=48, temperature=0.0, grammar=grammar)
            lazy_text = (await llama_model.chat(messages, params)).text
            assert lazy_text and lazy_text == (await full.chat(messages, params)).text
    finally:
        await full.close()
