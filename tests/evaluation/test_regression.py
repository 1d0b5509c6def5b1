"""Golden regression: every golden question re-asked as if its query did not exist (no shortcut, not adapted,
not shown to the model), compared with the verified result; on demand, for every connection (the nightly job),
with the score over time."""

from __future__ import annotations

import pytest

from nl2sql.errors import ConflictError, SettingsError
from nl2sql.evaluation import EvaluationService, jobs_blueprint
from nl2sql.inference import FakeChatModel
from nl2sql.settings import EngineSettings


def _service(shop, model=None) -> EvaluationService:
    answers = shop.service(model or FakeChatModel(["SELECT 1"]), generators="reader,golden,model_sql",
                           model_when="fallback", repair_attempts=0)
    return EvaluationService(shop.sessions, shop.catalog, answers, shop.auth)


async def test_a_regression_reasks_each_golden_question_without_its_query(shop):
    service = _service(shop)
    with pytest.raises(ConflictError, match="no golden queries"):
        await service.start_regression(shop.admin, "shop")
    for question, sql in (("How many orders are there?", "SELECT COUNT(*) FROM orders"),
                          ("How many orders per status?", "SELECT status, COUNT(*) FROM orders GROUP BY status"),
                          ("What is the magic number of orders?", "SELECT COUNT(*) * 7 FROM orders")):
        golden = await shop.catalog.add_golden_query(shop.admin, shop.connection.id, question, sql)
        shop.retriever.golden_scores[golden.id] = 1.0  # each would answer itself through the shortcut

    # an ordinary ask takes the verified shortcut ...
    asked = await service._answers.generate_sql(shop.admin, "What is the magic number of orders?", "shop")
    assert asked.generator == "verified"
    # ... the regression does not
    created = await service.start_regression(shop.admin, "shop")
    assert created.kind == "golden" and created.total == 3
    run = await service.execute(created.id)
    assert run.status == "done" and run.correct == 2
    assert {i.generator for i in run.items} <= {"reader", "model_sql", None}
    assert [f.question for f in run.failures] == ["What is the magic number of orders?"]

    trend = await service.trend()
    assert list(trend) == ["shop"] and [r.correct for r in trend["shop"]] == [2]
    queued = await service.regress_all()
    assert len(queued) == 1 and (await service.get(queued[0])).status == "queued"


def test_the_nightly_schedule_is_a_setting():
    assert "regress" in " ".join(jobs_blueprint("40 2 * * *").tasks)
    assert not any("regress" in t for t in jobs_blueprint("").tasks)
    with pytest.raises(SettingsError, match="cron"):
        EngineSettings(regression_cron="every night")
