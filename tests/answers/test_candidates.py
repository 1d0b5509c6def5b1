"""Candidates and selection: the reader answers without the model when it is sure, the model is asked when it is
not, every candidate is guarded and run, and the one that ran, agrees with others and fits the question wins."""

from __future__ import annotations

import pytest

from nl2sql.answers.candidates import Candidate, choose, fingerprint
from nl2sql.answers.dto import Unanswered
from nl2sql.inference import FakeChatModel
from tests.support import bearer


def test_fingerprints_ignore_column_and_row_order():
    assert fingerprint([(1, "a"), (2, "b")]) == fingerprint([("b", 2), ("a", 1)])
    assert fingerprint([(1, "a")]) != fingerprint([(1, "b")])
    assert fingerprint([]) == "empty"


def test_selection_prefers_candidates_that_agree():
    a = Candidate("reader", "SELECT 1", confidence=0.7, rows=3, fingerprint="x", fit=0.6)
    b = Candidate("model_sql", "SELECT 2", confidence=0.8, rows=3, fingerprint="x", fit=0.6)
    c = Candidate("reader", "SELECT 3", confidence=0.75, rows=3, fingerprint="y", fit=0.6)
    assert choose([a, b, c]) is a
    assert a.chosen and a.agreement == 1 and not c.chosen


def test_selection_drops_failed_candidates_and_discounts_empty_results():
    failed = Candidate("reader", "SELECT broken", confidence=0.99, error="no such column")
    empty = Candidate("reader", "SELECT 1 WHERE 0", confidence=0.9, rows=0, fingerprint="empty", fit=0.9)
    rows = Candidate("model_sql", "SELECT 2", confidence=0.8, rows=2, fingerprint="z", fit=0.8)
    assert choose([failed, empty, rows], trust="high") is rows
    assert failed.score == 0.0
    assert choose([failed]) is None


def test_a_trusted_model_outweighs_an_unsure_reading_but_not_a_fitting_agreement():
    reader = Candidate("reader", "SELECT a", confidence=0.65, rows=1, fingerprint="r", fit=0.5)
    model = Candidate("model_sql", "SELECT b", confidence=0.8, rows=1, fingerprint="m", fit=0.8)
    assert choose([reader, model], trust="high") is model
    reader2 = Candidate("reader", "SELECT a", confidence=0.65, rows=1, fingerprint="r", fit=0.5)
    model2 = Candidate("model_sql", "SELECT b", confidence=0.8, rows=1, fingerprint="m", fit=0.8)
    assert choose([reader2, model2], trust="low") is reader2


QUESTION = "How many orders are there?"


