"""Customer databases for the guard's execution tests: real PostgreSQL, MariaDB and a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

DB_NAME = "nl2sql_test_sqlguard"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"

# The shop schema the valid corpus queries; one spelling works in all three databases.
SCHEMA = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100), city VARCHAR(100), created_at DATE)",
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(100), category VARCHAR(50), price DECIMAL(10, 2))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total DECIMAL(10, 2), status VARCHAR(20), ordered_at TIMESTAMP NULL)",
    "CREATE TABLE order_items (order_id INTEGER, product_id INTEGER, quantity INTEGER, price DECIMAL(10, 2))",
    "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100), ssn VARCHAR(11))",
    "CREATE TABLE counter (n INTEGER)",
    "CREATE TABLE numbers (n INTEGER)",
]
DATA = [
    "INSERT INTO customers VALUES (1, 'Ada', 'London', '2024-01-05'), (2, 'Grace', 'Arlington', '2024-02-10'), (3, 'Linus', NULL, '2024-03-15')",
    "INSERT INTO products VALUES (1, 'Widget', 'tools', 9.50), (2, 'Gadget', 'tools', 120.00), (3, 'Book', 'media', 15.00)",
    "INSERT INTO orders VALUES (1, 1, 19.00, 'paid', '2024-04-01 10:00:00'), (2, 1, 120.00, 'shipped', '2024-05-02 11:30:00'), "
    "(3, 2, 135.00, 'paid', '2024-05-20 09:15:00'), (4, 2, 15.00, 'cancelled', '2024-06-01 12:00:00')",
    "INSERT INTO order_items VALUES (1, 1, 2, 9.50), (2, 2, 1, 120.00), (3, 2, 1, 120.00), (3, 3, 1, 15.00), (4, 3, 1, 15.00)",
    "INSERT INTO people VALUES (1, 'Ada', '123-45-6789'), (2, 'Grace', '987-65-4321')",
    "INSERT INTO counter VALUES (0)",
    # 1,000 rows: a three-way cross join of them is a billion rows, slow enough for the timeout test.
    "INSERT INTO numbers VALUES " + ", ".join(f"({n})" for n in range(1000)),
]


def _load(engine: sa.Engine, extra: list[str] = ()) -> None:
    with engine.begin() as conn:
        for statement in [*SCHEMA, *DATA, *extra]:
            conn.exec_driver_sql(statement)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """A fresh `nl2sql_test_sqlguard` database on the local PostgreSQL, dropped afterwards."""
    admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {DB_NAME}")
    engine = sa.create_engine(f"{POSTGRES_SERVER}/{DB_NAME}")
    # A function that writes: the guard can't know what a user-defined function does, so it lets
    # `bump()` through; the read-only transaction is what must stop it.
    _load(
        engine,
        [
            "CREATE FUNCTION bump() RETURNS integer LANGUAGE sql AS "
            "'UPDATE counter SET n = n + 1 RETURNING n'",
        ],
    )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="session")
def mariadb_engine() -> Iterator[sa.Engine]:
    """A fresh `nl2sql_test_sqlguard` database on the local MariaDB, dropped afterwards."""
    admin = sa.create_engine(f"{MARIADB_SERVER}/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.exec_driver_sql(f"CREATE DATABASE {DB_NAME}")
    engine = sa.create_engine(f"{MARIADB_SERVER}/{DB_NAME}")
    _load(
        engine,
        [
            "CREATE FUNCTION bump() RETURNS INTEGER MODIFIES SQL DATA "
            "BEGIN UPDATE counter SET n = n + 1; RETURN (SELECT n FROM counter); END",
        ],
    )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A SQLite file in tmp_path whose connections know `bump()`, a function that writes."""
    path = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def register_bump(dbapi_connection, _record):
        # A second connection does the write, as an extension function could; query_only is per
        # connection, so this proves nothing about it. bump_here writes on the querying connection.
        def bump_here() -> int:
            dbapi_connection.execute("UPDATE counter SET n = n + 1")
            return 1

        dbapi_connection.create_function("bump_here", 0, bump_here)

    _load(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def engine(request) -> sa.Engine:
    """Each real customer database in turn."""
    return request.getfixturevalue(f"{request.param}_engine")


def counter_value(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT n FROM counter").scalar())
