"""The model's trust is measured: checked against verified queries (kept out of its prompt) and against the
reader's readings as answers are given; the selection weighs the model's SQL by what it earned."""

from __future__ import annotations

import pytest

from nl2sql.answers.dto import Unanswered

from nl2sql.answers import ModelTrust
from nl2sql.answers.generation import SqlGenerationService
from nl2sql.errors import ConflictError
from nl2sql.inference import FakeChatModel
from nl2sql.settings import EngineSettings


def test_the_configured_level_stands_until_enough_checks():
    trust = ModelTrust("high", min_checks=3)
    trust.record_golden(False)
    trust.record_golden(False)
    assert trust.level() == "high" and "not measured yet" in trust.reading().why
    trust.record_golden(False)
    assert trust.level() == "low"
    assert "0 of 3 golden queries" in trust.reading().why


def test_verified_checks_outweigh_agreement_and_a_good_record_earns_trust():
    trust = ModelTrust("low", min_checks=2, golden_pass=0.5, agreement=0.2)
    for _ in range(5):
        trust.record_answer(False)
    assert trust.level() == "low" and "agreed" in trust.reading().why
    trust.record_golden(True)
    trust.record_golden(False)
    assert trust.level() == "high"  # 1 of 2 verified results reproduced: ground truth beats agreement


def test_agreement_with_the_readings_alone_can_measure_the_model():
    trust = ModelTrust("high", min_checks=4, agreement=0.25)
    for agreed in (False, False, False, True):
        trust.record_answer(agreed)
    assert trust.level() == "high"
    trust.record_answer(False)
    assert trust.level() == "low"  # 1 of 5


def test_a_set_level_is_not_measured():
    trust = ModelTrust("high", measured=False, min_checks=1)
    trust.record_golden(False)
    assert trust.level() == "high"
    assert trust.reading().why == "set by NL2SQL_ENGINE_MODEL_TRUST"


def _service(shop, model, **engine) -> SqlGenerationService:
    settings = EngineSettings(**({"generators": "reader,model_sql", "model_when": "always", "repair_attempts": 0,
                                  "trust_min_checks": 2, "answer_cache": 0} | engine))
    return SqlGenerationService(shop.sessions, shop.catalog, shop.retriever, model, settings, trust="high",
                         measured_trust=True)


async def _golden(shop) -> list[int]:
    ids = []
    for question, sql in (("How many customers are in CA?", "SELECT COUNT(*) FROM customers WHERE state = 'CA'"),
                          ("How many orders are shipped?", "SELECT COUNT(*) FROM orders WHERE status = 'shipped'")):
        golden = await shop.catalog.add_golden_query(shop.admin, shop.connection.id, question, sql)
        shop.retriever.golden_scores[golden.id] = 0.95  # each would be the model's example, were it not held out
        ids.append(golden.id)
    return ids


async def test_a_confidently_wrong_model_fails_its_checks_and_the_reading_answers(shop):
    await _golden(shop)
    model = FakeChatModel(["SELECT COUNT(*) FROM orders WHERE amount > 100"])  # plausible, runs, wrong
    service = _service(shop, model)
    check = await service.check_model(shop.admin, "shop")

    assert (check.checked, check.passed) == (2, 0)
    assert all(r["error"] == "a different result" for r in check.results)
    assert check.trust.level == "low" and "0 of 2 golden queries" in check.trust.why
    # the query under test never appears in the model's prompt (the other one may, as an example)
    first, second = (c.prompt + " ".join(m.content for m in c.messages) for c in model.calls)
    assert "state = 'CA'" not in first and "status = 'shipped'" not in second

    answer = await service.generate_sql(shop.admin, "How many orders are there?", "shop")
    assert answer.generator == "reader"
    model_candidate = next(c for c in answer.candidates if c["generator"] == "model_sql")
    assert model_candidate["note"].startswith("model trust low:")


TOP = ("SELECT c.name, SUM(o.amount) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id "
       "GROUP BY c.name ORDER BY spent DESC LIMIT 3")


