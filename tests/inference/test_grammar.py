"""SQL grammar: valid statements over the allowed schema are accepted, unknown names are impossible."""

from __future__ import annotations

import pytest

from nl2sql.inference import json_grammar, sql_grammar, table_aliases

SCHEMA = {
    "customers": ["id", "name", "email", "country", "created_at"],
    "orders": ["id", "customer_id", "total", "status", "ordered_at"],
    "order_items": ["order_id", "product_id", "quantity", "price"],
    "products": ["id", "name", "category", "price"],
}

VALID = [
    "SELECT COUNT(*) FROM customers",
    "SELECT name, email FROM customers WHERE country = 'Germany' ORDER BY name LIMIT 10;",
    "SELECT c.country, SUM(o.total) AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id "
    "GROUP BY c.country HAVING SUM(o.total) > 1000 ORDER BY 2 DESC",
    "SELECT customers.name FROM customers AS c LEFT JOIN orders AS o ON o.customer_id = c.id WHERE o.id IS NULL",
    "SELECT DISTINCT p.category FROM products p WHERE p.price BETWEEN 10 AND 20.5 AND p.name ILIKE '%tea%'",
    "WITH cte AS (SELECT customer_id, total FROM orders WHERE status IN ('paid', 'shipped')) "
    "SELECT cte.customer_id, AVG(cte.total) FROM cte GROUP BY cte.customer_id",
    "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > 100)",
    "SELECT sub.id FROM (SELECT id FROM products WHERE price > 5) AS sub",
    "SELECT EXTRACT(YEAR FROM ordered_at) AS y, ROUND(AVG(total), 2) FROM orders GROUP BY 1",
    "SELECT DATE_TRUNC('month', o.ordered_at), COUNT(DISTINCT o.customer_id) FROM orders o GROUP BY 1",
    "SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END AS size, COALESCE(status, 'none') FROM orders",
    "SELECT id FROM customers UNION SELECT customer_id FROM orders",
    "SELECT o1.id FROM orders o1 JOIN orders o2 ON o1.customer_id = o2.customer_id AND o1.id <> o2.id",
    "SELECT CAST(total AS INTEGER) FROM orders WHERE ordered_at >= DATE '2024-01-01' AND NOT status = 'void'",
    'SELECT "name" FROM "customers"',
    "SELECT *\nFROM orders\nWHERE total > 5\nLIMIT 3",
]

INVALID = [
    "SELECT * FROM employees",  # unknown table
    "SELECT salary FROM customers",  # unknown column
    "SELECT o.name FROM orders o",  # column of another table through the orders alias
    "SELECT orders.email FROM orders",  # column of another table through the table name
    "SELECT x.name FROM customers x",  # an alias outside the generated set
    "SELECT cte.salary FROM cte",  # a CTE exposes no unknown column
    "SELECT id FROM customers; DROP TABLE customers",  # a second statement
    "DELETE FROM customers",
    "SELECT total AS t FROM orders ORDER BY t",  # column aliases are never read back
    "SELECT name FROM customers WHERE name ILIKE 'a%'",  # valid only on postgres/duckdb: see sqlite test
]


@pytest.mark.model
@pytest.mark.parametrize("sql", VALID)
def test_accepts_valid_select_over_allowed_schema(grammar_accepts, sql: str) -> None:
    assert grammar_accepts(sql_grammar(SCHEMA, "postgres").gbnf, sql)


@pytest.mark.model
@pytest.mark.parametrize("sql", INVALID[:-1])
def test_rejects_unknown_names_and_other_statements(grammar_accepts, sql: str) -> None:
    assert not grammar_accepts(sql_grammar(SCHEMA, "postgres").gbnf, sql)


@pytest.mark.model
def test_dialects_differ_in_operators_and_functions(grammar_accepts) -> None:
    sqlite = sql_grammar(SCHEMA, "sqlite").gbnf
    mysql = sql_grammar(SCHEMA, "mysql").gbnf
    assert not grammar_accepts(sqlite, INVALID[-1])
    assert grammar_accepts(sqlite, "SELECT strftime('%Y', ordered_at), COUNT(*) FROM orders GROUP BY 1")
    assert grammar_accepts(mysql, "SELECT YEAR(ordered_at), `name` FROM customers JOIN orders ON customers.id = orders.customer_id")
    assert not grammar_accepts(mysql, "SELECT name FROM customers FULL JOIN orders ON customers.id = orders.customer_id")


@pytest.mark.model
def test_names_that_need_quoting_are_only_accepted_quoted(grammar_accepts) -> None:
    gbnf = sql_grammar({"Order Lines": ["Line Total", "order"]}, "postgres").gbnf
    assert grammar_accepts(gbnf, 'SELECT "Line Total", "order" FROM "Order Lines"')
    assert not grammar_accepts(gbnf, "SELECT order FROM \"Order Lines\"")


@pytest.mark.model
def test_json_grammar_accepts_matching_json_only(grammar_accepts) -> None:
    gbnf = json_grammar({"type": "object", "properties": {"chart": {"enum": ["bar", "line"]}}, "required": ["chart"]}).gbnf
    assert grammar_accepts(gbnf, '{"chart": "bar"}')
    assert not grammar_accepts(gbnf, '{"chart": "pie"}')


def test_grammars_are_cached_per_schema_regardless_of_order() -> None:
    first = sql_grammar({"a": ["x", "y"], "b": ["z"]}, "sqlite")
    second = sql_grammar({"b": ["z"], "a": ["y", "x"]}, "sqlite3")
    assert first is second
    assert first.key != sql_grammar({"a": ["x", "y"]}, "sqlite").key


def test_aliases_are_unique_across_tables() -> None:
    aliases = table_aliases(["customers", "categories", "orders", "order_items"])
    flat = [a for names in aliases.values() for a in names]
    assert len(flat) == len(set(flat))
    assert "o" in aliases["orders"] and "oi" in aliases["order_items"]


def test_rejects_unknown_dialect_and_empty_schema() -> None:
    with pytest.raises(ValueError, match="dialect"):
        sql_grammar(SCHEMA, "oracle")
    with pytest.raises(ValueError):
        sql_grammar({}, "postgres")
