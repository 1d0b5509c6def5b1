"""LoggedChatModel records every model call with its caller, purpose, tokens and timings; bodies only when enabled."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nl2sql.db import AppDatabase
from nl2sql.gateway import (
    Gateway,
    MemoryRecordStore,
    Redactor,
    RequestContext,
    call_context,
    note_outcome,
    request_context,
)
from nl2sql.inference import FakeChatModel, GenerationParams, InferenceTimeout, Message, collect
from nl2sql.settings import GatewaySettings


@pytest.fixture
async def make_gateway(settings):
    """Gateways on this test's app database (for quotas) writing their records to memory."""
    made = []

    async def make(**overrides) -> tuple[Gateway, MemoryRecordStore]:
        db = AppDatabase(settings.database.url, settings.database.data_dir, pool_size=2)
        db.open(migrate=False)
        store = MemoryRecordStore()
        gateway = Gateway(db.sessions, replace(GatewaySettings(), **overrides), store)
        gateway.start()
        made.append((gateway, db))
        return gateway, store

    yield make
    for gateway, db in made:
        await gateway.close()
        await db.close()


@pytest.fixture
async def gateway_and_store(make_gateway):
    return await make_gateway()


async def test_model_calls_are_recorded_with_caller_purpose_and_tokens(gateway_and_store):
    gateway, store = gateway_and_store
    model = gateway.wrap(FakeChatModel(["SELECT name FROM users"], model="tiny"))
    with request_context(RequestContext(trace_id="t" * 32, user_id=7, api_key_id=3)):
        with call_context(purpose="generate", connection="demo"):
            generation = await model.chat([Message("user", "list the user names please")])
    assert generation.text == "SELECT name FROM users"
    assert await gateway.recorder.flush()
    (call,) = store.calls
    assert (call.trace_id, call.user_id, call.api_key_id) == ("t" * 32, 7, 3)
    assert (call.purpose, call.connection, call.backend, call.model) == ("generate", "demo", "fake", "tiny")
    assert call.prompt_tokens == 6  # "user: list the user names please"
    assert call.completion_tokens == 4
    assert call.status == "ok" and call.error is None
    assert call.duration_ms >= 0 and call.ttft_ms is not None and call.queue_ms == 0
    assert call.finish_reason == "stop"


async def test_streamed_and_raw_completions_are_recorded_too(gateway_and_store):
    gateway, store = gateway_and_store
    model = gateway.wrap(FakeChatModel(["one two three"]))
    with call_context(purpose="chart"):
        streamed = await collect(model.stream_chat([Message("user", "a b")]))
        await model.complete("x y z", GenerationParams(max_tokens=2))
    assert streamed.text == "one two three"
    assert await gateway.recorder.flush()
    assert [(c.purpose, c.completion_tokens, c.finish_reason) for c in store.calls] == [
        ("chart", 3, "stop"),
        ("chart", 2, "length"),
    ]
    assert all(c.trace_id is None and c.user_id is None for c in store.calls)


async def test_failed_model_calls_are_recorded_with_their_error(gateway_and_store):
    gateway, store = gateway_and_store
    model = gateway.wrap(FakeChatModel([InferenceTimeout("took too long"), RuntimeError("backend crashed")]))
    with pytest.raises(InferenceTimeout):
        await model.complete("q")
    with pytest.raises(RuntimeError):
        await model.complete("q")
    assert await gateway.recorder.flush()
    assert [(c.status, c.error) for c in store.calls] == [
        ("timeout", "took too long"),
        ("error", "RuntimeError: backend crashed"),
    ]
    assert store.calls[0].prompt_tokens == 0 and store.calls[0].model == "fake-model"


async def test_bodies_are_absent_when_storing_is_disabled(gateway_and_store):
    gateway, store = gateway_and_store
    model = gateway.wrap(FakeChatModel(["SELECT 1"]))
    await model.complete("how many customers")
    assert await gateway.recorder.flush()
    assert (store.calls[0].prompt, store.calls[0].completion) == (None, None)


async def test_bodies_are_stored_redacted_when_enabled(make_gateway):
    gateway, store = await make_gateway(store_bodies=True)
    model = gateway.wrap(
        FakeChatModel(["SELECT * FROM customers WHERE ssn = '123-45-6789' AND email = 'ann@example.com'"])
    )
    prompt = "Find the customer with ssn 123-45-6789. Columns: ssn, email. Sample: email: 'bob@example.com'"
    with call_context(purpose="generate", sensitive_values=["123-45-6789"], sensitive_columns=["email"]):
        await model.complete(prompt)
    with call_context(purpose="repair", redact=lambda text: text.replace("secret", "[gone]")):
        await model.complete("the secret word")
    assert await gateway.recorder.flush()
    first, second = store.calls
    assert "123-45-6789" not in first.prompt and "123-45-6789" not in first.completion
    assert "bob@example.com" not in first.prompt and "ann@example.com" not in first.completion
    assert first.prompt == "Find the customer with ssn [redacted]. Columns: ssn, email. Sample: email: [redacted]"
    assert first.completion == "SELECT * FROM customers WHERE ssn = '[redacted]' AND email = [redacted]"
    assert second.prompt == "the [gone] word"


def test_redactor_replaces_sensitive_values_and_column_values():
    redact = Redactor(values=["Alice Smith", "Alice"], columns=["salary"])
    assert redact("Alice Smith earns salary = 120000, salary IN (1, 2)") == (
        "[redacted] earns salary = [redacted], salary IN ([redacted], 2)"
    )


async def test_request_outcome_is_noted_on_the_request_context():
    with request_context(RequestContext(trace_id="x" * 32)) as context:
        note_outcome("refused")
    assert context.outcome == "refused"
    note_outcome("ignored without a request")
