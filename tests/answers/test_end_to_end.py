"""End to end on the demo database: the real embedder, the real retriever and the real default llama.cpp model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from nl2sql.answers import SqlGenerationService
from nl2sql.auth import AuthService, User
from nl2sql.catalog import CatalogService, Connection
from nl2sql.catalog.demo import install_demo
from nl2sql.db import async_url
from nl2sql.inference import LlamaCppChatModel
from nl2sql.retrieval import EmbeddingIndex, Retriever, SentenceTransformerEmbedder
from nl2sql.settings import AuthSettings, CatalogSettings, EngineSettings, InferenceSettings, RetrievalSettings
from nl2sql.sqlguard import QueryResult, ValidatedSql, run


@pytest.fixture(scope="session")
async def small_model() -> AsyncIterator[LlamaCppChatModel]:
    """The bundled default model, loaded once for the session."""
    model = LlamaCppChatModel(InferenceSettings(context_size=2048, slots=1, queue_size=4))
    await model.load()
    yield model
    await model.close()


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@dataclass
class Demo:
    catalog: CatalogService
    connection: Connection
    admin: User
    retriever: Retriever
    sessions: async_sessionmaker


@pytest.fixture
async def demo(app_db_url: str, tmp_path: Path, embedder) -> AsyncIterator[Demo]:
    """The demo shop registered as connection `demo` with its descriptions, instructions and golden queries."""
    engine = create_async_engine(async_url(app_db_url), pool_size=3)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    catalog = CatalogService(sessions, CatalogSettings(demo=False), Fernet.generate_key().decode())
    auth = AuthService(sessions, AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1))
    admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
    connection = await install_demo(catalog, tmp_path)
    assert connection is not None and connection.synced_at is not None or (await catalog.sync_status("demo")).error is None
    retriever = Retriever(catalog, EmbeddingIndex(sessions, embedder), RetrievalSettings())
    yield Demo(catalog, connection, admin, retriever, sessions)
    catalog.close()
    await engine.dispose()


def service(demo: Demo, model, **engine) -> SqlGenerationService:
    settings = EngineSettings(**({"max_new_tokens": 64} | engine))
    return SqlGenerationService(demo.sessions, demo.catalog, demo.retriever, model, settings)


async def test_small_model_answers_a_demo_question_with_validated_sql_that_runs(demo, small_model):
    # a small CPU model is often wrong; what must hold is that whatever it says ends as checked SQL that runs
    answer = await service(demo, small_model, repair_attempts=3, generators="model_sql", model_when="always").generate_sql(
        demo.admin, "List the names and emails of customers in Texas.", "demo"
    )

    assert isinstance(answer.validated, ValidatedSql)
    assert answer.verified is False
    assert answer.attempts[-1].ok and answer.attempts[-1].grammar is True
    assert answer.retrieved.tables and all(t.score > 0 for t in answer.retrieved.tables)
    engine = await demo.catalog.engine(demo.connection.id)
    result = await anyio.to_thread.run_sync(lambda: run(answer.validated, engine, timeout_s=10, max_rows=50))
    assert isinstance(result, QueryResult)


async def test_golden_question_is_answered_by_its_verified_query_through_the_real_embedder(demo, small_model):
    [golden, *_] = await demo.catalog.golden_queries(demo.connection.id)
    answer = await service(demo, small_model).generate_sql(demo.admin, golden.question, "demo")

    assert answer.verified is True
    assert answer.sql.startswith(golden.sql)
    assert [a.kind for a in answer.attempts] == ["golden"]