@pytest.mark.parametrize(("checks", "level", "winner"), [
    (["SELECT COUNT(*) FROM customers WHERE state = 'CA'",
      "SELECT COUNT(*) AS shipped FROM orders WHERE status = 'shipped'"], "high", "model_sql"),
    (["SELECT COUNT(*) FROM customers", "SELECT COUNT(*) FROM orders"], "low", None),
])
async def test_what_the_model_earned_on_verified_queries_decides_a_disagreement(shop, checks, level, winner):
    await _golden(shop)
    model = FakeChatModel([*checks, TOP])
    service = _service(shop, model)
    check = await service.check_model(shop.admin, "shop")
    assert check.trust.level == level and check.passed == (2 if level == "high" else 0)

    # the reading leaves "customers" out and the model's SQL disagrees with it: the measured trust decides
    if winner is None:  # an untrusted model's SQL never answers: the reading does, or the question is asked back
        try:
            answer = await service.generate_sql(shop.admin, "Orders of the biggest customers?", "shop")
        except Unanswered as asked_back:
            assert asked_back.extra["verdict"]["status"] == "clarify"
            candidates = asked_back.extra["candidates"]
        else:
            assert answer.generator == "reader"
            candidates = answer.candidates
    else:
        answer = await service.generate_sql(shop.admin, "Orders of the biggest customers?", "shop")
        assert answer.generator == winner
        candidates = answer.candidates
    model_candidate = next(c for c in candidates if c["generator"] == "model_sql")
    assert model_candidate["note"].startswith(f"model trust {level}:")


async def test_answers_measure_the_model_when_no_verified_queries_exist(shop):
    model = FakeChatModel(["SELECT COUNT(*) FROM customers WHERE state = 'TX'"])
    service = _service(shop, model)
    with pytest.raises(ConflictError, match="no golden queries"):
        await service.check_model(shop.admin, "shop")
    for _ in range(2):
        await service.generate_sql(shop.admin, "How many orders are there?", "shop")
    reading = service.model_trust.reading()
    assert (reading.answer_checks, reading.answer_agreed, reading.level) == (2, 0, "low")
    third = await service.generate_sql(shop.admin, "How many orders are there?", "shop")
    assert third.generator == "reader"


async def test_a_verified_query_that_no_longer_runs_is_not_held_against_the_model(shop):
    await shop.catalog.add_golden_query(shop.admin, shop.connection.id, "How many customers are there?",
                                        "SELECT COUNT(*) FROM customers")
    model = FakeChatModel(["SELECT COUNT(*) FROM customers"])
    service = _service(shop, model)
    check = await service.check_model(shop.admin, "shop", pairs=[("Broken?", "SELECT nope FROM customers"),
                                                                   ("How many customers?", "SELECT COUNT(*) FROM customers")])
    assert check.checked == 1 and check.passed == 1
    assert check.results[0]["passed"] is None and "verified SQL failed" in check.results[0]["error"]



@pytest.fixture
async def client(settings, tmp_path):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from tests.conftest import with_section
    from nl2sql.settings import CatalogSettings

    model = FakeChatModel(["SELECT COUNT(*) FROM orders WHERE status = 'new'"])  # 15, not the 30 customers
    app = create_app(with_section(settings, catalog=CatalogSettings(demo=False)), chat_model=model)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


