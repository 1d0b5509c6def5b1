"""The composition root: one function builds every service from settings (fakes injectable), the handlers'
dependencies come from that value, and everything closes in reverse order."""

from __future__ import annotations

from nl2sql.app import PROVIDED, create_app
from nl2sql.db import AppDatabase
from nl2sql.inference import FakeChatModel
from nl2sql.retrieval import HashingEmbedder
from nl2sql.services import Services, open_services


async def test_open_services_builds_everything_with_the_fakes_given_and_closes_it_all(settings):
    model, embedder = FakeChatModel(["SELECT 1"]), HashingEmbedder()
    db = AppDatabase(settings.database.url, settings.database.data_dir, pool_size=2)
    async with open_services(settings, db, settings.server.secret_key, chat_model=model, embedder=embedder,
                             run_jobs=False) as services:
        assert isinstance(services, Services)
        assert services.retriever.index.embedder is embedder
        assert services.chat_model.inner is model  # wrapped by the gateway: metered and logged
        assert services.gateway.model is services.chat_model
        assert services.generation_service.settings is settings.engine
        assert set(PROVIDED) <= set(services.provided()) | {"server_settings"}
        assert await db.ping()
    assert model.closed
    assert not await db.ping()  # closed last, after the services that write to it


async def test_create_app_hands_the_fakes_to_the_services(settings):
    from litestar.testing import AsyncTestClient

    embedder = HashingEmbedder()
    app = create_app(settings, chat_model=FakeChatModel(["SELECT 1"]), embedder=embedder)
    async with AsyncTestClient(app=app, base_url="http://testserver.local"):
        assert app.state.services.retriever.index.embedder is embedder
        assert app.state.retriever is app.state.services.retriever  # the names middleware and tests use
