"""The answer cache: the same question on the same catalog reuses its chosen SQL (and young rows) without
generating again; a catalog or golden-query change forgets it; the trace says "cached"."""

from __future__ import annotations

import sqlite3

from tests.support import bearer

from .test_ask_api import ORDERS_BY_STATUS, ask


async def test_the_same_question_again_reuses_the_chosen_sql_without_the_model(client, shop_connection, admin_key,
                                                                              script, prompts):
    script.append(ORDERS_BY_STATUS)
    first = (await ask(client, admin_key, "How many orders per status?")).json()
    asked = len(prompts)
    second = await ask(client, admin_key, "  how many orders   per status ")
    assert second.status_code == 200, second.text
    body = second.json()
    assert len(prompts) == asked  # no model call
    assert body["cached_from"] == first["answer_id"] and body["answer_id"] != first["answer_id"]
    assert body["sql"] == first["sql"] and sorted(body["rows"]) == sorted(first["rows"])
    assert body["timings"]["run_ms"] == 0.0  # the rows were young enough to reuse
    assert first["cached_from"] is None
    trace = (await client.get(f"/api/v1/answers/{body['answer_id']}", headers=bearer(admin_key))).json()
    assert trace["retrieved"]["cached_from"] == first["answer_id"]
    # through /api/v1/sql too
    sql = (await client.post("/api/v1/sql", json={"question": "How many orders per status", "connection": "shop"},
                             headers=bearer(admin_key))).json()
    assert sql["cached_from"] == first["answer_id"] and len(prompts) == asked


async def test_a_catalog_change_forgets_the_cached_answer(client, shop_connection, admin, admin_key, script, prompts):
    script.extend([ORDERS_BY_STATUS, ORDERS_BY_STATUS])
    await ask(client, admin_key, "How many orders per status?")
    asked = len(prompts)
    await client.app.state.catalog.add_instruction(admin, shop_connection.id, "Orders are counted once.", "always")
    again = (await ask(client, admin_key, "How many orders per status?")).json()
    assert again["cached_from"] is None and len(prompts) > asked


async def test_old_rows_are_run_again(client, shop_connection, admin_key, script, tmp_path):
    from dataclasses import replace

    ask_service = client.app.state.ask
    ask_service.settings = replace(ask_service.settings, result_max_age_s=0)
    script.append(ORDERS_BY_STATUS)
    first = (await ask(client, admin_key, "How many orders per status?")).json()
    with sqlite3.connect(tmp_path / "api_shop.db") as conn:
        conn.execute("INSERT INTO orders (customer_id, status, amount) VALUES (1, 'returned', 5)")
    again = (await ask(client, admin_key, "How many orders per status?")).json()
    assert again["cached_from"] == first["answer_id"]
    assert ["returned", 1] in again["rows"] and ["returned", 1] not in first["rows"]


async def test_a_golden_query_change_forgets_the_cached_answer(client, shop_connection, admin, admin_key, script,
                                                              prompts):
    script.extend([ORDERS_BY_STATUS, ORDERS_BY_STATUS])
    await ask(client, admin_key, "How many orders per status?")
    asked = len(prompts)
    await client.app.state.catalog.add_golden_query(admin, shop_connection.id, "How many customers are there?",
                                                    "SELECT COUNT(*) FROM customers")
    again = (await ask(client, admin_key, "How many orders per status?")).json()
    assert again["cached_from"] is None and len(prompts) > asked
