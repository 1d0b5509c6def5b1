"""The scoped SQL grammar under sampling: what the real small model writes parses, resolves and runs."""

from __future__ import annotations

import sqlite3

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from nl2sql.inference import GenerationParams, LlamaCppChatModel, sql_grammar

pytestmark = pytest.mark.model

SCHEMA = {
    "customers": ["id", "name", "city", "signup_date"],
    "orders": ["id", "customer_id", "status", "order_date", "total"],
    "order_items": ["id", "order_id", "product_id", "quantity", "unit_price"],
    "products": ["id", "name", "category", "price"],
}
JOINS = [
    ("orders", "customers", [("customer_id", "id")]),
    ("order_items", "orders", [("order_id", "id")]),
    ("order_items", "products", [("product_id", "id")]),
]
DDL = """CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, signup_date DATE);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), status TEXT, order_date DATE, total REAL);
CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id), product_id INTEGER REFERENCES products(id), quantity INTEGER, unit_price REAL);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL);"""
QUESTIONS = [
    "How many customers live in Boston?",
    "What is the total revenue per product category?",
    "Which customers placed the most orders?",
    "List the ten most expensive products.",
]
SAMPLES_PER_QUESTION = 3
DECLARED = {
    frozenset({("orders", "customer_id"), ("customers", "id")}),
    frozenset({("order_items", "order_id"), ("orders", "id")}),
    frozenset({("order_items", "product_id"), ("products", "id")}),
}


@pytest.fixture(scope="module")
async def samples(llama_model: LlamaCppChatModel) -> list[tuple[str, str]]:
    """(text, finish reason) of sampled generations at temperature 0.9, a few seeds per question."""
    grammar = sql_grammar(SCHEMA, "sqlite", JOINS)
    out = []
    for number, question in enumerate(QUESTIONS):
        prompt = f"### SQLite schema\n{DDL}\n\n### Question\n{question}\n\n### SQL\n"
        for seed in range(SAMPLES_PER_QUESTION):
            params = GenerationParams(max_tokens=64, temperature=0.9, seed=100 * number + seed, grammar=grammar)
            generation = await llama_model.complete(prompt, params)
            out.append((generation.text, generation.finish_reason))
    return out


def finished(samples: list[tuple[str, str]]) -> list[str]:
    return [text for text, reason in samples if reason != "length"]


def test_most_sampled_statements_finish_within_the_token_limit(samples) -> None:
    assert len(finished(samples)) >= len(samples) // 2, samples


def test_finished_statements_parse_and_every_column_belongs_to_a_table_in_from(samples) -> None:
    schema = {table: {column: "TEXT" for column in columns} for table, columns in SCHEMA.items()}
    for text in finished(samples):
        tree = sqlglot.parse_one(text, read="sqlite")
        assert isinstance(tree, exp.Select) and (tree.args.get("from_") or tree.args.get("from")), text
        # qualify() raises when a column resolves to no table of its scope, or to several
        qualify(tree, schema=schema, dialect="sqlite", validate_qualify_columns=True)
        for join in tree.find_all(exp.Join):
            pairs = frozenset((c.table, c.name) for c in join.args["on"].find_all(exp.Column))
            assert pairs in DECLARED, text


def test_finished_statements_run_on_sqlite(samples, tmp_path) -> None:
    database = sqlite3.connect(tmp_path / "shop.db")
    database.executescript(DDL)
    database.executescript(
        "INSERT INTO customers VALUES (1, 'Ann', 'Boston', '2024-01-02'), (2, 'Bo', 'Austin', '2024-03-04');"
        "INSERT INTO products VALUES (1, 'Mug', 'Home', 9.5), (2, 'Pen', 'Office', 2.0);"
        "INSERT INTO orders VALUES (1, 1, 'paid', '2024-05-06', 21.0), (2, 2, 'void', '2024-06-07', 2.0);"
        "INSERT INTO order_items VALUES (1, 1, 1, 2, 9.5), (2, 2, 2, 1, 2.0);"
    )
    statements = finished(samples)
    failures = []
    for text in statements:
        try:
            database.execute(text).fetchall()
        except sqlite3.Error as error:
            failures.append((text, str(error)))
    assert len(failures) <= len(statements) // 10, failures
