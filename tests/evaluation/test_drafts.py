"""Knowledge drafts: a hidden copy of a connection's curated catalog, edited, tried against the live knowledge
(a trial shows which questions the draft fixes or breaks), then published (live behaviour changes) or
discarded (nothing changes)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nl2sql.catalog.drafts import Knowledge, changes
from nl2sql.errors import ConflictError, NotFoundError
from nl2sql.evaluation import EvalQuestion, EvaluationService
from nl2sql.inference import FakeChatModel


def _service(shop) -> EvaluationService:
    answers = shop.service(FakeChatModel(["SELECT 1"]), generators="reader,golden,model_sql",
                           model_when="fallback", repair_attempts=0)
    return EvaluationService(shop.sessions, shop.catalog, answers, shop.auth)


def test_the_changes_are_what_differs_with_the_draft_winning():
    table = {"description": "", "business_name": "", "synonyms": [], "included": True, "semantics": {}}
    column = table | {"sensitive": False}
    live = Knowledge(
        tables={"orders": table, "gone_from_draft": table},
        columns={("orders", "amount"): column, ("orders", "status"): column},
        rows={"instruction": {1: ("always", "amounts are in euros"), 2: ("always", "old rule"),
                              9: ("topical", "added live after the draft was taken")},
              "golden_query": {5: ("How many orders?", "SELECT COUNT(*) FROM orders")}, "join_hint": {}})
    draft = Knowledge(
        tables={"orders": table | {"description": "Every order placed"}, "new_in_draft": table},
        columns={("orders", "amount"): column | {"synonyms": ["takings"], "semantics": {"role": "measure"}},
                 ("orders", "status"): column},
        rows={"instruction": {11: ("always", "amounts are in dollars"), 13: ("topical", "a new rule")},
              "golden_query": {15: ("How many orders?", "SELECT COUNT(*) FROM orders")}, "join_hint": {}})
    origin = {"instruction": {"11": 1, "12": 2}, "golden_query": {"15": 5}}
    found = {(c.kind, c.action, c.field, c.live_id, c.draft_id): (c.before, c.after) for c in changes(live, draft, origin)}
    assert found == {
        ("table", "update", "description", None, None): ("", "Every order placed"),
        ("column", "update", "synonyms", None, None): ([], ["takings"]),
        ("column", "update", "semantics", None, None): ({}, {"role": "measure"}),
        ("instruction", "update", "", 1, 11): (("always", "amounts are in euros"), ("always", "amounts are in dollars")),
        ("instruction", "add", "", None, 13): (None, ("topical", "a new rule")),
        ("instruction", "remove", "", 2, None): (("always", "old rule"), None),
    }  # the unchanged golden query, the live-only instruction #9 and the tables on one side only are left alone


async def test_a_draft_is_a_hidden_copy_that_analysts_never_see(shop):
    catalog, admin = shop.catalog, shop.admin
    await catalog.add_instruction(admin, shop.connection.id, "amounts are in euros")
    await catalog.add_golden_query(admin, shop.connection.id, "How many orders are there?", "SELECT COUNT(*) FROM orders")
    await catalog.set_grants(admin, "shop", [shop.analyst.id])

    made = await catalog.create_draft(admin, "shop")
    draft = made.connection
    assert draft.name == "shop~draft" and draft.draft_of == shop.connection.id and made.changes == ()
    assert [c.name for c in await catalog.list_connections()] == ["shop"]
    assert [c.name for c in await catalog.accessible_connections(admin)] == ["shop"]
    assert [c.name for c in await catalog.accessible_connections(shop.analyst)] == ["shop"]
    with pytest.raises(NotFoundError):
        await catalog.visible_connection(shop.analyst, draft.name)
    # the whole curated catalog came along, sensitive flags included
    schema = await catalog.schema_for_prompt(draft.id)
    assert {t.name for t in schema.tables} == {"customers", "orders"}
    assert "customers.email" in schema.sensitive_columns
    assert [i.text for i in await catalog.instructions(draft.id)] == ["amounts are in euros"]
    assert [g.question for g in await catalog.golden_queries(draft.id)] == ["How many orders are there?"]

    # edits go to the draft only, and show as what publishing would change
    await catalog.update_column(admin, draft.id, "orders", "amount", description="Order total in euros",
                                semantics={"role": "measure", "aggregate": "sum"})
    live_amount = next(c for t in (await catalog.schema_for_prompt(shop.connection.id)).tables for c in t.columns
                       if t.name == "orders" and c.name == "amount")
    assert live_amount.description == ""
    listed = (await catalog.draft("shop")).changes
    assert {(c.kind, c.target, c.field) for c in listed} == {("column", "orders.amount", "description"),
                                                               ("column", "orders.amount", "semantics")}
    assert (await catalog.draft(draft.name)).connection.id == draft.id  # reachable by either name

    with pytest.raises(ConflictError, match="already has a draft"):
        await catalog.create_draft(admin, "shop")
    with pytest.raises(ConflictError, match="can't be synced"):
        await catalog.start_sync(admin, draft.name)
    with pytest.raises(ConflictError, match="can't be granted"):
        await catalog.set_grants(admin, draft.name, [shop.analyst.id])
    with pytest.raises(ConflictError, match="can't be edited"):
        await catalog.update_connection(admin, draft.name, description="x")


async def test_publishing_a_draft_changes_live_behaviour(shop):
    catalog, admin, service = shop.catalog, shop.admin, _service(shop)
    rule = await catalog.add_instruction(admin, shop.connection.id, "amounts are in euros")
    question = "What is the magic number of orders?"
    before = await service._answers.generate_sql(admin, question, "shop")
    assert before.generator != "verified"

    draft = (await catalog.create_draft(admin, "shop")).connection
    drafted_rule = (await catalog.instructions(draft.id))[0]
    await catalog.update_instruction(admin, draft.id, drafted_rule.id, "amounts are in dollars", "always")
    golden = await catalog.add_golden_query(admin, draft.id, question, "SELECT COUNT(*) * 7 FROM orders")
    await catalog.update_table(admin, draft.id, "orders", description="Every order placed")
    shop.retriever.golden_scores[golden.id] = 1.0
    # the draft answers with the new golden query; the live connection does not know it yet
    assert (await service._answers.generate_sql(admin, question, draft.name)).generator == "verified"
    assert (await service._answers.generate_sql(admin, question, "shop")).generator != "verified"

    published = await catalog.publish_draft(admin, "shop")
    assert {(c.kind, c.action) for c in published} == {("instruction", "update"), ("golden_query", "add"),
                                                         ("table", "update")}
    assert [(i.id, i.text) for i in await catalog.instructions(shop.connection.id)] == [(rule.id, "amounts are in dollars")]
    live_golden = await catalog.golden_queries(shop.connection.id)
    assert [(g.question, g.sql) for g in live_golden] == [(question, "SELECT COUNT(*) * 7 FROM orders")]
    orders = next(t for t in (await catalog.schema_for_prompt(shop.connection.id)).tables if t.name == "orders")
    assert orders.description == "Every order placed"
    shop.retriever.golden_scores[live_golden[0].id] = 1.0  # as the live index would now score it
    after = await service._answers.generate_sql(admin, question, "shop")
    assert after.generator == "verified" and "7" in after.sql
    # the draft is gone; publishing is audited with its changes
    with pytest.raises(NotFoundError):
        await catalog.get_connection(draft.name)
    assert await catalog.draft_of("shop") is None
    async with shop.sessions() as db:
        actions = list(await db.scalars(sa.text("SELECT action FROM audit_log ORDER BY id")))
    assert "catalog.draft.create" in actions and actions[-1] == "catalog.draft.publish"


async def test_discarding_a_draft_leaves_the_live_connection_as_it_was(shop):
    catalog, admin = shop.catalog, shop.admin
    await catalog.add_golden_query(admin, shop.connection.id, "How many orders are there?", "SELECT COUNT(*) FROM orders")
    before = await catalog.export_metadata(shop.connection.id)
    draft = (await catalog.create_draft(admin, "shop")).connection
    await catalog.update_column(admin, draft.id, "orders", "status", synonyms=["state of the order"])
    for golden in await catalog.golden_queries(draft.id):
        await catalog.delete_golden_query(admin, draft.id, golden.id)
    await catalog.add_instruction(admin, draft.id, "never count cancelled orders")

    await catalog.discard_draft(admin, "shop")
    assert await catalog.export_metadata(shop.connection.id) == before
    assert [g.question for g in await catalog.golden_queries(shop.connection.id)] == ["How many orders are there?"]
    assert await catalog.instructions(shop.connection.id) == []
    with pytest.raises(NotFoundError, match="has no draft"):
        await catalog.discard_draft(admin, "shop")
    # a new draft can be taken after one is discarded
    assert (await catalog.create_draft(admin, "shop")).changes == ()


async def test_a_trial_shows_which_questions_the_draft_fixes_and_breaks(shop):
    catalog, admin, service = shop.catalog, shop.admin, _service(shop)
    lucky = await catalog.add_golden_query(admin, shop.connection.id, "What is the lucky number of orders?",
                                           "SELECT COUNT(*) * 3 FROM orders")
    shop.retriever.golden_scores[lucky.id] = 1.0
    with pytest.raises(NotFoundError, match="has no draft"):
        await service.start_trial(admin, "shop")
    # a stored evaluation set of the live connection
    stored = await service.create(admin, "shop", [
        EvalQuestion("Tell me the magic number of orders", "SELECT COUNT(*) * 7 FROM orders", "magic"),
        EvalQuestion("Tell me the lucky number of orders", "SELECT COUNT(*) * 3 FROM orders", "magic"),
        EvalQuestion("How many orders are there?", "SELECT COUNT(*) FROM orders", "count"),
    ], name="house questions")
    await service.execute(stored.id)

    draft = (await catalog.create_draft(admin, "shop")).connection
    magic = await catalog.add_golden_query(admin, draft.id, "What is the magic number of orders?",
                                           "SELECT COUNT(*) * 7 FROM orders")
    shop.retriever.golden_scores[magic.id] = 1.0
    for golden in await catalog.golden_queries(draft.id):
        if golden.question.startswith("What is the lucky"):
            await catalog.delete_golden_query(admin, draft.id, golden.id)
    assert await service.trial("shop") is None

    started = await service.start_trial(admin, "shop")
    assert started.live.connection == "shop" and started.draft.connection == draft.name
    assert started.live.total == started.draft.total == 4  # the draft's golden query, then the stored set
    assert started.draft.trial_of == started.live.id and not started.finished
    await service.execute(started.live.id)
    await service.execute(started.draft.id)
    trial = await service.trial(draft.name)
    assert trial.finished and not trial.stale
    assert [f.question for f in trial.comparison.fixed] == ["Tell me the magic number of orders"]
    assert [f.question for f in trial.comparison.broken] == ["Tell me the lucky number of orders"]
    # the golden query itself is asked as if it did not exist, on both sides
    held = next(i for i in trial.draft.items if i.question == "What is the magic number of orders?")
    assert held.holdout and held.generator != "verified"

    await catalog.add_instruction(admin, draft.id, "a change after the trial")
    assert (await service.trial("shop")).stale