async def test_a_confident_reading_answers_without_calling_the_model(shop):
    model = FakeChatModel(["SELECT 1"])
    service = shop.service(model, generators="reader,golden,model_plan,model_sql", model_when="uncertain")
    answer = await service.generate_sql(shop.admin, QUESTION, "shop")

    assert model.calls == []
    assert answer.generator == "reader"
    assert answer.plan is not None and answer.plan["base"] == "orders"
    assert answer.explanation == "number of orders"
    assert answer.sql.startswith("SELECT COUNT(*) AS number_of_orders FROM orders")
    chosen = [c for c in answer.candidates if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["rows"] == 1 and chosen[0]["generator"] == "reader"


async def test_an_unreadable_question_asks_the_model_and_its_sql_can_win(shop):
    model = FakeChatModel(["not json", "SELECT COUNT(*) FROM customers"])
    service = shop.service(model, generators="model_plan,model_sql", model_when="uncertain", repair_attempts=0)
    answer = await service.generate_sql(shop.admin, "How many customers signed up per planet?", "shop")

    assert [c.params.json_schema is not None for c in model.calls] == [True, False]
    assert answer.generator == "model_sql" and answer.sql.startswith("SELECT COUNT(*) FROM customers")
    kinds = [c["generator"] for c in answer.candidates]
    assert "model_plan" in kinds and "model_sql" in kinds
    assert any(c["generator"] == "model_plan" and c["error"] for c in answer.candidates)


async def test_a_small_model_never_answers_on_its_own_and_is_asked_only_when_the_user_says_so(shop):
    # auto with a low-trust (small, local) model: it costs a minute a question and is rarely right, so a question
    # no reading answers is asked back or refused at once; "Try the model" (use_model) asks it
    model = FakeChatModel(["SELECT COUNT(*) FROM customers"])
    service = shop.service(model, generators="reader,model_sql", model_when="auto", model_trust="low",
                           confident=0.99, repair_attempts=0, answer_confidence=0.0)
    answer = await service.generate_sql(shop.admin, QUESTION, "shop")
    assert model.calls == [] and answer.generator == "reader"
    with pytest.raises(Unanswered) as unanswered:
        await service.generate_sql(shop.admin, "Xyzzy plugh?", "shop")
    assert model.calls == [] and unanswered.value.extra["verdict"]["status"] == "refused"
    answer = await service.generate_sql(shop.admin, "How many customers signed up per planet?", "shop", use_model=True)
    assert len(model.calls) == 1 and answer.generator == "model_sql"
    # uncertain asks it whenever no reading is confident enough
    uncertain = shop.service(model, generators="reader,model_sql", model_when="uncertain", model_trust="low",
                             confident=0.99, repair_attempts=0)
    await uncertain.generate_sql(shop.admin, "How many customers are there?", "shop")
    assert len(model.calls) == 2


async def test_the_models_plan_form_becomes_a_plan(shop):
    form = ('{"show": [], "aggregate": "sum", "measure": "orders.amount", "group_by": ["orders.status"], '
            '"filters": [], "order": "highest first", "limit": 0}')
    model = FakeChatModel([form])
    service = shop.service(model, generators="model_plan", model_when="always")
    answer = await service.generate_sql(shop.admin, "Amounts of orders, summed up by their status somehow", "shop")
    assert answer.generator == "model_plan"
    assert answer.plan["group_by"][0] == {"kind": "Col", "table": "orders", "column": "status"}
    assert "SUM(orders.amount)" in answer.sql and "GROUP BY orders.status" in answer.sql


async def test_an_adapted_golden_query_is_a_candidate_that_agrees(shop):
    golden = await shop.catalog.add_golden_query(
        shop.admin, shop.connection.id, "How many orders have status 'new'?",
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'new'")
    shop.retriever.golden_scores[golden.id] = 0.8  # similar, below the verified shortcut
    model = FakeChatModel(["SELECT 1"])
    service = shop.service(model, generators="reader,golden", model_when="never")
    answer = await service.generate_sql(shop.admin, "How many orders have status 'shipped'?", "shop")

    golden_candidates = [c for c in answer.candidates if c["generator"] == "golden"]
    assert golden_candidates and "'shipped'" in golden_candidates[0]["sql"]
    assert "new -> shipped" in golden_candidates[0]["note"]
    winner = next(c for c in answer.candidates if c["chosen"])
    assert winner["agreement"] >= 1  # the reader's own reading returns the same count
    assert model.calls == []


async def test_a_candidate_the_guard_refuses_never_runs(shop):
    model = FakeChatModel(["DELETE FROM orders"])
    service = shop.service(model, generators="reader,model_sql", model_when="always", repair_attempts=0)
    answer = await service.generate_sql(shop.admin, QUESTION, "shop")
    assert answer.generator == "reader"
    refused = [c for c in answer.candidates if c["generator"] == "model_sql"]
    assert refused and refused[0]["rows"] is None and refused[0]["error"]


async def test_a_follow_up_fragment_is_read_with_the_question_before_it(shop):
    from nl2sql.prompting import Turn

    model = FakeChatModel(["SELECT 1"])
    service = shop.service(model, generators="reader", model_when="never")
    answer = await service.generate_sql(shop.admin, "only the shipped ones", "shop",
                                        history=(Turn("How many orders are there?", "SELECT COUNT(*) FROM orders"),))
    assert "status = 'shipped'" in answer.sql and "COUNT(*)" in answer.sql


@pytest.fixture
def settings(settings):
    from tests.conftest import with_section
    from nl2sql.settings import CatalogSettings, EngineSettings

    # the product's defaults for the engine (the other API tests use the model alone)
    return with_section(settings, catalog=CatalogSettings(demo=False), engine=EngineSettings())


@pytest.fixture
async def default_client(settings, tmp_path):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    model = FakeChatModel(["SELECT 1"])
    app = create_app(settings, chat_model=model)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        client.fake_model = model
        yield client


async def _shop(client, tmp_path):
    from tests.answers.conftest import build_shop_db
    from tests.support import ADMIN_PASSWORD

    admin = await client.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
    path = tmp_path / "candidates_shop.db"
    build_shop_db(path)
    await client.app.state.catalog.create_connection(admin, "shop", f"sqlite:///{path}")
    assert (await client.app.state.catalog.sync_now(admin, "shop")).error is None
    return (await client.app.state.auth.create_api_key(admin, name="t")).key


async def test_the_api_returns_the_plan_its_line_the_generator_and_the_candidates(default_client, tmp_path):
    key = await _shop(default_client, tmp_path)
    response = await default_client.post("/api/v1/sql", json={"question": "How many orders per status?",
                                                               "connection": "shop"}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["generator"] == "reader"
    assert body["plan"]["line"] == "number of orders by status"
    assert body["plan"]["json"]["group_by"] == [{"kind": "Col", "table": "orders", "column": "status"}]
    assert body["candidate_count"] == len(body["candidates"]) >= 1

    asked = await default_client.post("/api/v1/ask", json={"question": "How many orders per status?",
                                                           "connection": "shop"}, headers=bearer(key))
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["generator"] == "reader" and body["plan"]["line"] == "number of orders by status"
    assert body["candidate_count"] >= 1 and sorted(r[0] for r in body["rows"]) == ["new", "shipped"]
    assert body["trust"]["kind"] == "read"
    assert default_client.fake_model.calls == [] or all(
        c.params.json_schema is not None or "chart" in c.prompt for c in default_client.fake_model.calls)

    trace = await default_client.get(f"/api/v1/answers/{body['answer_id']}", headers=bearer(key))
    assert trace.status_code == 200
    assert trace.json()["candidates"] and trace.json()["plan"]["line"] == "number of orders by status"


async def test_the_reading_is_changed_on_the_page_without_the_model_and_filed_in_history(default_client, tmp_path):
    import re

    from tests.support import ADMIN_PASSWORD, form_post, login

    await _shop(default_client, tmp_path)
    await login(default_client, "admin@example.com", ADMIN_PASSWORD)
    hx = {"HX-Request": "true"}
    asked = await form_post(default_client, "/ask", {"question": "Total amount of orders per status",
                                                     "connection": "shop"}, page="/ask")
    answer_id = re.search(r'data-answer-id="(\d+)"', asked.text).group(1)
    assert "Change the reading" in asked.text
    controls = await default_client.get(f"/answers/{answer_id}/reading", headers=hx)
    assert 'name="agg1"' in controls.text or 'name="agg0"' in controls.text, controls.text
    agg = re.search(r'name="(agg\d)"', controls.text).group(1)
    group = re.search(r'name="(group\d)"', controls.text).group(1)
    calls = len(default_client.fake_model.calls)
    changed = await form_post(default_client, f"/answers/{answer_id}/reading", {agg: "max", group: "status"},
                              page="/ask", htmx=True)
    assert changed.status_code == 200, changed.text
    assert "highest amount" in changed.text and "reading changed by hand" in changed.text
    assert "MAX(" in changed.text.upper()
    assert len(default_client.fake_model.calls) == calls  # no model call
    new_id = re.search(r'data-answer-id="(\d+)"', changed.text).group(1)
    key = (await default_client.app.state.auth.create_api_key(
        await default_client.app.state.auth.find_user("admin@example.com"), name="t2")).key
    trace = (await default_client.get(f"/api/v1/answers/{new_id}", headers=bearer(key))).json()
    assert trace["retrieved"]["reading_changed_from"] == int(answer_id)
    assert trace["retrieved"]["original_plan"]["select"] != trace["plan"]["json"]["select"]
    # a change reaches only the columns of the table the reading groups (here another table's sensitive email)
    shop = await default_client.app.state.catalog.get_connection("shop")
    await default_client.app.state.catalog.update_column(None, shop.id, "customers", "email", sensitive=True)
    hidden = await form_post(default_client, f"/answers/{answer_id}/reading", {group: "email"}, page="/ask",
                             htmx=True)
    assert hidden.status_code == 400 and "@" not in hidden.text
    refused = await form_post(default_client, f"/answers/{answer_id}/reading", {agg: "median"}, page="/ask",
                              htmx=True)
    assert refused.status_code == 400 and "can&#39;t be made: unknown aggregate" in refused.text


async def test_the_progress_says_how_many_candidates_are_checked(default_client, tmp_path):
    await _shop(default_client, tmp_path)
    stages: list[str] = []
    admin = await default_client.app.state.auth.find_user("admin@example.com")
    await default_client.app.state.ask.ask(admin, "How many orders per status?", "shop", progress=stages.append)
    checking = [s for s in stages if s.startswith("Checking ")]
    assert checking and checking[0].endswith("against the database")
    assert stages.index(checking[0]) < stages.index("Running the query")


async def test_every_answer_carries_a_label_that_matches_how_it_was_produced(shop):
    model = FakeChatModel(["SELECT COUNT(*) AS n FROM customers"])
    read = await shop.service(model, generators="reader", model_when="never", answer_confidence=0.0).generate_sql(
        shop.admin, QUESTION, "shop")
    assert read.generator == "reader" and read.verdict["label"] == "read from the question: all of it"

    golden = await shop.catalog.add_golden_query(shop.admin, shop.connection.id, "How many customers do we have?",
                                                 "SELECT COUNT(*) AS n FROM customers")
    shop.retriever.golden_scores[golden.id] = 0.99  # the verified shortcut
    verified = await shop.service(model, generators="reader").generate_sql(
        shop.admin, "How many customers do we have?", "shop")
    assert verified.generator == "verified" and verified.verdict["label"] == "verified query: all of it"

    shop.retriever.golden_scores.clear()
    by_model = await shop.service(model, generators="model_sql", model_when="always").generate_sql(
        shop.admin, "How many customers signed up, roughly?", "shop")
    assert by_model.generator == "model_sql" and by_model.verdict["label"].startswith("generated by the model")
