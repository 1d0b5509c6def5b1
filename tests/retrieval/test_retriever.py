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


async def test_excluded_tables_and_columns_never_appear(retriever, shop):
    for question in ("Show the secret audit tokens", "List customer phone numbers", "customers and their phones"):
        result = await retriever.retrieve(question, shop.id, max_tables=20)
        assert "audit_secrets" not in _names(result)
        for table in result.tables:
            assert "phone" not in {c.name for c in table.table.columns}
            assert "token" not in {c.name for c in table.table.columns}


async def test_sensitive_columns_appear_without_values(retriever, shop):
    result = await retriever.retrieve("What are the email addresses of our customers?", shop.id)
    customers = next(t for t in result.tables if t.table.name == "customers")
    email = next(c for c in customers.table.columns if c.name == "email")
    assert email.sensitive and email.values is None
    result = await retriever.retrieve("What is the salary of each employee?", shop.id)
    employees = next(t for t in result.tables if t.table.name == "employees")
    salary = next(c for c in employees.table.columns if c.name == "salary")
    assert salary.sensitive and salary.values is None
    assert all(v.column not in ("email", "salary") for v in result.values)


async def test_grounds_question_words_in_sampled_values(retriever, shop):
    result = await retriever.retrieve("How many clients live in California?", shop.id)
    assert ("customers", "state", "CA") in {(v.table, v.column, v.value) for v in result.values}
    result = await retriever.retrieve("How many orders were cancelled?", shop.id)
    match = next(v for v in result.values if v.column == "status")
    assert (match.table, match.value, match.score) == ("orders", "cancelled", 1.0)
    # a spelling variant still finds the stored value, with a lower score
    result = await retriever.retrieve("How many orders were canceled?", shop.id)
    match = next(v for v in result.values if v.column == "status")
    assert match.value == "cancelled" and 0.5 < match.score < 1.0


async def test_join_hints_connect_tables_and_come_along(retriever, shop):
    result = await retriever.retrieve("Which carrier delivered the orders of gold tier customers?", shop.id)
    names = set(_names(result))
    assert {"shipments", "customers", "orders"} <= names
    assert any({h.left_table, h.right_table} == {"shipments", "orders"} for h in result.join_hints)
    shipments = next(t for t in result.tables if t.table.name == "shipments")
    assert "order_ref" in {c.name for c in shipments.table.columns}


async def test_prunes_columns_but_keeps_keys_joins_and_matches(retriever, shop):
    result = await retriever.retrieve("Total amount of orders per customer state", shop.id, max_columns=2)
    by_name = {t.table.name: t for t in result.tables}
    customers = {c.name for c in by_name["customers"].table.columns}
    assert {"id", "state"} <= customers
    assert len(customers) <= 2 + 2  # the best two, plus the key and the join column at most
    assert "customer_id" in {c.name for c in by_name["orders"].table.columns}
    assert all(score >= 0 for _, score in by_name["customers"].column_scores)


async def test_always_on_and_relevant_topical_instructions(retriever, catalog, shop):
    always = await catalog.add_instruction(None, shop.id, "Money amounts are in US dollars.", "always")
    topical = await catalog.add_instruction(
        None, shop.id, "Shipments by carrier: count shipments grouped by the carrier column.", "topical")
    result = await retriever.retrieve("How many shipments did each carrier handle?", shop.id)
    chosen = {i.instruction.id: i.score for i in result.instructions}
    assert chosen[always.id] == 1.0
    assert topical.id in chosen and 0 < chosen[topical.id] <= 1
    result = await retriever.retrieve("Which employees work in engineering?", shop.id)
    assert [i.instruction.id for i in result.instructions] == [always.id]


async def test_golden_queries_come_with_a_cosine_score(retriever, catalog, shop):
    golden = await catalog.add_golden_query(
        None, shop.id, "How many orders were shipped?", "SELECT COUNT(*) FROM orders WHERE status = 'shipped'")
    await catalog.add_golden_query(None, shop.id, "Which warehouse is the largest?",
                                   "SELECT city FROM warehouses ORDER BY capacity DESC LIMIT 1")
    same = await retriever.retrieve("How many orders were shipped?", shop.id)
    assert same.golden_queries[0].golden.id == golden.id
    assert same.golden_queries[0].score >= 0.99
    other = await retriever.retrieve("How many orders have been sent out?", shop.id)
    assert all(0 <= g.score < 0.99 for g in other.golden_queries)


async def test_a_description_edit_is_embedded_before_the_next_answer(retriever, catalog, shop):
    before = await retriever.retrieve("Which vendors do we buy from?", shop.id)
    assert _names(before)[0] != "suppliers"
    await catalog.update_table(None, shop.id, "suppliers", description="Vendors we buy our stock from")
    after = await retriever.retrieve("Which vendors do we buy from?", shop.id)
    assert _names(after)[0] == "suppliers"
    # only the edited table's own entry changed
    assert after.timings["embedded_items"] == 1


async def test_an_empty_question_is_refused(retriever, shop):
    from nl2sql.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="empty"):
        await retriever.retrieve("   ", shop.id)
