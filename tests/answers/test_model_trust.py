"""The model's trust is measured: checked against verified queries (kept out of its prompt) and against the
reader's readings as answers are given; the selection weighs the model's SQL by what it earned."""

from __future__ import annotations

import pytest

from nl2sql.answers import ModelTrust
from nl2sql.answers.service import AnswerService
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


def _service(shop, model, **engine) -> AnswerService:
    settings = EngineSettings(**({"generators": "reader,model_sql", "model_when": "always", "repair_attempts": 0,
                                  "trust_min_checks": 2, "answer_cache": 0} | engine))
    return AnswerService(shop.sessions, shop.catalog, shop.retriever, model, settings, trust="high",
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
    (["SELECT COUNT(*) FROM customers", "SELECT COUNT(*) FROM orders"], "low", "reader"),
])
async def test_what_the_model_earned_on_verified_queries_decides_a_disagreement(shop, checks, level, winner):
    await _golden(shop)
    model = FakeChatModel([*checks, TOP])
    service = _service(shop, model)
    check = await service.check_model(shop.admin, "shop")
    assert check.trust.level == level and check.passed == (2 if level == "high" else 0)

    answer = await service.generate_sql(shop.admin, "Orders of the biggest customers?", "shop")
    assert answer.generator == winner  # the reading and the model's SQL disagree; the measured trust decides
    model_candidate = next(c for c in answer.candidates if c["generator"] == "model_sql")
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

