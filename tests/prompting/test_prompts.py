"""build_prompt: templates per model family, dialect-aware DDL, and fitting the context by dropping whole items."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlglot

from nl2sql.catalog import InstructionKind
from nl2sql.prompting import ErrorFeedback, PromptBudget, PromptTooLarge, Turn, build_prompt, render_table
from nl2sql.retrieval.dto import ScoredInstruction, ScoredTable

from .conftest import CUSTOMERS, ORDERS, column, instruction, shop_retrieval, table

TODAY = dt.date(2025, 6, 1)
QUESTION = "How many orders came from customers in CA?"


def words(text: str) -> int:
    """An exact counter for these tests: one token per whitespace-separated word."""
    return len(text.split())


def budget(context: int = 4096, family: str = "completion", new: int = 64) -> PromptBudget:
    return PromptBudget(context, new, family, words, per_message_overhead=4)


def ranking(retrieval) -> list[str]:
    """Item labels, best first, as the builder ranks them (always-on instructions on top)."""
    items = [(t.score, f"table {t.table.name}") for t in retrieval.tables]
    items += [
        (s.score + (10 if s.instruction.kind == InstructionKind.ALWAYS else 0), f"instruction {s.instruction.id}")
        for s in retrieval.instructions
    ]
    items += [(g.score, f"golden query {g.golden.id}") for g in retrieval.golden_queries]
    return [label for _, label in sorted(items, reverse=True)]


def kept_labels(prompt) -> set[str]:
    labels = {f"table {t.name}" for t in prompt.tables}
    labels |= {f"instruction {i.id}" for i in prompt.instructions}
    labels |= {f"golden query {g.id}" for g in prompt.golden_queries}
    return labels


def test_completion_prompt_holds_schema_as_ddl_with_comments_keys_values_examples_and_date(retrieval):
    prompt = build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY)

    assert prompt.kind == "completion" and prompt.messages == ()
    assert prompt.text.rstrip().endswith("[SQL]")
    assert "[QUESTION]How many orders came from customers in CA?[/QUESTION]" in prompt.text
    assert "CREATE TABLE orders (" in prompt.text
    assert "-- Orders placed by customers" in prompt.text
    assert "FOREIGN KEY (customer_id) REFERENCES customers(id)" in prompt.text
    assert "state TEXT, -- US state code; values: 'CA', 'NY', 'TX'" in prompt.text
    assert "join payments to orders on payments.order_id = orders.id" in prompt.text
    assert "Revenue counts only orders not cancelled." in prompt.text
    assert "SQL: SELECT COUNT(*) FROM orders" in prompt.text
    assert "Today is 2025-06-01." in prompt.text
    assert "PostgreSQL" in prompt.text


def test_sensitive_column_is_shown_without_values_and_marked():
    sensitive = table("people", (column("id", pk=True), column("ssn", "TEXT", sensitive=True, values=None)))
    ddl = render_table(sensitive, "postgres")
    assert "ssn TEXT -- sensitive: never select or filter on it" in ddl


def test_chat_family_gets_system_and_user_messages_in_the_connections_dialect(retrieval):
    prompt = build_prompt(QUESTION, retrieval, budget(family="chatml"), "sqlite", TODAY)

    assert prompt.kind == "chat"
    assert [m.role for m in prompt.messages] == ["system", "user"]
    system, user = prompt.messages
    assert "SQLite" in system.content and "strftime" in system.content
    assert "CREATE TABLE customers (" in system.content
    assert "How many orders are there?" in system.content
    assert user.content == QUESTION


def test_template_setting_overrides_the_family(retrieval):
    prompt = build_prompt(QUESTION, retrieval, budget(family="chatml"), "postgres", TODAY, template="completion")
    assert prompt.kind == "completion"


def test_mysql_quotes_reserved_and_odd_names_with_backticks():
    odd = table("order items", (column("id", pk=True), column("order", "INTEGER")))
    ddl = render_table(odd, "mysql")
    assert "CREATE TABLE `order items` (" in ddl and "`order` INTEGER" in ddl
    assert 'CREATE TABLE "order items" (' in render_table(odd, "postgres")


def test_every_rendered_table_parses_as_ddl(retrieval):
    for scored in retrieval.tables:
        ddl = render_table(scored.table, "postgres")
        sql = "\n".join(line.split(" -- ")[0] for line in ddl.splitlines() if not line.startswith("--"))
        assert isinstance(sqlglot.parse_one(sql, read="postgres"), sqlglot.exp.Create)


def test_tiny_budget_drops_lowest_scoring_items_first(retrieval):
    full = build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY)
    order = ranking(retrieval)
    seen_drops = set()
    for limit in range(full.tokens, 0, -7):
        try:
            prompt = build_prompt(QUESTION, retrieval, budget(limit + 64), "postgres", TODAY)
        except PromptTooLarge:
            break
        kept = kept_labels(prompt)
        # what is kept is always a prefix of the ranking: nothing kept ranks below something dropped
        assert kept == set(order[: len(kept)]), (limit, kept)
        seen_drops.add(len(order) - len(kept))
    assert seen_drops >= {0, 1, len(order)}  # the loop went from everything to nothing


def test_prompt_always_fits_and_never_cuts_a_statement(retrieval):
    for limit in range(40, 700, 5):
        try:
            prompt = build_prompt(QUESTION, retrieval, budget(limit + 64), "postgres", TODAY)
        except PromptTooLarge:
            continue
        assert words(prompt.text) <= limit
        assert prompt.tokens <= limit
        assert prompt.text.count("CREATE TABLE") == prompt.text.count("\n);")
        for ddl in re.findall(r"CREATE TABLE .*?\n\);", prompt.text, re.S):
            assert ddl.count("(") == ddl.count(")")


def test_chat_prompt_fits_with_message_overhead(retrieval):
    for limit in range(60, 700, 11):
        try:
            prompt = build_prompt(QUESTION, retrieval, budget(limit + 64, "chatml"), "postgres", TODAY)
        except PromptTooLarge:
            continue
        assert sum(words(m.content) + 4 for m in prompt.messages) + 4 <= limit


def test_first_table_to_go_is_the_lowest_scoring_and_its_foreign_keys_go_with_it(retrieval):
    full = build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY)
    for limit in range(full.tokens, 0, -1):
        prompt = build_prompt(QUESTION, retrieval, budget(limit + 64), "postgres", TODAY)
        if len(prompt.tables) < 3:
            break
    assert [t.name for t in prompt.tables] == ["orders", "customers"]
    assert "payments" not in prompt.text  # neither its DDL nor the join hint to it
    assert any(d.startswith("table payments") for d in prompt.dropped)

    only_orders = shop_retrieval(tables=(ScoredTable(ORDERS, 0.9),))
    prompt = build_prompt(QUESTION, only_orders, budget(), "postgres", TODAY)
    assert "REFERENCES customers" not in prompt.text


def test_always_on_instructions_outlast_ranked_items():
    retrieval = shop_retrieval(
        instructions=(ScoredInstruction(instruction(1, "Never count test orders.", InstructionKind.ALWAYS), 0.1),),
        golden_queries=(),
    )
    full = build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY)
    for limit in range(full.tokens, 0, -1):
        try:
            prompt = build_prompt(QUESTION, retrieval, budget(limit + 64), "postgres", TODAY)
        except PromptTooLarge:
            break
        if prompt.tables:
            assert "Never count test orders." in prompt.text


def test_question_that_cannot_fit_is_refused_with_a_reason(retrieval):
    with pytest.raises(PromptTooLarge, match="shorten the question"):
        build_prompt("why " * 500, retrieval, budget(300, new=64), "postgres", TODAY)


def test_repair_prompt_carries_the_previous_sql_and_error(retrieval):
    feedback = ErrorFeedback("SELECT nope FROM orders", 'column "nope" does not exist')
    completion = build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY, error_feedback=feedback)
    assert "SELECT nope FROM orders" in completion.text and 'column "nope" does not exist' in completion.text

    chat = build_prompt(QUESTION, retrieval, budget(family="chatml"), "postgres", TODAY, error_feedback=feedback)
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "user"]
    assert "SELECT nope FROM orders" in chat.messages[2].content
    assert 'column "nope" does not exist' in chat.messages[3].content
    assert completion.prompt_id != build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY).prompt_id


def test_history_becomes_earlier_turns(retrieval):
    history = (Turn("How many customers?", "SELECT COUNT(*) FROM customers"),)
    chat = build_prompt("And in NY?", retrieval, budget(family="chatml"), "postgres", TODAY, history=history)
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "user"]
    assert chat.messages[1].content == "How many customers?"
    completion = build_prompt("And in NY?", retrieval, budget(), "postgres", TODAY, history=history)
    assert "SQL: SELECT COUNT(*) FROM customers" in completion.text


def test_columns_by_table_lists_what_the_prompt_shows(retrieval):
    prompt = build_prompt(QUESTION, retrieval, budget(), "postgres", TODAY)
    assert prompt.columns_by_table["customers"] == tuple(c.name for c in CUSTOMERS.columns)
