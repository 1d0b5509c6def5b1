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
JOINS = [
    ("orders", "customers", [("customer_id", "id")]),
    ("order_items", "orders", [("order_id", "id")]),
    ("order_items", "products", [("product_id", "id")]),
]

VALID = [
    "SELECT COUNT(*) FROM customers",
    "SELECT name, email FROM customers WHERE country = 'Germany' ORDER BY name LIMIT 10;",
    "SELECT customers.country, SUM(orders.total) AS revenue FROM customers JOIN orders ON orders.customer_id = customers.id "
    "GROUP BY customers.country HAVING SUM(orders.total) > 1000 ORDER BY 2 DESC",
    "SELECT customers.name FROM orders LEFT JOIN customers ON customers.id = orders.customer_id WHERE orders.id IS NULL",
    "SELECT DISTINCT category FROM products WHERE price BETWEEN 10 AND 20.5 AND name ILIKE '%tea%'",
    "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > 100)",
    "SELECT name FROM products WHERE price > (SELECT AVG(price) FROM products)",
    "SELECT EXTRACT(YEAR FROM ordered_at) AS y, ROUND(AVG(total), 2) FROM orders GROUP BY 1",
    "SELECT DATE_TRUNC('month', ordered_at), COUNT(DISTINCT customer_id) FROM orders GROUP BY 1",
    "SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END AS size, COALESCE(status, 'none') FROM orders",
    "SELECT CAST(total AS INTEGER) FROM orders WHERE ordered_at >= DATE '2024-01-01' AND NOT status = 'void'",
    'SELECT "name" FROM "customers"',
    # a chain of three tables, bare columns where only one of them has the column
    "SELECT customers.name, SUM(quantity) FROM customers JOIN orders ON orders.customer_id = customers.id "
    "JOIN order_items ON order_items.order_id = orders.id WHERE country = 'France' GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
]

INVALID = [
    "SELECT * FROM employees",  # unknown table
    "SELECT salary FROM customers",  # unknown column
    "SELECT orders.email FROM orders",  # column of another table through the table name
    "SELECT name",  # no FROM
    "SELECT total FROM customers",  # a column of a table that is not in FROM
    "SELECT orders.total FROM customers",
    "SELECT id FROM customers JOIN orders ON orders.customer_id = customers.id",  # ambiguous bare column
    "SELECT name FROM customers JOIN products ON products.id = customers.id",  # no declared join between them
    "SELECT total FROM customers JOIN orders ON orders.id = customers.id",  # not the key pair
    "SELECT c.name FROM customers c",  # aliases are not part of the grammar
    "SELECT name FROM customers WHERE COUNT(*) > 1",  # aggregate in WHERE
    "SELECT SUM(MAX(total)) FROM orders",  # nested aggregates
    "SELECT *\nFROM orders",  # only single spaces between tokens
    "SELECT id, id, id, id, id, id, id, id, id FROM orders",  # at most eight select items
    "SELECT id FROM customers; DROP TABLE customers",  # a second statement
    "DELETE FROM customers",
    "SELECT total AS t FROM orders ORDER BY t",  # column aliases are never read back
    "WITH cte AS (SELECT id FROM orders) SELECT id FROM cte",  # no CTEs in the scoped grammar
    "SELECT name FROM customers WHERE name ILIKE 'a%'",  # valid only on postgres/duckdb: see sqlite test
]


@pytest.mark.model
@pytest.mark.parametrize("sql", VALID)
def test_accepts_valid_select_over_allowed_schema(grammar_accepts, sql: str) -> None:
    assert grammar_accepts(sql_grammar(SCHEMA, "postgres", JOINS).gbnf, sql)


@pytest.mark.model
@pytest.mark.parametrize("sql", INVALID[:-1])
def test_rejects_unknown_names_and_other_statements(grammar_accepts, sql: str) -> None:
    assert not grammar_accepts(sql_grammar(SCHEMA, "postgres", JOINS).gbnf, sql)


@pytest.mark.model
def test_dialects_differ_in_operators_and_functions(grammar_accepts) -> None:
    sqlite = sql_grammar(SCHEMA, "sqlite", JOINS).gbnf
    mysql = sql_grammar(SCHEMA, "mysql", JOINS).gbnf
    assert not grammar_accepts(sqlite, INVALID[-1])
    assert grammar_accepts(sqlite, "SELECT strftime('%Y', ordered_at), COUNT(*) FROM orders GROUP BY 1")
    assert grammar_accepts(mysql, "SELECT YEAR(ordered_at), `name` FROM customers JOIN orders ON orders.customer_id = customers.id")
    assert not grammar_accepts(mysql, "SELECT EXTRACT(YEAR FROM ordered_at) FROM orders WHERE status || 'x' = 'y'")
    assert not grammar_accepts(sqlite, "SELECT EXTRACT(YEAR FROM ordered_at) FROM orders")


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
    first = sql_grammar({"a": ["x", "y"], "b": ["z"]}, "sqlite", [("a", "b", [("x", "z")])])
    second = sql_grammar({"b": ["z"], "a": ["y", "x"]}, "sqlite3", [("b", "a", [("z", "x")])])
    assert first is second
    assert first.key != sql_grammar({"a": ["x", "y"], "b": ["z"]}, "sqlite").key


def test_joins_over_unknown_tables_or_columns_are_ignored() -> None:
    plain = sql_grammar({"a": ["x"], "b": ["z"]}, "sqlite")
    assert sql_grammar({"a": ["x"], "b": ["z"]}, "sqlite", [("a", "c", [("x", "z")]), ("a", "b", [("x", "w")])]) is plain


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
