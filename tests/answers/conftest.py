"""Answers fixtures: a catalog with a synced SQLite shop, users, a retriever that hands over the whole schema."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from nl2sql.answers import SqlGenerationService
from nl2sql.auth import AuthService, User
from nl2sql.catalog import CatalogService, Connection, GoldenQuery, Visibility
from nl2sql.db import async_url
from nl2sql.inference import FakeChatModel
from nl2sql.retrieval import Retrieval, ScoredGoldenQuery, ScoredInstruction, ScoredTable
from nl2sql.settings import AuthSettings, CatalogSettings, EngineSettings


@dataclass
class ScriptedRetriever:
    """Every included table (score 1.0), the connection's instructions, and golden queries at set similarities."""

    catalog: CatalogService
    golden_scores: dict[int, float] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)

    async def retrieve(self, question: str, connection_id: int, *,
                       visibility: Visibility | None = None) -> Retrieval:
        self.questions.append(question)
        schema = (visibility or Visibility()).schema(await self.catalog.schema_for_prompt(connection_id))
        goldens: list[GoldenQuery] = await self.catalog.golden_queries(connection_id)
        return Retrieval(
            connection_id=connection_id,
            dialect=schema.dialect,
            tables=tuple(ScoredTable(t, 1.0) for t in schema.tables),
            join_hints=schema.join_hints,
            instructions=tuple(ScoredInstruction(i, 1.0) for i in await self.catalog.instructions(connection_id)),
            golden_queries=tuple(
                ScoredGoldenQuery(g, self.golden_scores[g.id]) for g in goldens if g.id in self.golden_scores
            ),
            values=(),
            timings={"total_ms": 0.1},
        )


@dataclass
class Shop:
    catalog: CatalogService
    auth: AuthService
    sessions: async_sessionmaker
    connection: Connection
    admin: User
    analyst: User
    retriever: ScriptedRetriever

    def service(self, model: FakeChatModel, **engine) -> SqlGenerationService:
        """The engine; by default only the model writes SQL (these tests are about that path; the reader's are
        in test_candidates.py)."""
        engine = {"generators": "model_sql", "model_when": "always"} | engine
        return SqlGenerationService(self.sessions, self.catalog, self.retriever, model, EngineSettings(**engine))


def build_shop_db(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, state TEXT, email TEXT);"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), "
            "status TEXT NOT NULL DEFAULT 'new', amount REAL);"
        )
        for i in range(1, 31):
            conn.execute("INSERT INTO customers VALUES (?, ?, ?, ?)", (i, f"Customer {i}", ("CA", "NY", "TX")[i % 3],
                                                                         f"c{i}@example.com"))
            conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?)", (i, i, ("new", "shipped")[i % 2], i * 10))


@pytest.fixture
async def shop(app_db_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    path = tmp_path / "answers_shop.db"
    build_shop_db(path)
    engine = create_async_engine(async_url(app_db_url), pool_size=3)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    catalog = CatalogService(sessions, CatalogSettings(demo=False), Fernet.generate_key().decode())
    auth = AuthService(sessions, AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1))
    admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
    analyst = await auth.create_user("analyst@example.com", "analyst password 123", role="analyst")
    connection = await catalog.create_connection(admin, "shop", f"sqlite:///{path}")
    status = await catalog.sync_now(admin, "shop")
    assert status.error is None, status.error
    # email is sensitive: its values never reach a result
    await catalog.update_column(admin, connection.id, "customers", "email", sensitive=True)
    yield Shop(catalog, auth, sessions, connection, admin, analyst, ScriptedRetriever(catalog))
    catalog.close()
    await engine.dispose()


GOOD_SQL = "SELECT COUNT(*) FROM orders"


@pytest.fixture
def script() -> list:
    """Replies the app's fake model gives, in order; when it runs out the model answers GOOD_SQL."""
    return []


@pytest.fixture
def prompts() -> list[str]:
    """Every prompt the app's fake model received, in order."""
    return []


@pytest.fixture
async def client(settings, script, prompts, tmp_path):
    """The app with a scripted fake model (wrapped by the gateway as usual) and no demo."""
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from tests.conftest import with_section

    def reply(prompt: str) -> str:
        prompts.append(prompt)
        if not script:
            return GOOD_SQL
        nxt = script.pop(0)
        if isinstance(nxt, BaseException):
            raise nxt
        return nxt

    # only the model writes SQL here: these tests are about that path (the reader's are in test_candidates.py)
    engine = EngineSettings(generators="model_sql", model_when="always")
    app = create_app(with_section(settings, catalog=CatalogSettings(demo=False), engine=engine),
                     chat_model=FakeChatModel([reply]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
async def shop_connection(client, admin, tmp_path) -> Connection:
    """The SQLite shop registered (and synced) in the app's catalog as `shop`."""
    path = tmp_path / "api_shop.db"
    build_shop_db(path)
    catalog: CatalogService = client.app.state.catalog
    connection = await catalog.create_connection(admin, "shop", f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, "shop")).error is None
    return connection
