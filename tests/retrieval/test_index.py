"""The embedding index: rows per item and model, staleness, the reindex job (hashing embedder: fast and exact)."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from nl2sql.retrieval import HashingEmbedder, Reindexer, reindex
from tests.retrieval.conftest import retriever_for


async def _rows(sessions, connection_id: int) -> dict[tuple[str, str], tuple[str, str]]:
    async with sessions() as db:
        rows = await db.execute(sa.text(
            "SELECT kind, item_key, model, body FROM retrieval_embeddings WHERE connection_id = :c"), {"c": connection_id})
        return {(r.kind, r.item_key): (r.model, r.body) for r in rows}


async def test_every_included_table_and_column_gets_a_row_and_excluded_ones_none(catalog, sessions, hashing, shop):
    retriever = retriever_for(catalog, sessions, hashing)
    assert await retriever.refresh(shop.id) > 0
    rows = await _rows(sessions, shop.id)
    assert ("table", "customers") in rows and ("column", "customers.state") in rows
    assert ("table", "audit_secrets") not in rows and ("column", "customers.phone") not in rows
    assert "People who buy from the shop" in rows[("table", "customers")][1]
    assert await retriever.refresh(shop.id) == 0  # nothing changed, nothing embedded


async def test_excluding_a_table_removes_its_vectors(catalog, sessions, hashing, shop):
    retriever = retriever_for(catalog, sessions, hashing)
    await retriever.refresh(shop.id)
    await catalog.update_table(None, shop.id, "warehouses", included=False)
    await retriever.refresh(shop.id)
    rows = await _rows(sessions, shop.id)
    assert not any(key.startswith("warehouses") for _, key in rows)
    result = await retriever.retrieve("warehouse capacity by city", shop.id, max_tables=20)
    assert "warehouses" not in {t.table.name for t in result.tables}


async def test_changing_the_embedding_model_re_embeds_everything(catalog, sessions, shop):
    first = retriever_for(catalog, sessions, HashingEmbedder(name="first"))
    total = await first.refresh(shop.id)
    second = retriever_for(catalog, sessions, HashingEmbedder(name="second"))
    result = await second.retrieve("How many orders were shipped?", shop.id)
    assert result.timings["embedded_items"] == total
    assert {model for model, _ in (await _rows(sessions, shop.id)).values()} == {"second-384"}
    assert result.tables  # found through the new vectors


async def test_a_model_of_another_dimension_gets_its_own_index(catalog, sessions, shop):
    retriever = retriever_for(catalog, sessions, HashingEmbedder(dimension=64, name="small"))
    result = await retriever.retrieve("orders per customer", shop.id)
    assert {"orders", "customers"} & {t.table.name for t in result.tables}
    async with sessions() as db:
        indexes = set(await db.scalars(sa.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'retrieval_embeddings'")))
    assert "retrieval_hnsw_column_64" in indexes


async def test_golden_scores_are_cosines_between_zero_and_one(catalog, sessions, hashing, shop):
    await catalog.add_golden_query(None, shop.id, "count shipped orders",
                                   "SELECT COUNT(*) FROM orders WHERE status = 'shipped'")
    retriever = retriever_for(catalog, sessions, hashing, golden_min_score=0.0)
    exact = await retriever.retrieve("count shipped orders", shop.id)
    assert math.isclose(exact.golden_queries[0].score, 1.0, abs_tol=1e-4)
    unrelated = await retriever.retrieve("zebra giraffe", shop.id)
    assert all(0.0 <= g.score < 0.5 for g in unrelated.golden_queries)


class RecordingQueue:
    def __init__(self) -> None:
        self.deferred: list[tuple[str, dict]] = []

    async def defer(self, task: str, **kwargs) -> int:
        self.deferred.append((task, kwargs))
        return len(self.deferred)


async def test_catalog_changes_queue_a_delayed_reindex_per_connection(catalog, sessions, hashing, shop):
    queue = RecordingQueue()
    catalog.subscribe(Reindexer(queue, delay_seconds=30))
    await catalog.update_table(None, shop.id, "orders", description="Purchases")
    assert queue.deferred == [("retrieval:reindex", {
        "queueing_lock": f"retrieval-reindex-{shop.id}", "schedule_in": {"seconds": 30}, "connection_id": shop.id})]


async def test_the_reindex_job_embeds_changes_and_forgets_deleted_connections(catalog, sessions, hashing, shop):
    retriever = retriever_for(catalog, sessions, hashing)
    await reindex(retriever, shop.id)
    await catalog.update_table(None, shop.id, "orders", description="Purchases with a total amount")
    await reindex(retriever, shop.id)
    assert "Purchases with a total amount" in (await _rows(sessions, shop.id))[("table", "orders")][1]
    await catalog.delete_connection(None, "shop")
    await reindex(retriever, shop.id)
    assert await _rows(sessions, shop.id) == {}


class _FailsOnCall(HashingEmbedder):
    """The hashing embedder, but its n-th embed call raises (a model crash in the middle of a big catalog)."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.calls, self.fail_on = 0, fail_on

    async def embed(self, texts):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("embedding model crashed")
        return await super().embed(texts)


async def test_indexing_writes_chunk_by_chunk_and_a_crash_keeps_what_was_written(
        catalog, sessions, shop, monkeypatch):
    from nl2sql.retrieval import index as index_module

    monkeypatch.setattr(index_module, "EMBED_CHUNK", 3)
    crashing = retriever_for(catalog, sessions, _FailsOnCall(fail_on=3))
    with pytest.raises(RuntimeError, match="crashed"):
        await crashing.refresh(shop.id)
    # two chunks were embedded before the crash, and both are in the database: memory holds one chunk at a time
    assert len(await _rows(sessions, shop.id)) == 6
    async with sessions() as db:
        assert await db.scalar(sa.text(
            "SELECT count(*) FROM retrieval_index_state WHERE connection_id = :c"), {"c": shop.id}) == 0
    # the next run embeds only the rest, and then the version counts as indexed
    again = retriever_for(catalog, sessions, HashingEmbedder())
    embedded = await again.refresh(shop.id)
    items = len((await again.view(shop.id)).items)
    assert embedded == items - 6
    assert len(await _rows(sessions, shop.id)) == items
    assert await again.refresh(shop.id) == 0
