"""Retrieval fixtures: a synced fixture catalog (SQLite shop + HR schema), the real and the hashing embedder."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from nl2sql.catalog import CatalogService, Connection
from nl2sql.db import async_url
from nl2sql.retrieval import EmbeddingIndex, HashingEmbedder, Retriever, SentenceTransformerEmbedder
from nl2sql.settings import CatalogSettings, RetrievalSettings

STATES = ("CA", "NY", "TX", "WA")
SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, state TEXT, email TEXT, phone TEXT,
  signup_date DATE, loyalty_tier TEXT, birth_date DATE, referral_code TEXT, newsletter INTEGER, notes TEXT,
  city TEXT, zip TEXT, country TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  status TEXT NOT NULL, ordered_at DATE, total_amount NUMERIC);
CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER, unit_price NUMERIC);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category_id INTEGER REFERENCES categories(id),
  list_price NUMERIC);
CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE suppliers (id INTEGER PRIMARY KEY, company TEXT, country TEXT);
CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT, department TEXT, salary NUMERIC, hired_on DATE);
CREATE TABLE warehouses (id INTEGER PRIMARY KEY, city TEXT, capacity INTEGER);
CREATE TABLE shipments (id INTEGER PRIMARY KEY, order_ref INTEGER, warehouse_id INTEGER REFERENCES warehouses(id),
  shipped_on DATE, carrier TEXT);
CREATE TABLE audit_secrets (id INTEGER PRIMARY KEY, token TEXT);
"""


def build_shop(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for i in range(1, 41):
        conn.execute(
            "INSERT INTO customers (id, full_name, state, email, loyalty_tier, city, country) VALUES (?,?,?,?,?,?,?)",
            (i, f"Customer {i}", STATES[i % 4], f"c{i}@example.com", ("gold", "silver", "bronze")[i % 3],
             ("Sacramento", "Albany", "Austin", "Seattle")[i % 4], "USA"))
        conn.execute("INSERT INTO orders VALUES (?,?,?,?,?)", (i, i, ("shipped", "cancelled", "pending")[i % 3],
                                                               "2024-01-01", i * 10))
    conn.executemany("INSERT INTO categories VALUES (?,?)", [(1, "Garden"), (2, "Kitchen"), (3, "Toys")])
    conn.executemany("INSERT INTO employees VALUES (?,?,?,?,?)",
                     [(i, f"Emp {i}", ("Sales", "Support", "Engineering")[i % 3], 50000 + i, "2020-01-01")
                      for i in range(1, 10)])
    conn.executemany("INSERT INTO warehouses VALUES (?,?,?)", [(1, "Reno", 100), (2, "Memphis", 200)])
    conn.executemany("INSERT INTO shipments VALUES (?,?,?,?,?)",
                     [(i, i, 1 + i % 2, "2024-01-02", ("UPS", "FedEx")[i % 2]) for i in range(1, 20)])
    conn.commit()
    conn.close()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return SentenceTransformerEmbedder()


@pytest.fixture
async def catalog(app_db_url: str) -> AsyncIterator[CatalogService]:
    engine = create_async_engine(async_url(app_db_url), pool_size=3)
    service = CatalogService(
        async_sessionmaker(engine, expire_on_commit=False), CatalogSettings(demo=False), Fernet.generate_key().decode()
    )
    yield service
    service.close()
    await engine.dispose()


@pytest.fixture
async def sessions(app_db_url: str):
    engine = create_async_engine(async_url(app_db_url), pool_size=3)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def shop(catalog: CatalogService, tmp_path: Path) -> Connection:
    """The shop database synced into the catalog, with descriptions, a hint, an exclusion and a sensitive column."""
    path = tmp_path / "shop.db"
    build_shop(path)
    connection = await catalog.create_connection(None, "shop", f"sqlite:///{path}")
    status = await catalog.sync_now(None, "shop")
    assert status.status == "succeeded", status.error
    cid = connection.id
    await catalog.update_table(None, cid, "customers", description="People who buy from the shop",
                               synonyms=["clients", "buyers"])
    await catalog.update_table(None, cid, "orders", description="Purchases placed by customers")
    await catalog.update_table(None, cid, "order_items", description="Line items: which products an order contains")
    await catalog.update_table(None, cid, "products", description="Things the shop sells")
    await catalog.update_table(None, cid, "employees", description="Staff of the company and their pay")
    await catalog.update_table(None, cid, "warehouses", description="Storage sites where stock is kept")
    await catalog.update_table(None, cid, "shipments", description="Deliveries of orders sent from a warehouse")
    await catalog.update_table(None, cid, "audit_secrets", included=False)
    await catalog.update_column(None, cid, "customers", "state", description="US state code of the address")
    await catalog.update_column(None, cid, "customers", "email", sensitive=True)
    await catalog.update_column(None, cid, "employees", "salary", description="Yearly pay in USD", sensitive=True)
    await catalog.update_column(None, cid, "customers", "phone", included=False)
    await catalog.add_join_hint(None, cid, "shipments", "orders", [("order_ref", "id")], "order_ref holds orders.id")
    return await catalog.get_connection("shop")


def retriever_for(catalog: CatalogService, sessions, embedder, **overrides) -> Retriever:
    settings = RetrievalSettings(**overrides)
    return Retriever(catalog, EmbeddingIndex(sessions, embedder, ef_search=settings.ef_search), settings)


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder()
