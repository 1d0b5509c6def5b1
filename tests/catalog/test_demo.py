"""The demo shop database: deterministic, consistent, fully described, and its golden queries run."""

from __future__ import annotations

import hashlib
import pathlib
import sqlite3

import pytest
import sqlglot
from sqlglot import exp

from nl2sql.catalog.demo import DEMO_DESCRIPTIONS, DEMO_GOLDEN_QUERIES, DEMO_INSTRUCTIONS, build_demo_database

ROW_COUNTS = {
    "categories": (10, 15),
    "products": (120, 200),
    "customers": (700, 900),
    "orders": (2500, 3500),
    "order_items": (6000, 10000),
    "payments": (2500, 4000),
}


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    build_demo_database(path)
    return path


@pytest.fixture
def demo(demo_path: pathlib.Path) -> sqlite3.Connection:
    # Read-only, so a golden query that writes would fail here rather than pass.
    conn = sqlite3.connect(f"{demo_path.as_uri()}?mode=ro", uri=True)
    yield conn
    conn.close()


def table_names(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
    return [name for (name,) in rows]


def checksums(path: pathlib.Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: hashlib.sha256(repr(conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()).encode())
            .hexdigest()
            for table in table_names(conn)
        }
    finally:
        conn.close()


def test_builds_identical_contents_every_time(demo_path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    again = tmp_path / "again.sqlite"
    build_demo_database(again)
    assert checksums(again) == checksums(demo_path)


def test_replaces_an_existing_file_and_leaves_no_temp_files(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "demo.sqlite"
    path.write_text("not a database")
    build_demo_database(path)
    assert [p.name for p in tmp_path.iterdir()] == ["demo.sqlite"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] > 0


@pytest.mark.parametrize(("table", "bounds"), ROW_COUNTS.items())
def test_row_counts_are_in_range(demo: sqlite3.Connection, table: str, bounds: tuple[int, int]) -> None:
    (count,) = demo.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    assert bounds[0] <= count <= bounds[1]


def test_foreign_keys_are_declared_and_valid(demo: sqlite3.Connection) -> None:
    assert demo.execute("PRAGMA foreign_key_check").fetchall() == []
    declared = {
        (table, row[3], row[2])
        for table in table_names(demo)
        for row in demo.execute(f"PRAGMA foreign_key_list({table})")
    }
    assert declared == {
        ("products", "category_id", "categories"),
        ("orders", "customer_id", "customers"),
        ("order_items", "order_id", "orders"),
        ("order_items", "product_id", "products"),
        ("payments", "order_id", "orders"),
    }


def test_foreign_key_columns_are_indexed(demo: sqlite3.Connection) -> None:
    for table, column, _ in [
        (t, row[3], row[2]) for t in table_names(demo) for row in demo.execute(f"PRAGMA foreign_key_list({t})")
    ]:
        indexed = {
            info[2]
            for (_, index, *_) in demo.execute(f"PRAGMA index_list({table})")
            for info in demo.execute(f"PRAGMA index_info({index})")
        }
        assert column in indexed, f"{table}.{column}"


def test_every_order_has_items_and_payments_match_them(demo: sqlite3.Connection) -> None:
    rows = demo.execute(
        """
        SELECT o.id, o.status, t.total, COALESCE(p.paid, 0), COALESCE(p.n, 0)
        FROM orders o
        LEFT JOIN (SELECT order_id, SUM(quantity * unit_price * (1 - discount)) AS total
                   FROM order_items GROUP BY order_id) t ON t.order_id = o.id
        LEFT JOIN (SELECT order_id, SUM(amount) AS paid, COUNT(*) AS n FROM payments GROUP BY order_id) p
               ON p.order_id = o.id
        """
    ).fetchall()
    for order_id, status, total, paid, payments in rows:
        assert total is not None, f"order {order_id} has no items"
        if status == "cancelled":
            assert payments == 0, f"cancelled order {order_id} was paid"
        else:
            assert payments >= 1 and paid == pytest.approx(round(total, 2), abs=0.006), f"order {order_id}"


def test_orders_follow_sign_up_and_span_three_years(demo: sqlite3.Connection) -> None:
    early = demo.execute(
        "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.order_date < c.signup_date"
    ).fetchone()[0]
    assert early == 0
    years = dict(demo.execute("SELECT strftime('%Y', order_date), COUNT(*) FROM orders GROUP BY 1"))
    assert sorted(years) == ["2023", "2024", "2025"]
    assert years["2023"] < years["2024"] < years["2025"]


@pytest.mark.parametrize("golden", DEMO_GOLDEN_QUERIES, ids=lambda golden: golden.question)
def test_golden_query_is_one_read_only_select_that_returns_rows(demo: sqlite3.Connection, golden) -> None:
    statements = sqlglot.parse(golden.sql, read="sqlite")
    assert len(statements) == 1 and isinstance(statements[0], exp.Query)
    assert demo.execute(golden.sql).fetchall()


def test_golden_revenue_matches_the_rows(demo: sqlite3.Connection) -> None:
    (sql,) = [g.sql for g in DEMO_GOLDEN_QUERIES if g.question == "What was the total revenue in 2024?"]
    expected = sum(
        quantity * price * (1 - discount)
        for quantity, price, discount in demo.execute(
            "SELECT quantity, unit_price, discount FROM order_items oi JOIN orders o ON o.id = oi.order_id "
            "WHERE o.order_date BETWEEN '2024-01-01' AND '2024-12-31' "
            "AND o.status IN ('pending', 'shipped', 'delivered')"
        )
    )
    assert demo.execute(sql).fetchone()[0] == pytest.approx(expected, abs=0.01)


def test_descriptions_cover_exactly_the_tables_and_columns(demo: sqlite3.Connection) -> None:
    in_database = {
        table: [row[1] for row in demo.execute(f"PRAGMA table_info({table})")] for table in table_names(demo)
    }
    described = {table.name: [column.name for column in table.columns] for table in DEMO_DESCRIPTIONS}
    assert described == in_database
    for table in DEMO_DESCRIPTIONS:
        assert table.description.strip()
        assert all(column.description.strip() for column in table.columns), table.name


def test_descriptions_carry_business_names() -> None:
    tables = {table.name: table for table in DEMO_DESCRIPTIONS}
    columns = {(table.name, column.name): column for table in DEMO_DESCRIPTIONS for column in table.columns}
    assert {"clients", "buyers"} <= set(tables["customers"].synonyms)
    assert "price paid" in columns[("order_items", "unit_price")].synonyms
    assert "purchase date" in columns[("orders", "order_date")].synonyms


def test_instructions_mix_always_and_topical() -> None:
    assert 4 <= len(DEMO_INSTRUCTIONS) <= 6
    assert {instruction.always for instruction in DEMO_INSTRUCTIONS} == {True, False}
    assert all(instruction.text.strip() for instruction in DEMO_INSTRUCTIONS)


def test_golden_queries_avoid_sensitive_columns() -> None:
    sensitive = {column.name for table in DEMO_DESCRIPTIONS for column in table.columns if column.sensitive}
    for golden in DEMO_GOLDEN_QUERIES:
        used = {column.name for column in sqlglot.parse_one(golden.sql, read="sqlite").find_all(exp.Column)}
        assert not used & sensitive, golden.question