async def test_the_api_checks_the_model_and_reports_its_trust(client, tmp_path):
    from tests.answers.conftest import build_shop_db
    from tests.support import ADMIN_PASSWORD, bearer

    auth, catalog = client.app.state.auth, client.app.state.catalog
    admin = await auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
    analyst = await auth.create_user("analyst@example.com", ADMIN_PASSWORD, role="analyst")
    path = tmp_path / "trust_shop.db"
    build_shop_db(path)
    connection = await catalog.create_connection(admin, "shop", f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, "shop")).error is None
    await catalog.add_golden_query(admin, connection.id, "How many customers are there?",
                                   "SELECT COUNT(*) FROM customers")
    admin_key = bearer((await auth.create_api_key(admin, name="a")).key)
    analyst_key = bearer((await auth.create_api_key(analyst, name="b")).key)

    before = await client.get("/api/v1/model/trust", headers=admin_key)
    assert before.status_code == 200 and before.json()["golden_checks"] == 0
    assert (await client.get("/api/v1/model/trust", headers=analyst_key)).status_code == 403
    assert (await client.post("/api/v1/model/check", json={"connection": "shop"},
                              headers=analyst_key)).status_code == 403

    checked = await client.post("/api/v1/model/check", json={"connection": "shop"}, headers=admin_key)
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert (body["checked"], body["passed"]) == (1, 0)
    assert body["results"][0]["error"] == "a different result"
    assert body["trust"]["golden_checks"] == 1
    missing = await client.post("/api/v1/model/check", json={"connection": "nope"}, headers=admin_key)
    assert missing.status_code == 404
    bad = await client.post("/api/v1/model/check", json={"connection": "shop", "limit": 0}, headers=admin_key)
    assert bad.status_code == 400 and "limit" in bad.text


async def test_the_evidence_outlives_the_process_and_belongs_to_its_model(shop):
    await _golden(shop)
    wrong = FakeChatModel(["SELECT 1"], model="confident-7b")
    first = _service(shop, wrong)
    assert (await first.check_model(shop.admin, "shop")).trust.level == "low"

    restarted = _service(shop, FakeChatModel(["SELECT 1"], model="confident-7b"))
    reading = await restarted.trust_reading()
    assert (reading.golden_checks, reading.level) == (2, "low")
    other = _service(shop, FakeChatModel(["SELECT 1"], model="another-model"))
    assert (await other.trust_reading()).golden_checks == 0


async def test_the_model_page_shows_the_trust_and_checks_it(client, tmp_path):
    from tests.answers.conftest import build_shop_db
    from tests.support import ADMIN_PASSWORD, form_post, login

    auth, catalog = client.app.state.auth, client.app.state.catalog
    admin = await auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
    await auth.create_user("analyst@example.com", ADMIN_PASSWORD, role="analyst")
    path = tmp_path / "trust_page.db"
    build_shop_db(path)
    connection = await catalog.create_connection(admin, "shop", f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, "shop")).error is None

    await login(client, "analyst@example.com", ADMIN_PASSWORD)
    assert (await client.get("/admin/models/trust")).status_code in (302, 303, 403)
    client.cookies.clear()
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    models = await client.get("/admin/models")
    assert 'hx-get="/admin/models/trust/"' in models.text
    shown = await client.get("/admin/models/trust", headers={"HX-Request": "true"})
    assert shown.status_code == 200 and "Trust: <strong>low</strong>" in shown.text  # a fake backend proves nothing
    assert "<html" not in shown.text

    refused = await form_post(client, "/admin/models/trust/check", {"connection": "shop"}, page="/admin/models/trust",
                              htmx=True)
    assert refused.status_code == 409 and "no golden queries" in refused.text
    await catalog.add_golden_query(admin, connection.id, "How many customers are there?",
                                   "SELECT COUNT(*) FROM customers")
    checked = await form_post(client, "/admin/models/trust/check", {"connection": "shop", "limit": "5"},
                              page="/admin/models/trust", htmx=True)
    assert checked.status_code == 200, checked.text
    assert "0 of 1 reproduced on shop" in checked.text and "a different result" in checked.text
    full = await client.get("/admin/models/trust")
    assert "<html" in full.text and "Model trust" in full.text


async def test_a_model_that_cannot_say_its_name_costs_no_answer(shop):
    from nl2sql.errors import UnavailableError

    class Gone(FakeChatModel):
        """A server whose model name is only known from the server, which is down."""

        def describe(self):
            from dataclasses import replace

            return replace(super().describe(), model="(first model the server lists)")

        async def info(self):
            raise UnavailableError("the model server is unreachable")

    service = _service(shop, Gone(["SELECT 1"]), model_when="never")
    answer = await service.generate_sql(shop.admin, "How many orders are there?", "shop")
    assert answer.generator == "reader"
    assert (await service.trust_reading()).level == "high"  # nothing measured: the configured level stands
    assert service._trust_of is None
