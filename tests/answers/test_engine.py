"""SqlGenerationService.generate_sql: golden shortcut, generation with grammar, guard, database check, repair loop, grants."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nl2sql.answers import SqlNotGenerated
from nl2sql.errors import BusyError, ConflictError, NotFoundError, ValidationFailed
from nl2sql.inference import FakeChatModel
from nl2sql.sqlguard import ValidatedSql

QUESTION = "How many orders are there?"
GOOD = "SELECT COUNT(*) FROM orders"


async def test_valid_answer_is_checked_sql_with_one_attempt(shop):
    model = FakeChatModel(["```sql\nSELECT COUNT(*) AS n FROM orders\n```"])
    answer = await shop.service(model).generate_sql(shop.admin, QUESTION, "shop")

    assert isinstance(answer.validated, ValidatedSql)
    assert "COUNT(*)" in answer.sql and "LIMIT 1000" in answer.sql
    assert answer.verified is False and answer.golden_query_id is None
    [attempt] = answer.attempts
    assert attempt.kind == "generate" and attempt.ok and attempt.prompt_id and attempt.raw_output
    assert attempt.finish_reason == "stop"
    assert set(attempt.timings) >= {"prompt_ms", "generate_ms", "validate_ms", "probe_ms"}
    assert {t.name for t in answer.retrieved.tables} == {"customers", "orders"}
    assert all(t.score == 1.0 and t.in_prompt for t in answer.retrieved.tables)
    assert {"retrieve_ms", "prompt_ms", "generate_ms", "total_ms"} <= set(answer.timings)


async def test_repair_loop_feeds_the_database_error_back_until_the_sql_works(shop):
    model = FakeChatModel(["SELECT nope FROM orders", GOOD])
    answer = await shop.service(model).generate_sql(shop.admin, QUESTION, "shop")

    first, second = answer.attempts
    assert first.error_kind == "database" and "nope" in first.error and first.sql.startswith("SELECT nope")
    assert second.kind == "repair" and second.ok and second.prompt_id != first.prompt_id
    repair_prompt = model.calls[1].prompt
    assert "SELECT nope FROM orders" in repair_prompt and "no such column" in repair_prompt
    assert answer.sql.startswith("SELECT COUNT(*) FROM orders")


async def test_unreadable_and_refused_outputs_are_repaired_too(shop):
    model = FakeChatModel(["I cannot help with that.", "DELETE FROM orders", GOOD])
    answer = await shop.service(model).generate_sql(shop.admin, QUESTION, "shop")

    assert [a.error_kind for a in answer.attempts] == ["extraction", "refused", None]
    assert "I cannot help with that." in model.calls[1].prompt
    assert "DELETE FROM orders" in model.calls[2].prompt


async def test_sensitive_column_values_are_refused(shop):
    model = FakeChatModel(["SELECT email FROM customers"])
    with pytest.raises(SqlNotGenerated) as caught:
        await shop.service(model, repair_attempts=0).generate_sql(shop.admin, "Emails of customers?", "shop")
    assert "email" in caught.value.detail and "sensitive" in caught.value.detail


async def test_refusal_after_all_attempts_carries_the_last_reason_and_every_attempt(shop):
    model = FakeChatModel(["DROP TABLE orders", "DELETE FROM orders", "UPDATE orders SET status = 'x'"])
    with pytest.raises(SqlNotGenerated) as caught:
        await shop.service(model, repair_attempts=2).generate_sql(shop.admin, QUESTION, "shop")

    error = caught.value
    assert error.status_code == 422
    assert "after 3 attempts" in error.detail and "UPDATE" in error.detail
    assert [a["kind"] for a in error.extra["attempts"]] == ["generate", "repair", "repair"]
    assert len(model.calls) == 3
    async with shop.sessions() as db:
        status, stored = (await db.execute(sa.text("SELECT status, attempts FROM answers"))).one()
    assert status == "failed" and len(stored) == 3


async def test_the_same_error_twice_ends_the_repairs(shop):
    model = FakeChatModel(["DROP TABLE orders"])
    with pytest.raises(SqlNotGenerated) as caught:
        await shop.service(model, repair_attempts=5).generate_sql(shop.admin, QUESTION, "shop")
    assert "after 2 attempts" in caught.value.detail and "read-only" in caught.value.detail
    assert len(model.calls) == 2


async def test_golden_shortcut_reuses_verified_sql_without_the_model(shop):
    golden = await shop.catalog.add_golden_query(shop.admin, shop.connection.id, "How many orders do we have?", GOOD)
    shop.retriever.golden_scores = {golden.id: 0.97}
    model = FakeChatModel(["SELECT 'never asked'"])
    answer = await shop.service(model, golden_threshold=0.92).generate_sql(shop.admin, QUESTION, "shop")

    assert model.calls == []
    assert answer.verified is True and answer.golden_query_id == golden.id
    assert answer.sql.startswith(GOOD)
    assert [a.kind for a in answer.attempts] == ["golden"]


async def test_golden_query_below_threshold_guides_the_prompt_and_is_recorded(shop):
    golden = await shop.catalog.add_golden_query(
        shop.admin, shop.connection.id, "Revenue of shipped orders?", "SELECT SUM(amount) FROM orders WHERE status = 'shipped'"
    )
    shop.retriever.golden_scores = {golden.id: 0.6}
    model = FakeChatModel([GOOD])
    answer = await shop.service(model, golden_threshold=0.92).generate_sql(shop.admin, QUESTION, "shop")

    assert answer.verified is False
    assert answer.guided_by == (golden.id,)
    assert "SELECT SUM(amount) FROM orders WHERE status = 'shipped'" in model.calls[0].prompt
    assert [g.in_prompt for g in answer.retrieved.golden_queries] == [True]


async def test_grammar_over_the_prompts_tables_is_used_where_supported(shop):
    model = FakeChatModel([GOOD], supports_grammar=True)
    answer = await shop.service(model).generate_sql(shop.admin, QUESTION, "shop")
    grammar = model.calls[0].params.grammar
    assert grammar is not None and grammar.kind == "sql" and "orders" in grammar.gbnf
    assert answer.attempts[0].grammar is True

    off = FakeChatModel([GOOD], supports_grammar=True)
    await shop.service(off, grammar=False).generate_sql(shop.admin, QUESTION, "shop")
    assert off.calls[0].params.grammar is None

    unsupported = FakeChatModel([GOOD], supports_grammar=False)
    await shop.service(unsupported).generate_sql(shop.admin, QUESTION, "shop")
    assert unsupported.calls[0].params.grammar is None


async def test_small_context_still_gets_a_prompt_that_fits(shop):
    model = FakeChatModel([GOOD], context_size=200)
    answer = await shop.service(model, max_new_tokens=32).generate_sql(shop.admin, QUESTION, "shop")
    call = model.calls[0]
    assert len(call.prompt.split()) + call.params.max_tokens <= 200
    assert answer.attempts[0].prompt_tokens <= 200 - 32


async def test_empty_question_is_refused_before_anything_runs(shop):
    model = FakeChatModel([GOOD])
    with pytest.raises(ValidationFailed, match="question is empty"):
        await shop.service(model).generate_sql(shop.admin, "   ", "shop")
    assert model.calls == [] and shop.retriever.questions == []


async def test_unknown_connection_is_not_found(shop):
    with pytest.raises(NotFoundError, match="no connection named 'nowhere'"):
        await shop.service(FakeChatModel([GOOD])).generate_sql(shop.admin, QUESTION, "nowhere")


async def test_analyst_without_grant_sees_no_connection_and_with_grant_gets_sql(shop):
    service = shop.service(FakeChatModel([GOOD]))
    with pytest.raises(NotFoundError):
        await service.generate_sql(shop.analyst, QUESTION, "shop")
    await shop.catalog.set_grants(shop.admin, "shop", [shop.analyst.id])
    answer = await service.generate_sql(shop.analyst, QUESTION, "shop")
    assert answer.sql.startswith(GOOD)


async def test_connection_without_included_tables_says_so(shop):
    for name in ("customers", "orders"):
        await shop.catalog.update_table(shop.admin, shop.connection.id, name, included=False)
    with pytest.raises(ConflictError, match="no included tables"):
        await shop.service(FakeChatModel([GOOD])).generate_sql(shop.admin, QUESTION, "shop")


async def test_busy_model_is_reported_as_busy(shop):
    model = FakeChatModel([BusyError("the model is busy", retry_after=7)])
    with pytest.raises(BusyError) as caught:
        await shop.service(model).generate_sql(shop.admin, QUESTION, "shop")
    assert caught.value.headers["Retry-After"] == "7"


async def test_every_answer_is_recorded_with_its_trace(shop):
    model = FakeChatModel([GOOD])
    answer = await shop.service(model).generate_sql(shop.admin, QUESTION, "shop")
    async with shop.sessions() as db:
        row = (await db.execute(sa.text(
            "SELECT user_id, connection_name, question, sql, status, verified, attempts, retrieved, timings "
            "FROM answers WHERE id = :id"), {"id": answer.id})).one()
    assert row.user_id == shop.admin.id and row.connection_name == "shop" and row.question == QUESTION
    assert row.sql == answer.sql and row.status == "ok" and row.verified is False
    assert row.attempts[0]["prompt_id"] == answer.attempts[0].prompt_id
    assert row.retrieved["tables"][0]["score"] == 1.0
    assert "total_ms" in row.timings
