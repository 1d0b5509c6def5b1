"""The library schema as real databases (SQLite, PostgreSQL, MariaDB) with the same rows, for compiler tests."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa

from tests.semantics.schemas import LIBRARY_DDL, LIBRARY_ROWS

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _insert_statements(dialect: str) -> list[tuple[str, tuple]]:
    out = []
    marker = "?" if dialect == "sqlite" else "%s"
    for name, rows in LIBRARY_ROWS.items():
        for row in rows:
            out.append((f"INSERT INTO {name} VALUES ({', '.join([marker] * len(row))})", row))
    return out


@pytest.fixture(scope="session")
def library_sqlite(tmp_path_factory) -> sa.Engine:
    path = Path(tmp_path_factory.mktemp("library")) / "library.db"
    with sqlite3.connect(path) as conn:
        for ddl in LIBRARY_DDL:
            conn.execute(ddl)
        for statement, row in _insert_statements("sqlite"):
            conn.execute(statement, row)
    engine = sa.create_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def library_postgres() -> Iterator[sa.Engine]:
    name = f"semantics_library_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(f"{PG}/{name}")
    with engine.begin() as conn:
        for ddl in LIBRARY_DDL:
            conn.exec_driver_sql(ddl)
        for statement, row in _insert_statements("postgres"):
            conn.exec_driver_sql(statement, row)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def library_mariadb() -> Iterator[sa.Engine]:
    name = f"semantics_library_{uuid.uuid4().hex[:8]}"
    root = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:3306/{name}")
    with engine.begin() as conn:
        for ddl in LIBRARY_DDL:
            conn.exec_driver_sql(ddl)
        for statement, row in _insert_statements("mysql"):
            conn.exec_driver_sql(statement, row)
    yield engine
    engine.dispose()
    with root.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    root.close()


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def library_db(request) -> tuple[str, sa.Engine]:
    """(sqlglot dialect, engine) of the library on each of the three databases."""
    fixture = {"sqlite": "library_sqlite", "postgres": "library_postgres", "mysql": "library_mariadb"}[request.param]
    return request.param, request.getfixturevalue(fixture)
