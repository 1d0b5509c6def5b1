"""The demo ships its semantic layer: every golden question, asked as if its own golden query did not exist (a
golden regression), is answered right, and revenue questions say which definition they used."""

from __future__ import annotations

import datetime as dt
import sqlite3

import anyio
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from nl2sql.answers import SqlGenerationService
from nl2sql.answers.dto import Unanswered
from nl2sql.auth import AuthService
from nl2sql.catalog import CatalogService, install_demo
from nl2sql.db import async_url
from nl2sql.inference import FakeChatModel
from nl2sql.retrieval import EmbeddingIndex, Retriever, SentenceTransformerEmbedder
from nl2sql.settings import AuthSettings, CatalogSettings, EngineSettings, RetrievalSettings
from nl2sql.sqlguard import run
from tests.answers.test_demo_acceptance import matches

TODAY = dt.date(2025, 12, 20)


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


async def test_the_demo_layer_answers_its_golden_questions_without_their_queries(app_db_url, tmp_path, embedder):
    engine = create_async_engine(async_url(app_db_url), pool_size=3)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    catalog = CatalogService(sessions, CatalogSettings(demo=False), Fernet.generate_key().decode())
    auth = AuthService(sessions, AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1))
    admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
    connection = await install_demo(catalog, tmp_path)
    assert connection is not None
    assert {m.name for m in await catalog.metrics(connection.id)} == {
        "revenue", "average order value", "margin", "active products", "discontinued products"}
    service = SqlGenerationService(sessions, catalog, Retriever(catalog, EmbeddingIndex(sessions, embedder),
                                                                RetrievalSettings()),
                                   FakeChatModel(["not SQL at all"]), EngineSettings(repair_attempts=0),
                                   today=lambda: TODAY)
    shop = sqlite3.connect(tmp_path / "demo" / "shop.db")
    target = await catalog.engine(connection.id)
    wrong: list[str] = []
    golden = await catalog.golden_queries(connection.id)
    try:
        for g in golden:
            expected = [tuple(r) for r in shop.execute(g.sql).fetchall()]
            try:
                answer = await service.generate_sql(admin, g.question, "demo", holdout=g.sql)
            except Unanswered as asked:
                wrong.append(f"{g.question}: asked back ({asked.detail[:120]})")
                continue
            result = await anyio.to_thread.run_sync(lambda: run(answer.validated, target, timeout_s=10, max_rows=5000))
            if not matches([tuple(r) for r in result.rows], expected):
                wrong.append(f"{g.question}: {answer.sql}")
        revenue = await service.generate_sql(admin, "What was the revenue by category this year?", "demo")
    finally:
        shop.close()
        catalog.close()
        await engine.dispose()
    print(f"\ndemo golden regression: {len(golden) - len(wrong)}/{len(golden)} right", *wrong, sep="\n  ")
    # without the layer 4 of 7 (both revenue questions asked back); every one of them now
    assert not wrong, "\n".join(wrong)
    assert revenue.generator == "reader"
    assert "revenue (sum of quantity × unit price, cancelled and returned orders excluded)" in revenue.explanation, (
        revenue.explanation)
