"""Knowledge drafts: a hidden copy of a connection's curated catalog, edited, tried against the live knowledge
(a trial shows which questions the draft fixes or breaks), then published (live behaviour changes) or
discarded (nothing changes)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from nl2sql.answers.dto import Unanswered
from nl2sql.catalog.drafts import Knowledge, PublishConflict, Reconciliation, reconcile
from nl2sql.errors import ConflictError, NotFoundError, ValidationFailed
from nl2sql.evaluation import EvalQuestion, EvaluationService
from nl2sql.inference import FakeChatModel


def _service(shop) -> EvaluationService:
    answers = shop.service(FakeChatModel(["SELECT 1"]), generators="reader,golden,model_sql",
                           model_when="fallback", repair_attempts=0)
    return EvaluationService(shop.sessions, shop.catalog, answers, shop.auth)


TABLE = {"description": "", "business_name": "", "synonyms": [], "included": True, "semantics": {}}
COLUMN = TABLE | {"sensitive": False}


def test_publishing_applies_only_what_the_draft_changed_since_it_was_taken():
    base = Knowledge(
        tables={"orders": TABLE, "gone_from_draft": TABLE},
        columns={("orders", "amount"): COLUMN, ("orders", "status"): COLUMN},
        rows={"instruction": {1: ("always", "amounts are in euros"), 2: ("always", "old rule"),
                              3: ("always", "deleted live since")},
              "golden_query": {5: ("How many orders?", "SELECT COUNT(*) FROM orders")}, "join_hint": {}})
    live = Knowledge(  # since the draft was taken: a flag, a description, a new rule, one rule deleted
        tables={"orders": TABLE | {"business_name": "Sales"}, "gone_from_draft": TABLE},
        columns={("orders", "amount"): COLUMN, ("orders", "status"): COLUMN | {"sensitive": True}},
        rows={"instruction": {1: ("always", "amounts are in euros"), 2: ("always", "old rule"),
                              9: ("topical", "added live after the draft was taken")},
              "golden_query": {5: ("How many orders?", "SELECT COUNT(*) FROM orders")}, "join_hint": {}})
    draft = Knowledge(
        tables={"orders": TABLE | {"description": "Every order placed"}, "new_in_draft": TABLE},
        columns={("orders", "amount"): COLUMN | {"synonyms": ["takings"], "semantics": {"role": "measure"}},
                 ("orders", "status"): COLUMN},
        rows={"instruction": {11: ("always", "amounts are in dollars"), 13: ("topical", "a new rule"),
                              14: ("always", "deleted live since"),
                              16: ("topical", "added live after the draft was taken")},
              "golden_query": {15: ("How many orders?", "SELECT COUNT(*) FROM orders")}, "join_hint": {}})
    origin = {"instruction": {"11": 1, "12": 2, "14": 3}, "golden_query": {"15": 5}}
    found = reconcile(base, live, draft, origin)
    assert found.conflicts == []
    assert {(c.kind, c.action, c.field, c.live_id, c.draft_id): (c.before, c.after) for c in found.changes} == {
        ("table", "update", "description", None, None): ("", "Every order placed"),
        ("column", "update", "synonyms", None, None): ([], ["takings"]),
        ("column", "update", "semantics", None, None): ({}, {"role": "measure"}),
        ("instruction", "update", "", 1, 11): (("always", "amounts are in euros"), ("always", "amounts are in dollars")),
        ("instruction", "add", "", None, 13): (None, ("topical", "a new rule")),
        ("instruction", "remove", "", 2, None): (("always", "old rule"), None),
    }  # live's sensitive flag, business name, new rule #9 and deletion of #3 stay; the draft's copy of a rule
    # live has since added word for word (#16) is not added twice; tables on one side only are left alone


def test_where_both_sides_changed_the_same_thing_publishing_stops_on_a_conflict():
    base = Knowledge(tables={"orders": TABLE}, columns={("orders", "amount"): COLUMN},
                     rows={"instruction": {1: ("always", "edited on both"), 2: ("always", "edited live, deleted in draft"),
                                           3: ("always", "deleted live, edited in draft")}})
    live = Knowledge(tables={"orders": TABLE}, columns={("orders", "amount"): COLUMN | {"description": "Total, live"}},
                     rows={"instruction": {1: ("always", "edited live"), 2: ("always", "edited live too")}})
    draft = Knowledge(tables={"orders": TABLE}, columns={("orders", "amount"): COLUMN | {"description": "Total, draft"}},
                      rows={"instruction": {11: ("always", "edited in the draft"), 13: ("always", "edited in draft")}})
    origin = {"instruction": {"11": 1, "12": 2, "13": 3}}
    found = reconcile(base, live, draft, origin)
    assert found.changes == []
    assert [(c.key, c.base, c.live, c.draft, c.live_did, c.draft_did, c.change.action) for c in found.conflicts] == [
        ("column:orders.amount:description", "", "Total, live", "Total, draft", "changed", "changed", "update"),
        ("instruction:1", ("always", "edited on both"), ("always", "edited live"), ("always", "edited in the draft"),
         "changed", "changed", "update"),
        ("instruction:3", ("always", "deleted live, edited in draft"), None, ("always", "edited in draft"),
         "deleted", "changed", "add"),
        ("instruction:2", ("always", "edited live, deleted in draft"), ("always", "edited live too"), None,
         "changed", "deleted", "remove"),
    ]
    assert found.conflicts[0].detail == ("column orders.amount · description: the live connection changed it since "
                                         "the draft was taken, and the draft changed it")
    # both sides making the same change agree: nothing to do, nothing to decide
    same = Knowledge(tables={"orders": TABLE}, columns={("orders", "amount"): COLUMN | {"description": "Total, live"}},
                     rows={})
    assert reconcile(base, live, same, {}) == Reconciliation([], [])


def test_a_draft_without_a_base_makes_every_difference_a_conflict():
    live = Knowledge(tables={}, columns={("orders", "status"): COLUMN | {"sensitive": True}}, rows={})
    draft = Knowledge(tables={}, columns={("orders", "status"): COLUMN}, rows={})
    found = reconcile(None, live, draft, {})
    assert found.changes == [] and [(c.key, c.base_known) for c in found.conflicts] == [
        ("column:orders.status:sensitive", False)]
    assert reconcile(None, live, live, {}) == Reconciliation([], [])
    # the base survives the app database (JSON) unchanged
    kept = Knowledge(tables={"orders": TABLE}, columns={("orders", "amount"): COLUMN},
                     rows={"join_hint": {4: ("orders", "customers", [["customer_id", "id"]], "")},
                           "instruction": {1: ("always", "x")}})
    assert Knowledge.from_json(json.loads(json.dumps(kept.to_json()))) == kept


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


async def _not_verified(service, admin, question: str, connection: str) -> bool:
    """Whether the question is answered some other way than by a verified query (or asked back)."""
    try:
        return (await service._answers.generate_sql(admin, question, connection)).generator != "verified"
    except Unanswered:
        return True


async def test_publishing_a_draft_changes_live_behaviour(shop):
    catalog, admin, service = shop.catalog, shop.admin, _service(shop)
    rule = await catalog.add_instruction(admin, shop.connection.id, "amounts are in euros")
    question = "What is the magic number of orders?"
    assert await _not_verified(service, admin, question, "shop")  # 'magic' names nothing here: not a verified answer

    draft = (await catalog.create_draft(admin, "shop")).connection
    drafted_rule = (await catalog.instructions(draft.id))[0]
    await catalog.update_instruction(admin, draft.id, drafted_rule.id, "amounts are in dollars", "always")
    golden = await catalog.add_golden_query(admin, draft.id, question, "SELECT COUNT(*) * 7 FROM orders")
    await catalog.update_table(admin, draft.id, "orders", description="Every order placed")
    shop.retriever.golden_scores[golden.id] = 1.0
    # the draft answers with the new golden query; the live connection does not know it yet
    assert (await service._answers.generate_sql(admin, question, draft.name)).generator == "verified"
    assert await _not_verified(service, admin, question, "shop")

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


async def _sensitive(shop) -> set[str]:
    return set((await shop.catalog.schema_for_prompt(shop.connection.id)).sensitive_columns)


async def test_security_publishing_an_old_draft_keeps_a_sensitive_flag_set_live_since(shop):
    """Security suite (issue 26, probe item 3): a draft taken before a column was flagged sensitive on the live
    connection, published later, used to unflag it (the draft's stale copy won everywhere); the flag stays."""
    catalog, admin = shop.catalog, shop.admin
    draft = (await catalog.create_draft(admin, "shop")).connection
    await catalog.update_table(admin, draft.id, "orders", description="Every order placed")  # the draft's own edit
    await catalog.update_column(admin, shop.connection.id, "customers", "name", sensitive=True)  # live, since
    shown = await catalog.draft("shop")
    assert [(c.kind, c.target, c.field) for c in shown.changes] == [("table", "orders", "description")]
    assert shown.conflicts == ()

    published = await catalog.publish_draft(admin, "shop")
    assert [(c.target, c.field) for c in published] == [("orders", "description")]
    assert {"customers.name", "customers.email"} <= await _sensitive(shop)
    orders = next(t for t in (await catalog.schema_for_prompt(shop.connection.id)).tables if t.name == "orders")
    assert orders.description == "Every order placed"


async def test_changes_on_both_sides_that_do_not_meet_both_survive_a_publish(shop):
    catalog, admin = shop.catalog, shop.admin
    rule = await catalog.add_instruction(admin, shop.connection.id, "amounts are in euros")
    gone = await catalog.add_golden_query(admin, shop.connection.id, "How many orders are there?",
                                          "SELECT COUNT(*) FROM orders")
    draft = (await catalog.create_draft(admin, "shop")).connection
    # the draft: a column description, the rule reworded, a new rule
    await catalog.update_column(admin, draft.id, "orders", "amount", description="Order total")
    drafted_rule = (await catalog.instructions(draft.id))[0]
    await catalog.update_instruction(admin, draft.id, drafted_rule.id, "amounts are in dollars", "always")
    await catalog.add_instruction(admin, draft.id, "never count cancelled orders")
    # live, meanwhile: another column's description, synonyms on the same column, a golden query deleted, one added
    await catalog.update_column(admin, shop.connection.id, "customers", "state", description="Two-letter code")
    await catalog.update_column(admin, shop.connection.id, "orders", "amount", synonyms=["takings"])
    await catalog.delete_golden_query(admin, shop.connection.id, gone.id)
    await catalog.add_golden_query(admin, shop.connection.id, "How many customers are there?",
                                   "SELECT COUNT(*) FROM customers")

    assert (await catalog.draft("shop")).conflicts == ()
    await catalog.publish_draft(admin, "shop")
    columns = {(t.name, c.name): c for t in (await catalog.schema_for_prompt(shop.connection.id)).tables
               for c in t.columns}
    assert columns[("orders", "amount")].description == "Order total"
    assert list(columns[("orders", "amount")].synonyms) == ["takings"]
    assert columns[("customers", "state")].description == "Two-letter code"
    assert [(i.id, i.text) for i in await catalog.instructions(shop.connection.id)][0] == (rule.id, "amounts are in dollars")
    assert {i.text for i in await catalog.instructions(shop.connection.id)} == {"amounts are in dollars",
                                                                                "never count cancelled orders"}
    # the golden query deleted live is not brought back by the draft's untouched copy
    assert [g.question for g in await catalog.golden_queries(shop.connection.id)] == ["How many customers are there?"]


async def test_a_true_conflict_stops_the_publish_until_someone_says_which_side_wins(shop):
    catalog, admin = shop.catalog, shop.admin
    rule = await catalog.add_instruction(admin, shop.connection.id, "amounts are in euros")
    draft = (await catalog.create_draft(admin, "shop")).connection
    await catalog.update_column(admin, draft.id, "orders", "amount", description="Total, as the draft says")
    await catalog.update_column(admin, draft.id, "orders", "status", description="Where the order is")  # no conflict
    drafted_rule = (await catalog.instructions(draft.id))[0]
    await catalog.update_instruction(admin, draft.id, drafted_rule.id, "amounts are in dollars", "always")
    await catalog.update_column(admin, shop.connection.id, "orders", "amount", description="Total, as live says")
    await catalog.update_instruction(admin, shop.connection.id, rule.id, "amounts are in pounds", "always")

    shown = await catalog.draft("shop")
    assert [(c.key, c.base, c.live, c.draft) for c in shown.conflicts] == [
        ("column:orders.amount:description", "", "Total, as live says", "Total, as the draft says"),
        (f"instruction:{rule.id}", ("always", "amounts are in euros"), ("always", "amounts are in pounds"),
         ("always", "amounts are in dollars")),
    ]
    with pytest.raises(PublishConflict) as stopped:
        await catalog.publish_draft(admin, "shop")
    assert stopped.value.status_code == 409 and "2 conflicts" in stopped.value.detail
    assert "column orders.amount · description: the live connection changed it" in stopped.value.detail
    # nothing was published: the draft is still there and live is as it was
    assert (await catalog.draft("shop")).connection.id == draft.id
    assert [i.text for i in await catalog.instructions(shop.connection.id)] == ["amounts are in pounds"]
    # a choice for one conflict only still stops, on the other one
    with pytest.raises(PublishConflict) as still:
        await catalog.publish_draft(admin, "shop", {"column:orders.amount:description": "draft"})
    assert [c.key for c in still.value.conflicts] == [f"instruction:{rule.id}"]
    with pytest.raises(ValidationFailed):
        await catalog.publish_draft(admin, "shop", "mine")

    published = await catalog.publish_draft(admin, "shop", {"column:orders.amount:description": "draft",
                                                            f"instruction:{rule.id}": "live"})
    assert {(c.target, c.field) for c in published} == {("orders.amount", "description"), ("orders.status", "description")}
    columns = {(t.name, c.name): c for t in (await catalog.schema_for_prompt(shop.connection.id)).tables
               for c in t.columns}
    assert columns[("orders", "amount")].description == "Total, as the draft says"
    assert columns[("orders", "status")].description == "Where the order is"
    assert [i.text for i in await catalog.instructions(shop.connection.id)] == ["amounts are in pounds"]
    async with shop.sessions() as db:
        action, after = (await db.execute(sa.text(
            "SELECT action, after FROM audit_log ORDER BY id DESC LIMIT 1"))).one()
    assert action == "catalog.draft.publish"
    assert {c["key"]: c["kept"] for c in after["conflicts"]} == {"column:orders.amount:description": "draft",
                                                                 f"instruction:{rule.id}": "live"}

    # "draft" for all: the draft wins every conflict, a deletion on either side included
    golden = await catalog.add_golden_query(admin, shop.connection.id, "How many orders are there?",
                                            "SELECT COUNT(*) FROM orders")
    draft = (await catalog.create_draft(admin, "shop")).connection
    await catalog.delete_golden_query(admin, draft.id, (await catalog.golden_queries(draft.id))[0].id)
    await catalog.update_golden_query(admin, shop.connection.id, golden.id, "How many orders are there in all?",
                                      "SELECT COUNT(*) FROM orders")
    assert [(c.key, c.live_did, c.draft_did) for c in (await catalog.draft("shop")).conflicts] == [
        (f"golden_query:{golden.id}", "changed", "deleted")]
    await catalog.publish_draft(admin, "shop", "draft")
    assert await catalog.golden_queries(shop.connection.id) == []


async def test_a_drafted_metric_is_read_on_the_draft_and_goes_live_on_publish(shop):
    catalog, admin = shop.catalog, shop.admin
    revenue = {"name": "revenue", "expression": "sum(orders.amount)", "filters": ["orders.status = 'shipped'"],
               "synonyms": ["sales"]}
    draft = (await catalog.create_draft(admin, "shop")).connection
    await catalog.add_metric(admin, draft.id, revenue)
    await catalog.set_value_synonyms(admin, draft.id, "orders", "status", {"new": ["pending"]})
    changes = {(c.kind, c.action, c.field) for c in (await catalog.draft("shop")).changes}
    assert changes == {("metric", "add", ""), ("column", "update", "value_synonyms")}
    assert await catalog.metrics(shop.connection.id) == []
    # the engine reads the draft with its metric (a trial measures exactly what publishing would do)
    service = _service(shop)._answers
    answer = await service.generate_sql(admin, "What is the total revenue?", draft.name)
    assert "SUM(orders.amount)" in answer.sql and "orders.status = 'shipped'" in answer.sql, answer.sql

    await catalog.publish_draft(admin, "shop")
    live = await catalog.metrics(shop.connection.id)
    assert [(m.name, m.filters) for m in live] == [("revenue", ("orders.status = 'shipped'",))]
    status = {c.name: c for c in (await catalog.table(shop.connection.id, "orders")).columns}["status"]
    assert status.value_synonyms == {"new": ("pending",)}

    # a later draft that deletes it removes it live
    draft = (await catalog.create_draft(admin, "shop")).connection
    await catalog.delete_metric(admin, draft.id, (await catalog.metrics(draft.id))[0].id)
    assert {(c.kind, c.action) for c in (await catalog.draft("shop")).changes} == {("metric", "remove")}
    await catalog.publish_draft(admin, "shop")
    assert await catalog.metrics(shop.connection.id) == []
