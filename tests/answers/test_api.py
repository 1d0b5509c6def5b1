"""POST /api/v1/sql: API-key auth, grants, problem details for bad input, refusals and a busy model."""

from __future__ import annotations

from nl2sql.errors import BusyError
from tests.support import bearer

from .conftest import GOOD_SQL


async def ask(client, key: str, question: str = "How many orders are there?", connection: str = "shop"):
    return await client.post("/api/v1/sql", json={"question": question, "connection": connection}, headers=bearer(key))


async def test_answers_with_checked_sql_attempts_retrieved_items_and_timings(client, shop_connection, admin_key):
    response = await ask(client, admin_key)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sql"].startswith(GOOD_SQL) and "LIMIT" in body["sql"]
    assert body["verified"] is False and body["connection"] == "shop"
    [attempt] = body["attempts"]
    assert attempt["kind"] == "generate" and attempt["error"] is None and attempt["prompt_id"]
    tables = {t["name"]: t for t in body["retrieved"]["tables"]}
    assert "orders" in tables and isinstance(tables["orders"]["score"], float)
    assert set(body["retrieved"]) >= {"tables", "instructions", "golden_queries"}
    assert {"retrieve_ms", "generate_ms", "total_ms"} <= set(body["timings"])


async def test_repaired_answer_lists_every_attempt(client, shop_connection, admin_key, script):
    script.append("SELECT nope FROM orders")
    body = (await ask(client, admin_key)).json()
    assert [a["error_kind"] for a in body["attempts"]] == ["database", None]


async def test_sql_that_stays_refused_is_422_with_the_reason_and_attempts(client, shop_connection, admin_key, script):
    script.extend(["DELETE FROM orders"] * 3)
    response = await ask(client, admin_key)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "DELETE statements are not allowed" in problem["detail"]
    # the same refusal twice ends the repairs: a third try would repeat it
    assert len(problem["attempts"]) == 2 and problem["attempts"][0]["sql"] == "DELETE FROM orders"


async def test_empty_question_is_400_with_a_reason(client, shop_connection, admin_key):
    response = await ask(client, admin_key, question="  ")
    assert response.status_code == 400 and "question is empty" in response.json()["detail"]


async def test_missing_field_is_400(client, shop_connection, admin_key):
    response = await client.post("/api/v1/sql", json={"question": "How many?"}, headers=bearer(admin_key))
    assert response.status_code == 400


async def test_unknown_connection_is_404(client, shop_connection, admin_key):
    response = await ask(client, admin_key, connection="nowhere")
    assert response.status_code == 404 and "nowhere" in response.json()["detail"]


async def test_analyst_needs_a_grant(client, shop_connection, admin, analyst, analyst_key):
    denied = await ask(client, analyst_key)
    assert denied.status_code == 404  # like the catalog API: no grant, no connection by that name

    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    granted = await ask(client, analyst_key)
    assert granted.status_code == 200 and granted.json()["sql"].startswith(GOOD_SQL)


async def test_without_an_api_key_it_is_401(client, shop_connection):
    response = await client.post("/api/v1/sql", json={"question": "How many?", "connection": "shop"})
    assert response.status_code == 401


async def test_busy_model_is_503_with_retry_after(client, shop_connection, admin_key, script):
    script.append(BusyError("the model is busy: 8 requests are waiting", retry_after=9))
    response = await ask(client, admin_key)
    assert response.status_code == 503 and response.headers["retry-after"] == "9"


async def test_a_question_the_busy_model_could_not_answer_is_still_in_history(client, shop_connection, admin_key,
                                                                              script):
    from nl2sql.inference import InferenceTimeout

    script.append(InferenceTimeout("the model did not finish within 120 s; the request was cancelled"))
    response = await client.post("/api/v1/ask", json={"question": "Which zebra sold the most?", "connection": "shop"},
                                 headers=bearer(admin_key))
    assert response.status_code == 504, response.text
    answer_id = response.json()["answer_id"]
    entry = (await client.get(f"/api/v1/answers/{answer_id}", headers=bearer(admin_key))).json()
    assert entry["question"] == "Which zebra sold the most?" and entry["status"] == "no SQL", entry
    assert "did not finish within 120 s" in entry["error"]
    listed = (await client.get("/api/v1/answers", headers=bearer(admin_key))).json()
    assert answer_id in [i["id"] for i in (listed["items"] if isinstance(listed, dict) else listed)]
