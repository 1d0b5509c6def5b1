"""Evaluation runs through the real engine on a fixture connection: parsing, judging with reasons, progress,
per-category and per-generator figures, cancelling, comparing two runs."""

from __future__ import annotations

import pytest

from nl2sql.errors import ValidationFailed
from nl2sql.evaluation import EvaluationService, parse_questions
from nl2sql.inference import FakeChatModel

CSV = """question,query,query_category,instructions,db_name
How many orders are there?,SELECT COUNT(*) FROM orders,count,,shop
How many customers are there?,SELECT COUNT(*) FROM customers;SELECT COUNT(id) FROM customers,count,,shop
How many orders per status?,"SELECT status, COUNT(*) FROM orders GROUP BY status",group_by,,shop
What is the total amount of orders?,SELECT SUM(amount) FROM orders,sum,,shop
Which customers live in TX?,SELECT name FROM customers WHERE state = 'TX',filter,,other
"""


def test_the_question_file_is_read_like_sqleval_s():
    questions = parse_questions(CSV, db_name="shop")
    assert len(questions) == 4 and questions[2].category == "group_by"
    assert questions[1].gold_sql.count(";") == 1
    assert len(parse_questions(CSV)) == 5
    with pytest.raises(ValidationFailed, match="gold SQL column"):
        parse_questions("question,answer\nx,y\n")
    with pytest.raises(ValidationFailed, match="line 2"):
        parse_questions("question,query\nx,\n")
    with pytest.raises(ValidationFailed, match="empty"):
        parse_questions("  ")
    with pytest.raises(ValidationFailed, match="could not be read"):
        parse_questions("\U000abe1a\r\U0004afc0i")  # a carriage return inside the header (found by the API fuzz)


def _service(shop, model=None, **engine) -> EvaluationService:
    answers = shop.service(model or FakeChatModel(["SELECT 1"]),
                           **({"generators": "reader", "model_when": "never"} | engine))
    return EvaluationService(shop.sessions, shop.catalog, answers, shop.auth)


async def test_a_run_answers_judges_and_explains_each_question(shop):
    service = _service(shop)
    questions = parse_questions(CSV, db_name="shop")
    # a gold that is wrong on purpose: the reader's right answer is then judged a failure, with the reason
    questions.append(type(questions[0])("How many orders are there in all?", "SELECT COUNT(*) + 1 FROM orders",
                                        "count", None))
    created = await service.create(shop.admin, "shop", questions, name="smoke")
    assert (created.status, created.total, created.done) == ("queued", 5, 0)
    seen = []
    done = await service.execute(created.id, progress=lambda r: seen.append((r.done, r.correct)))

    assert done.status == "done" and done.done == 5
    assert seen[0][0] == 1 and seen[-1][0] == 5  # progress after every question
    assert done.correct == 4 and done.exact + done.subset == 4
    failed = done.failures
    assert [f.question for f in failed] == ["How many orders are there in all?"]
    assert failed[0].reason == "different values (or order, where the question asks for one)"
    assert failed[0].predicted_sql and failed[0].explanation == "number of orders" and failed[0].answer_id
    categories = {g.name: (g.correct, g.total) for g in done.per_category}
    assert categories == {"count": (2, 3), "group_by": (1, 1), "sum": (1, 1)}
    assert {g.name for g in done.per_generator} == {"reader"}
    body = done.to_json()
    assert body["accuracy"] == 0.8 and len(body["items"]) == 5


async def test_gold_or_predicted_sql_that_fails_is_reported_not_raised(shop):
    service = _service(shop)
    questions = parse_questions("question,query\nHow many orders are there?,SELECT nope FROM orders\n"
                                "Xyzzy plugh?,SELECT COUNT(*) FROM orders\n")
    run = await service.execute((await service.create(shop.admin, "shop", questions, name="broken")).id)
    assert run.status == "done" and run.correct == 0
    reasons = [i.reason for i in run.items]
    assert reasons[0].startswith("the gold SQL failed")
    assert reasons[1].startswith("no SQL") or reasons[1].startswith("No valid SQL")


async def test_two_runs_compare_question_by_question(shop):
    questions = parse_questions(CSV, db_name="shop")
    reader = _service(shop)
    before = await reader.execute((await reader.create(shop.admin, "shop", questions, name="reader")).id)
    wrong_model = _service(shop, FakeChatModel(["SELECT COUNT(*) FROM customers WHERE state = 'CA'"]),
                           generators="model_sql", model_when="always", repair_attempts=0)
    after = await wrong_model.execute((await wrong_model.create(shop.admin, "shop", questions, name="model")).id)
    comparison = await reader.compare(before.id, after.id)
    assert before.correct == 4 and after.correct == 0
    assert len(comparison.broken) == 4 and comparison.fixed == [] and comparison.unchanged == 0
    back = await reader.compare(after.id, before.id)
    assert len(back.fixed) == 4
    assert {g.name for g in after.per_generator} == {"model_sql"}


async def test_a_cancelled_run_stops_and_a_limit_caps_it(shop):
    service = _service(shop)
    created = await service.create(shop.admin, "shop", parse_questions(CSV, db_name="shop"), name="c", limit=2)
    assert created.total == 2
    await service.cancel(created.id)
    stopped = await service.execute(created.id)
    assert stopped.status == "cancelled" and stopped.done == 0
    with pytest.raises(ValidationFailed):
        await service.create(shop.admin, "shop", parse_questions(CSV), name="c", limit=0)
