"""Retrieval on a fixture catalog with the real embedder (all-MiniLM-L6-v2)."""

from __future__ import annotations

import pytest

from tests.retrieval.conftest import retriever_for


def _names(retrieval) -> list[str]:
    return [t.table.name for t in retrieval.tables]


@pytest.fixture
def retriever(catalog, sessions, real_embedder):
    return retriever_for(catalog, sessions, real_embedder)


async def test_finds_the_tables_a_question_is_about(retriever, shop):
    result = await retriever.retrieve("How many clients live in each state?", shop.id)
    assert _names(result)[0] == "customers"
    result = await retriever.retrieve("Which warehouse has the largest capacity?", shop.id)
    assert _names(result)[0] == "warehouses"
    result = await retriever.retrieve("Average pay of staff per department", shop.id)
    assert _names(result)[0] == "employees"
    assert all(t.score > 0 for t in result.tables)
    assert {"catalog", "index", "embed", "search", "values", "score", "total"} <= set(result.timings)


async def test_closes_chosen_tables_over_foreign_keys_with_bridge_tables(retriever, shop):
    result = await retriever.retrieve("Which customers bought products in the Garden category?", shop.id,
                                      max_tables=3)
    names = _names(result)
    assert {"customers", "categories"} <= set(names)
    # customers -> orders -> order_items -> products -> categories: the path is there
    assert {"orders", "order_items", "products"} <= set(names)
    bridges = [t.table.name for t in result.tables if t.via_join]
    assert bridges and set(bridges) <= {"orders", "order_items", "products"}
