"""POST /api/v1/ask, GET /api/v1/answers[/{id}[/csv]], POST /api/v1/answers/{id}/feedback: results, threads, grants."""

from __future__ import annotations

import csv
import io

from tests.support import bearer

ORDERS_BY_STATUS = "SELECT status, COUNT(*) AS orders FROM orders GROUP BY status ORDER BY orders DESC"


async def ask(client, key: str, question: str = "How many orders per status?", connection: str = "shop", **extra):
    body = {"question": question, "connection": connection} | extra
    return await client.post("/api/v1/ask", json=body, headers=bearer(key))


async def test_ask_returns_sql_trust_typed_columns_rows_chart_and_ids(client, shop_connection, admin_key, script):
    script.append(ORDERS_BY_STATUS)
    response = await ask(client, admin_key)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sql"].startswith(ORDERS_BY_STATUS) and body["answer_id"] > 0 and body["thread_id"] > 0
    assert body["trust"]["kind"] == "generated" and body["trust"]["label"] == "generated"
    assert body["columns"] == [{"name": "status", "type": "text"}, {"name": "orders", "type": "integer"}]
    assert sorted(body["rows"]) == [["new", 15], ["shipped", 15]]
    assert body["row_count"] == 2 and body["truncated"] is False and body["row_cap"] == 1000
    assert body["chart"]["kind"] == "bar" and body["chart"]["spec"]["mark"]
    assert "table" in body["chart"]["alternatives"]
    assert {"generate_ms", "run_ms", "chart_ms", "total_ms"} <= set(body["timings"])


async def test_max_rows_keeps_that_many_and_says_truncated(client, shop_connection, admin_key, script):
    script.append("SELECT id, amount FROM orders ORDER BY id")
    body = (await ask(client, admin_key, "List the orders", max_rows=5)).json()
    assert [r[0] for r in body["rows"]] == [1, 2, 3, 4, 5] and body["truncated"] is True and body["row_cap"] == 5


async def test_max_rows_above_the_row_cap_is_400(client, shop_connection, admin_key):
    response = await ask(client, admin_key, max_rows=5000)
    assert response.status_code == 400 and "max_rows" in response.json()["detail"]


async def test_follow_up_in_a_thread_sends_the_previous_question_and_sql(client, shop_connection, admin_key, script, prompts):
    script.append(ORDERS_BY_STATUS)
    first = (await ask(client, admin_key)).json()
    script.append("SELECT status, COUNT(*) AS orders FROM orders WHERE amount > 100 GROUP BY status")
    second = (await ask(client, admin_key, "only for amounts above 100", thread_id=first["thread_id"])).json()

    assert second["thread_id"] == first["thread_id"] and second["answer_id"] != first["answer_id"]
    assert "How many orders per status?" in prompts[-1] and "GROUP BY status" in prompts[-1]
    third = (await ask(client, admin_key, "How many customers?")).json()
    assert third["thread_id"] != first["thread_id"]  # no thread_id: a new thread
    assert "only for amounts above 100" not in prompts[-1]


async def test_someone_elses_thread_is_404(client, shop_connection, admin, analyst, admin_key, analyst_key, script):
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    first = (await ask(client, admin_key)).json()
    response = await ask(client, analyst_key, "and by state?", thread_id=first["thread_id"])
    assert response.status_code == 404


async def test_sql_never_generated_is_422_recorded_in_history_as_no_sql(client, shop_connection, admin_key, script):
    script.extend(["DELETE FROM orders"] * 3)
    response = await ask(client, admin_key)
    assert response.status_code == 422 and response.json()["thread_id"] > 0

    history = (await client.get("/api/v1/answers", headers=bearer(admin_key))).json()
    assert history["total"] == 1 and history["items"][0]["status"] == "no SQL"


async def test_history_is_your_own_and_admins_see_everyones_filtered(
    client, shop_connection, admin, analyst, admin_key, analyst_key, script
):
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    await ask(client, admin_key, "admin question on orders")
    await ask(client, analyst_key, "analyst question on orders")

    mine = (await client.get("/api/v1/answers", headers=bearer(analyst_key))).json()
    assert [i["question"] for i in mine["items"]] == ["analyst question on orders"]
    everyone = (await client.get("/api/v1/answers", headers=bearer(admin_key))).json()
    assert [i["question"] for i in everyone["items"]] == ["analyst question on orders", "admin question on orders"]
    filtered = (await client.get(f"/api/v1/answers?user_id={analyst.id}&status=ok", headers=bearer(admin_key))).json()
    assert [i["question"] for i in filtered["items"]] == ["analyst question on orders"]
    item = everyone["items"][0]
    assert item["row_count"] == 1 and item["columns"] and item["sql"]
    paged = (await client.get("/api/v1/answers?per_page=1&page=2", headers=bearer(admin_key))).json()
    assert paged["total"] == 2 and [i["question"] for i in paged["items"]] == ["admin question on orders"]


async def test_an_analyst_cannot_read_anothers_answer_trace_csv_or_give_feedback(
    client, shop_connection, admin, analyst, admin_key, analyst_key
):
    answer_id = (await ask(client, admin_key)).json()["answer_id"]
    for path in (f"/api/v1/answers/{answer_id}", f"/api/v1/answers/{answer_id}/csv"):
        assert (await client.get(path, headers=bearer(analyst_key))).status_code == 404
    response = await client.post(f"/api/v1/answers/{answer_id}/feedback", json={"rating": "up"},
                                 headers=bearer(analyst_key))
    assert response.status_code == 404


