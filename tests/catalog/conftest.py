"""Catalog fixtures: a CatalogService on this test's app database, and real customer databases to connect."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from nl2sql.catalog import CatalogService, SyncStatus
from nl2sql.db import async_url
from nl2sql.settings import CatalogSettings, Settings
from tests.conftest import with_section

PG_HOST = "127.0.0.1:5432"
MARIADB_HOST = "127.0.0.1:3306"
# the local PostgreSQL trusts every login, so this password is accepted and must never be stored in clear
PG_PASSWORD = "pg-Secret-Word-4711"
MARIADB_PASSWORD = "maria-Secret-Word-0815"

SHOP_STATES = ("CA", "NY", "TX")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings without the demo connection, so each test sees only the connections it made."""
    return with_section(settings, catalog=CatalogSettings(demo=False))


@pytest.fixture
async def catalog(app_db_url: str) -> AsyncIterator[CatalogService]:
    """A CatalogService without a job queue (syncs run in the caller)."""
    engine = create_async_engine(async_url(app_db_url), pool_size=3)
    service = CatalogService(
        async_sessionmaker(engine, expire_on_commit=False),
        CatalogSettings(demo=False),
        Fernet.generate_key().decode(),
    )
    yield service
    service.close()
    await engine.dispose()


def _pg_admin() -> sa.Engine:
    return sa.create_engine(f"postgresql+psycopg://postgres@{PG_HOST}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_shop() -> Iterator[str]:
    """A PostgreSQL database with a small shop schema (comments, FKs, low-cardinality text); its URL."""
    name = f"catalog_test_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(f"postgresql+psycopg://postgres@{PG_HOST}/{name}")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, state varchar(2), email text, "
            "password_hash text)"))
        conn.execute(sa.text("COMMENT ON TABLE customers IS 'People who bought something'"))
        conn.execute(sa.text("COMMENT ON COLUMN customers.state IS 'US state code'"))
        conn.execute(sa.text(
            "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), "
            "status varchar(20) NOT NULL DEFAULT 'new', amount numeric(10,2))"))
        conn.execute(sa.text("CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100"))
        for i in range(1, 31):
            conn.execute(sa.text("INSERT INTO customers VALUES (:i, :n, :s, :e, 'x')"),
                         {"i": i, "n": f"Customer {i}", "s": SHOP_STATES[i % 3], "e": f"c{i}@example.com"})
            conn.execute(sa.text("INSERT INTO orders VALUES (:i, :c, :st, :a)"),
                         {"i": i, "c": i, "st": ("new", "shipped")[i % 2], "a": i * 10})
    engine.dispose()
    yield f"postgresql://postgres:{PG_PASSWORD}@{PG_HOST}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _maria(database: str | None = None):
    host, port = MARIADB_HOST.split(":")
    return pymysql.connect(host=host, port=int(port), user="root", password="", database=database, autocommit=True)


@pytest.fixture
def mariadb_shop() -> Iterator[str]:
    """A MariaDB database with the shop schema and its own user with a password; its URL."""
    suffix = uuid.uuid4().hex[:10]
    name, user = f"catalog_test_{suffix}", f"catalog_{suffix}"
    root = _maria()
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'")
        cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{MARIADB_PASSWORD}'")
        cur.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'%'")
        cur.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'localhost'")
        cur.execute(f"USE `{name}`")
        cur.execute(
            "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, state VARCHAR(2) "
            "COMMENT 'US state code', email VARCHAR(200), password_hash VARCHAR(100)) COMMENT 'People who bought something'")
        cur.execute(
            "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'new', "
            "amount DECIMAL(10,2), FOREIGN KEY (customer_id) REFERENCES customers(id))")
        for i in range(1, 31):
            cur.execute("INSERT INTO customers VALUES (%s, %s, %s, %s, 'x')",
                        (i, f"Customer {i}", SHOP_STATES[i % 3], f"c{i}@example.com"))
            cur.execute("INSERT INTO orders VALUES (%s, %s, %s, %s)", (i, i, ("new", "shipped")[i % 2], i * 10))
    yield f"mysql://{user}:{MARIADB_PASSWORD}@{MARIADB_HOST}/{name}"
    with root.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
    root.close()


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> str:
    path = tmp_path / "catalog_shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, state TEXT, email TEXT, password_hash TEXT);"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), "
            "status TEXT NOT NULL DEFAULT 'new', amount REAL);"
        )
        for i in range(1, 31):
            conn.execute("INSERT INTO customers VALUES (?, ?, ?, ?, 'x')",
                         (i, f"Customer {i}", SHOP_STATES[i % 3], f"c{i}@example.com"))
            conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?)", (i, i, ("new", "shipped")[i % 2], i * 10))
    return f"sqlite:///{path}"


async def wait_for_sync(service: CatalogService, name: str, *, deadline_s: float = 60) -> SyncStatus:
    """Poll the latest sync of `name` until it finished (or the deadline passes)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        status = await service.sync_status(name)
        if status is not None and status.finished:
            return status
        if loop.time() > end:
            raise AssertionError(f"sync of {name} did not finish in {deadline_s} s: {status}")
        await asyncio.sleep(0.2)
