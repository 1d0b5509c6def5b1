"""extract_sql(): the statement out of whatever shape a model answers in."""

from __future__ import annotations

import pytest

from nl2sql.sqlguard import SqlRefused, extract_sql

QUERY = "SELECT name, COUNT(*) FROM orders GROUP BY name"


@pytest.mark.parametrize(
    "output",
    [
        QUERY,
        f"{QUERY};",
        f"```sql\n{QUERY}\n```",
        f"```SQL\n{QUERY};\n```",
        f"```postgresql\n{QUERY}\n```",
        f"```\n{QUERY}\n```",
        f"Here is the query you asked for:\n\n```sql\n{QUERY}\n```\n\nIt counts orders per name.",
        f"Sure! The SQL is:\n{QUERY}\n\nThis query groups the orders by name.",
        f"SQL: {QUERY}",
        f"Query: {QUERY};",
        f"{QUERY}\nExplanation: we group by name.",
        f"{QUERY};\n\n-- Question: how many customers are there?\nSELECT COUNT(*) FROM customers;",
        f"{QUERY}\n```\n\nThe query above groups orders.",
        f"<|im_start|>assistant\n```sql\n{QUERY}\n```<|im_end|>",
        f"```sql\n{QUERY}",
    ],
    ids=[
        "bare", "trailing_semicolon", "sql_fence", "upper_fence", "dialect_fence", "plain_fence",
        "prose_around_fence", "prose_around_bare", "sql_label", "query_label", "trailing_explanation",
        "completion_continues", "completion_closing_fence", "chat_tokens", "unterminated_fence",
    ],
)
def test_extracts_the_statement(output):
    assert " ".join(extract_sql(output).split()) == QUERY


def test_keeps_multiline_sql_with_blank_lines_between_ctes():
    sql = "WITH a AS (\n  SELECT id FROM orders\n),\n\nb AS (SELECT id FROM a)\nSELECT id\nFROM b\nORDER BY id"
    assert extract_sql(f"```sql\n{sql}\n```") == sql


def test_semicolon_inside_a_string_does_not_end_the_statement():
    assert extract_sql("SELECT 'a;b' AS x FROM t; SELECT 2") == "SELECT 'a;b' AS x FROM t"


def test_takes_the_first_of_several_fenced_blocks():
    output = "```sql\nSELECT 1\n```\nor\n```sql\nSELECT 2\n```"
    assert extract_sql(output) == "SELECT 1"


def test_skips_a_fenced_block_without_sql():
    output = "```text\nno query here\n```\n```sql\nSELECT 2\n```"
    assert extract_sql(output) == "SELECT 2"


def test_extracts_a_write_so_validate_can_refuse_it_by_name():
    assert extract_sql("```sql\nDELETE FROM orders\n```") == "DELETE FROM orders"


def test_stacked_statement_after_the_first_is_not_extracted():
    assert extract_sql("SELECT id FROM orders; DROP TABLE orders") == "SELECT id FROM orders"


@pytest.mark.parametrize("output", ["", "   ", "I can't answer that from this database.", "```\n\n```"])
def test_refuses_an_answer_without_sql(output):
    with pytest.raises(SqlRefused, match="no SQL"):
        extract_sql(output)
