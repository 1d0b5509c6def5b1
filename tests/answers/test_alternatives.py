""""Did you mean": close runner-up readings are offered, and one click answers with that reading (no model)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.support import ADMIN_PASSWORD, bearer, form_post, login

from .test_answer_cache import ask
from .test_trust_labels import record

WINNER = {"generator": "reader", "sql": "SELECT COUNT(*) FROM orders", "explanation": "number of orders",
          "rows": 1, "score": 0.8, "chosen": True, "fingerprint": "f1"}


def runner_up(**fields):
    return {"generator": "reader", "sql": "SELECT COUNT(DISTINCT customer_id) FROM orders",
            "explanation": "number of customers with orders", "rows": 1, "score": 0.72, "chosen": False} | fields


def test_close_runners_up_that_ran_are_offered_best_first():
    candidates = [WINNER, runner_up(), runner_up(score=0.75, sql="SELECT 2", explanation="b"),
                  runner_up(score=0.4, sql="SELECT 3", explanation="too far"),
                  runner_up(rows=0, sql="SELECT 4", explanation="no rows"),
                  runner_up(error="refused", sql="SELECT 5", explanation="refused"),
                  runner_up(sql=WINNER["sql"], explanation="same SQL"),
                  runner_up(sql="SELECT 6", explanation="same rows", fingerprint="f1")]
    assert record(candidates=candidates).alternatives == [(2, "b"), (1, "number of customers with orders")]
    assert record(candidates=candidates, source="edit").alternatives == []
    assert record(candidates=[runner_up()]).alternatives == []  # nothing chosen: nothing to compare with


async def test_choosing_an_alternative_answers_with_that_reading(client, shop_connection, admin, admin_key, settings,
                                                              prompts):
    first = (await ask(client, admin_key, "How many orders?")).json()
    engine = sa.create_engine(settings.database.url)
    with engine.begin() as conn:  # as if the reader had offered a close second reading
        conn.execute(sa.text("UPDATE answers SET candidates = CAST(:c AS jsonb) WHERE id = :i"),
                     {"c": __import__("json").dumps([WINNER, runner_up()]), "i": first["answer_id"]})
    engine.dispose()
    offered = (await client.get(f"/api/v1/answers/{first['answer_id']}", headers=bearer(admin_key))).json()
    assert offered["candidates"][1]["explanation"] == "number of customers with orders"
    asked = len(prompts)
    picked = await client.post(f"/api/v1/answers/{first['answer_id']}/alternatives/1", headers=bearer(admin_key))
    assert picked.status_code == 200, picked.text
    body = picked.json()
    assert body["sql"].startswith("SELECT COUNT(DISTINCT customer_id) FROM orders") and body["generator"] == "reader"
    assert body["plan"] is None or body["plan"]["line"] == "number of customers with orders"
    assert body["question"] == "How many orders?" and len(prompts) == asked
    assert (await client.post(f"/api/v1/answers/{first['answer_id']}/alternatives/0",
                              headers=bearer(admin_key))).status_code == 404  # the winner is no alternative
    # on the page: the link, then the answer in its place
    await login(client, admin.email, ADMIN_PASSWORD)
    page = await client.get(f"/ask?answer={first['answer_id']}")
    assert "Did you mean:" in page.text and "number of customers with orders" in page.text
    clicked = await form_post(client, f"/answers/{first['answer_id']}/alternatives/1", {}, page="/ask", htmx=True)
    assert clicked.status_code == 200 and re.search(r'data-answer-id="(\d+)"', clicked.text)