async def test_answer_trace_has_attempts_retrieved_items_and_timings(client, shop_connection, admin_key, script):
    script.append(ORDERS_BY_STATUS)
    answer_id = (await ask(client, admin_key)).json()["answer_id"]
    trace = (await client.get(f"/api/v1/answers/{answer_id}", headers=bearer(admin_key))).json()
    assert trace["question"] == "How many orders per status?" and trace["status"] == "ok"
    assert trace["attempts"][0]["raw_output"] == ORDERS_BY_STATUS
    assert any(t["name"] == "orders" for t in trace["retrieved"]["tables"]) and "total_ms" in trace["timings"]


async def test_csv_download_has_the_header_and_every_row(client, shop_connection, admin_key, script):
    script.append("SELECT id, amount FROM orders ORDER BY id")
    answer_id = (await ask(client, admin_key, "List the orders", max_rows=3)).json()["answer_id"]
    response = await client.get(f"/api/v1/answers/{answer_id}/csv", headers=bearer(admin_key))

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert f"answer-{answer_id}.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "amount"] and len(rows) == 31 and rows[1] == ["1", "10.0"]


async def test_feedback_is_recorded_and_replaced_and_a_bad_rating_is_400(client, shop_connection, admin_key):
    answer_id = (await ask(client, admin_key)).json()["answer_id"]
    path = f"/api/v1/answers/{answer_id}/feedback"
    first = await client.post(path, json={"rating": "down", "comment": "wrong"}, headers=bearer(admin_key))
    assert first.status_code == 200 and first.json()["rating"] == "down" and first.json()["state"] == "open"
    second = await client.post(path, json={"rating": "up"}, headers=bearer(admin_key))
    assert second.json()["id"] == first.json()["id"] and second.json()["rating"] == "up"
    bad = await client.post(path, json={"rating": "meh"}, headers=bearer(admin_key))
    assert bad.status_code == 400
    missing = await client.post("/api/v1/answers/999999/feedback", json={"rating": "up"}, headers=bearer(admin_key))
    assert missing.status_code == 404


async def test_ask_without_a_grant_is_404_and_without_a_key_401(client, shop_connection, analyst_key):
    assert (await ask(client, analyst_key)).status_code == 404
    response = await client.post("/api/v1/ask", json={"question": "q", "connection": "shop"})
    assert response.status_code == 401


async def test_feedback_ratio_shows_in_usage(client, shop_connection, admin_key):
    before = (await client.get("/api/v1/usage", headers=bearer(admin_key))).json()["summary"]
    assert before["feedback"] == "no feedback in this period"
    for rating in ("up", "up", "down"):
        answer_id = (await ask(client, admin_key)).json()["answer_id"]
        await client.post(f"/api/v1/answers/{answer_id}/feedback", json={"rating": rating}, headers=bearer(admin_key))
    summary = (await client.get("/api/v1/usage", headers=bearer(admin_key))).json()["summary"]
    assert (summary["feedback_up"], summary["feedback_down"]) == (2, 1)
    assert summary["feedback"] == "2 up, 1 down (67% positive)"


async def test_a_revoked_grant_hides_the_analysts_stored_and_cached_answers_at_once(
    client, shop_connection, admin, analyst, analyst_key, script
):
    from tests.support import ANALYST_PASSWORD, login

    catalog = client.app.state.catalog
    await catalog.set_grants(admin, "shop", [analyst.id])
    script.append(ORDERS_BY_STATUS)
    first = (await ask(client, analyst_key)).json()
    answer_id, thread_id = first["answer_id"], first["thread_id"]
    await login(client, analyst.email, ANALYST_PASSWORD)
    readable = [f"/api/v1/answers/{answer_id}", f"/api/v1/answers/{answer_id}/csv", f"/ask?answer={answer_id}",
                f"/answers/{answer_id}/rows", f"/answers/{answer_id}/csv", f"/ask?thread={thread_id}"]
    for path in readable:  # granted: the result is there (from the cache)
        response = await client.get(path, headers=bearer(analyst_key) if path.startswith("/api/") else {})
        assert response.status_code == 200, (path, response.status_code)

    await catalog.set_grants(admin, "shop", [])
    for path in readable:
        response = await client.get(path, headers=bearer(analyst_key) if path.startswith("/api/") else {})
        assert response.status_code == 403, (path, response.status_code)
        assert "no longer have access" in response.text and "shipped" not in response.text, path
    followup = await ask(client, analyst_key, "and only new ones?", thread_id=thread_id)
    assert followup.status_code in (403, 404)
    feedback = await client.post(f"/api/v1/answers/{answer_id}/feedback", json={"rating": "up"}, headers=bearer(analyst_key))
    assert feedback.status_code == 403

    await catalog.set_grants(admin, "shop", [analyst.id])  # granted again: readable again
    assert (await client.get(f"/api/v1/answers/{answer_id}", headers=bearer(analyst_key))).status_code == 200
